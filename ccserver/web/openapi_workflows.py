"""OpenAPI paths of the workflow, report and channel APIs (complaints, follow-ups,
surveys, privacy, segmentation, KPIs, UI options, forms, chat lines, email replies); their
schemas are in :mod:`ccserver.web.openapi_workflow_schemas`. The conformance test
(``tests/integration/test_api_openapi.py``) checks these against the app's router and
validates real answers against them.
"""

from __future__ import annotations

from typing import Any

from ccserver.web.openapi_schemas import BOOL, STR, TIME, Schema, ref
from ccserver.web.openapi_spec import op
from ccserver.web.openapi_workflow_schemas import workflow_schemas

__all__ = ["channel_paths", "workflow_paths", "workflow_schemas"]

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _enum_path(name: str, values: list[str]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"enum": values}}


def _extra(operation: dict[str, Any], *params: dict[str, Any]) -> dict[str, Any]:
    operation.setdefault("parameters", []).extend(params)
    return operation


def _also(operation: dict[str, Any], status: str, schema: str, text: str) -> dict[str, Any]:
    operation["responses"][status] = {
        "description": text,
        "content": {"application/json": {"schema": ref(schema)}},
    }
    return operation


PAGING = ("limit", "offset")
TAG = "workflows"


def workflow_paths() -> dict[str, Any]:
    from ccserver.crm.services.complaints import ACTIONS
    from ccserver.web.routes_workflows import (
        COMPLAINT_STATUSES,
        COMPLAINTS,
        FOLLOWUP_ACTIONS,
        FOLLOWUP_STATUSES,
        FOLLOWUPS,
    )

    def q(name: str, schema: Schema, text: str) -> dict[str, Any]:
        return _query(name, schema, text)

    status_c = q("status", {"enum": sorted(COMPLAINT_STATUSES)}, "Only complaints in this state")
    status_f = q("status", {"enum": sorted(FOLLOWUP_STATUSES)}, "Only follow-ups in this state")
    bad = ("400", "404", "409", "413", "422")
    return {
        COMPLAINTS: {
            "get": _extra(
                op(
                    "List complaints",
                    ("200", "ComplaintList"),
                    errors=("400",),
                    params=("customer_id", *PAGING),
                    tag=TAG,
                ),
                status_c,
                q("owner", STR, "Only this owner's"),
                q("overdue", BOOL, "Only those past their SLA"),
            ),
            "post": op(
                "File a complaint (taxonomy and severity from crm.toml)",
                ("201", "Complaint"),
                errors=bad,
                body="ComplaintIn",
                tag=TAG,
            ),
        },
        COMPLAINTS + "/{id}": {
            "get": op("Read a complaint", ("200", "Complaint"), errors=("404",), tag=TAG)
        },
        COMPLAINTS + "/{id}/{action}": {
            "post": op(
                "A life-cycle step; close needs the PDCA review; resolve may plan a follow-up",
                ("200", "ComplaintStep"),
                errors=bad,
                body="ComplaintStepIn",
                tag=TAG,
            ),
            "parameters": [_enum_path("action", list(ACTIONS))],
        },
        FOLLOWUPS: {
            "get": _extra(
                op(
                    "List follow-ups",
                    ("200", "FollowUpList"),
                    errors=("400",),
                    params=("customer_id", *PAGING),
                    tag=TAG,
                ),
                status_f,
                q("due", BOOL, "Only those whose time has come"),
                q("due_before", TIME, "Planned before this time"),
                q("questioner_id", STR, "Only this questioner's"),
                q("complaint_id", STR, "Only this complaint's"),
            ),
            "post": op(
                "Plan a follow-up (consent checked)",
                ("201", "FollowUp"),
                errors=bad,
                body="FollowUpIn",
                tag=TAG,
            ),
        },
        FOLLOWUPS + "/bulk": {
            "post": op(
                "Plan follow-ups for a customer segment (supervisor)",
                ("201", "BulkFollowUpResult"),
                errors=bad,
                body="BulkFollowUpIn",
                tag=TAG,
            )
        },
        FOLLOWUPS + "/{id}": {
            "get": op("Read a follow-up", ("200", "FollowUp"), errors=("404",), tag=TAG)
        },
        FOLLOWUPS + "/{id}/{action}": {
            "post": op(
                "Start, record answers, complete, no answer, cancel",
                ("200", "FollowUp"),
                errors=bad,
                body="FollowUpStepIn",
                tag=TAG,
            ),
            "parameters": [_enum_path("action", list(FOLLOWUP_ACTIONS))],
        },
        "/api/v1/surveys/responses": {
            "post": op(
                "Record a survey answer; a detractor gets a follow-up",
                ("201", "SurveyResult"),
                errors=bad,
                body="SurveyIn",
                tag=TAG,
            )
        },
        "/api/v1/surveys/csi": {
            "get": _extra(
                op(
                    "CSAT, NPS, CES and the weighted CSI",
                    ("200", "Csi"),
                    errors=("400",),
                    params=("agent_id", "queue"),
                    tag=TAG,
                ),
                q("since", TIME, "Answered at or after"),
                q("until", TIME, "Answered before"),
            )
        },
        "/api/v1/surveys/public/{token}": {
            "post": op(
                "A customer's answer through the e-mailed link (the token authorises)",
                ("201", "SurveyThanks"),
                errors=("400", "404", "409", "413", "422"),
                body="SurveyAnswersIn",
                public=True,
                tag=TAG,
            )
        },
        "/api/v1/privacy/customers/{id}/export": {
            "get": op(
                "Data-subject export (admin)",
                ("200", "CustomerExport"),
                errors=("404",),
                tag="privacy",
            )
        },
        "/api/v1/privacy/customers/{id}/erase": {
            "post": op(
                "Erase (anonymise) a customer, keeping statistics (admin)",
                ("200", "Erased"),
                errors=("404", "409"),
                tag="privacy",
            )
        },
        "/api/v1/segmentation/recompute": {
            "post": op(
                "Recompute RFM, tier, stage and value now (supervisor)",
                ("200", "SegmentationResult"),
                tag=TAG,
            )
        },
        "/api/v1/reports/kpis": {"get": _kpis()},
    }


def _kpis() -> dict[str, Any]:
    out = op(
        "KPIs by day/week/month and queue/agent/channel/segment",
        ("200", "KpiReport"),
        errors=("400",),
        tag="reports",
    )
    out["responses"]["200"]["content"].update(
        {CSV: {"schema": STR}, XLSX: {"schema": {"type": "string", "format": "binary"}}}
    )
    return _extra(
        out,
        _query("by", STR, "Comma-separated: day|week|month, queue, agent, channel, segment"),
        _query("since", TIME, "From (default: 92 days before until)"),
        _query("until", TIME, "Until (default: now)"),
        _query("format", {"enum": ["json", "csv", "xlsx"]}, "Answer format"),
    )


def channel_paths() -> dict[str, Any]:
    i = "/api/v1/interactions/{id}"
    sup = "/api/v1/supervisor/interactions/{id}"
    live = ("404", "409", "422")
    form = op(
        "Submit a contact, complaint or callback form (no login; limited per client IP)",
        ("201", "FormAccepted"),
        errors=("400", "404", "413", "422", "429"),
        body="FormInput",
        public=True,
        tag="channels",
    )
    _also(form, "202", "FormAccepted", "Received (no case yet)")
    chat = op(
        "Send a chat line (or typing: true alone)",
        ("201", "ChatLine"),
        errors=live,
        body="ChatBody",
        tag="console",
    )
    _also(chat, "200", "Ok", "Typing notice sent")
    return {
        "/api/v1/ui/crm-options": {
            "get": op(
                "Complaint taxonomy, severities, validity values, follow-up channels (for selects)",
                ("200", "CrmOptions"),
                tag="ui",
            )
        },
        "/api/v1/forms/{kind}": {
            "post": form,
            "parameters": [_enum_path("kind", ["contact", "complaint", "callback"])],
        },
        f"{i}/chat": {"post": chat},
        f"{i}/email-reply": {
            "post": op(
                "Reply to the email being handled (body and/or template)",
                ("202", "EmailQueued"),
                errors=live,
                body="EmailReplyBody",
                tag="console",
            )
        },
        f"{sup}/whisper": {
            "post": op(
                "Whisper to the agent of a chat",
                ("201", "Ok"),
                errors=live,
                body="WhisperBody",
                tag="supervisor",
            )
        },
        f"{sup}/chat": {
            "get": op(
                "A chat so far (then follow bus topic interaction.<id>)",
                ("200", "ChatWatch"),
                errors=("404",),
                tag="supervisor",
            )
        },
    }
