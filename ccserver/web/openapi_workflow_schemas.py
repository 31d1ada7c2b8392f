"""JSON schemas of the workflow, report and channel answers and bodies (used by
:mod:`ccserver.web.openapi_workflows`).

Record answers are derived from the ORM models (every column, with its nullability), so a
column added by a migration shows up here without a second list to keep in step; request
bodies come from the handlers' own pydantic models.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Boolean, Integer, Numeric
from sqlalchemy.orm import DeclarativeBase

from ccserver.crm.models import Complaint, FollowUp, SurveyResponse
from ccserver.web.openapi_schemas import (
    BOOL,
    INT,
    OBJ,
    STR,
    TIME,
    Schema,
    array,
    null,
    ref,
    strict,
)

NUM: Schema = {"type": "number"}


def column_schema(model: type[DeclarativeBase], key: str) -> Schema:
    """The JSON schema of one column as :func:`ccserver.crm.services.common.row_json`
    renders it (times ISO 8601, decimals as strings, JSON columns as stored)."""
    col = model.__table__.columns[key]
    kind = col.type
    schema: Schema
    if isinstance(kind, JSON):
        annotation = str(model.__annotations__.get(key, ""))
        schema = array({}) if "list[" in annotation else OBJ
    elif isinstance(kind, Boolean):
        schema = BOOL
    elif isinstance(kind, Integer):
        schema = INT
    elif isinstance(kind, Numeric):
        schema = {"type": "string", "description": "decimal amount"}
    elif getattr(kind, "python_type", None) is not None and _is_time(kind):
        schema = TIME
    else:
        schema = STR
    return null(schema) if col.nullable else schema


def _is_time(kind: Any) -> bool:
    try:
        return bool(kind.python_type is dt.datetime)
    except NotImplementedError:  # SQLAlchemy types without a Python type (e.g. NullType)
        return False


def row_props(model: type[DeclarativeBase]) -> dict[str, Schema]:
    table = model.__table__
    return {col.key: column_schema(model, col.key) for col in table.columns}


def body_schemas(*models: type[BaseModel]) -> dict[str, Schema]:
    """Request-body schemas of pydantic models, with nested models as components."""
    out: dict[str, Schema] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def _items(item: str) -> Schema:
    return strict({"items": array(ref(item)), "limit": INT, "offset": INT})


OK = strict({"ok": BOOL})


def record_schemas() -> dict[str, Schema]:
    return {
        "Complaint": strict({**row_props(Complaint), "overdue": BOOL}),
        "ComplaintStep": strict(
            {**row_props(Complaint), "overdue": BOOL, "follow_up": null(ref("FollowUp"))}
        ),
        "ComplaintList": _items("Complaint"),
        "FollowUp": strict(row_props(FollowUp)),
        "FollowUpList": _items("FollowUp"),
        "BulkFollowUpResult": strict(
            {
                "planned": INT,
                "follow_up_ids": array(STR),
                "skipped": array(strict({"customer_id": STR, "reason": STR})),
            }
        ),
        "SurveyResult": strict(
            {
                **row_props(SurveyResponse),
                "ratings": {"type": "object", "additionalProperties": INT},
                "follow_up": null(ref("FollowUp")),
            }
        ),
        "SurveyThanks": strict({"id": STR, "thanks": BOOL}),
        "Csi": strict(
            {
                "responses": INT,
                **{k: null(NUM) for k in ("csat_percent", "csat_mean", "nps", "ces_mean", "csi")},
                "weights": {"type": "object", "additionalProperties": NUM},
            }
        ),
        "CustomerExport": {
            "type": "object",
            "description": "every record linked to the customer, by table",
            "required": ["customer"],
        },
        "Erased": strict({"id": STR, "erased": BOOL, "files_removed": INT}),
        "SegmentationResult": strict({"customers": INT, "changed": INT}),
        "KpiReport": strict(
            {
                "by": array(STR),
                "since": null(TIME),
                "until": null(TIME),
                "settings": strict(
                    {"service_level_s": NUM, "short_abandon_s": NUM, "fcr_window_days": INT}
                ),
                "rows": array(OBJ),
            }
        ),
        "FormAccepted": {
            "type": "object",
            "properties": {"status": STR, "case_number": STR, "interaction_id": STR},
            "required": ["status"],
            "additionalProperties": False,
        },
        "Ok": OK,
        "ChatLine": {"type": "object", "description": "the line as the customer sees it"},
        "EmailQueued": strict({"message_id": STR, "status": STR}),
        "CrmOptions": strict(
            {
                "categories": {"type": "object", "additionalProperties": array(STR)},
                "severities": array(
                    strict({"name": STR, "sla_hours": NUM, "escalate_to": null(STR)})
                ),
                "validity": array(STR),
                "followup_channels": array(STR),
                "followup_purpose": STR,
            }
        ),
        "ChatWatch": strict(
            {
                "interaction_id": STR,
                "state": STR,
                "agent_id": null(STR),
                "topic": STR,
                "lines": array(OBJ),
            }
        ),
    }


def workflow_schemas() -> dict[str, Schema]:
    from ccserver.channels.chat.routes import ChatBody, EmailReplyBody, WhisperBody
    from ccserver.channels.forms.service import CallbackForm, ComplaintForm, ContactForm
    from ccserver.web import routes_workflows as wf

    bodies = body_schemas(
        wf.ComplaintIn,
        wf.ComplaintStepIn,
        wf.FollowUpIn,
        wf.BulkFollowUpIn,
        wf.FollowUpStepIn,
        wf.SurveyIn,
        wf.SurveyAnswersIn,
        ChatBody,
        EmailReplyBody,
        WhisperBody,
        ContactForm,
        ComplaintForm,
        CallbackForm,
    )
    bodies["FormInput"] = {"oneOf": [ref("ContactForm"), ref("ComplaintForm"), ref("CallbackForm")]}
    return {**bodies, **record_schemas()}
