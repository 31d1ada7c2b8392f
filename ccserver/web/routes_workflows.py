"""REST API of the CRM workflows: complaints, follow-ups, surveys, data-subject requests,
segmentation on demand and the audit log viewer (admins).

Handlers translate HTTP to :mod:`ccserver.crm.services` (which apply the rules, audit and
write in one transaction) and check a permission first. The one anonymous route is the
survey link a customer opens from an email: it is authorised by its HMAC token, which names
the follow-up (and so the customer, agent and complaint) the answer belongs to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ccserver.crm.audit import SYSTEM
from ccserver.crm.rules.surveys import SurveyResponse
from ccserver.crm.services import WorkflowServices
from ccserver.crm.services.complaints import ACTIONS, review_from
from ccserver.crm.services.segmentation_job import recompute_segments
from ccserver.errors import NotFound
from ccserver.runtime.scheduler import check_survey_token, workflows_of
from ccserver.web import api_support as api

COMPLAINTS = "/api/v1/complaints"
FOLLOWUPS = "/api/v1/follow-ups"
FOLLOWUP_ACTIONS = {
    "start": "start",
    "answers": "answer",
    "complete": "complete",
    "no-answer": "no_answer",
    "cancel": "cancel",
}
COMPLAINT_STATUSES = frozenset(
    {"received", "acknowledged", "investigating", "resolved", "customer_feedback", "closed"}
)
FOLLOWUP_STATUSES = frozenset({"planned", "due", "in_progress", "done", "unreachable", "cancelled"})


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ComplaintIn(_In):
    customer_id: str = Field(min_length=1, max_length=36)
    category: str = Field(min_length=1, max_length=32)
    subcategory: str = Field(min_length=1, max_length=32)
    description: str = Field(min_length=1, max_length=10_000)
    severity: str = Field("normal", max_length=16)
    contact_id: str | None = Field(None, max_length=36)
    channel: str | None = Field(None, max_length=16)
    order_ref: str | None = Field(None, max_length=64)
    note: str = Field("", max_length=2000)


class ComplaintStepIn(_In):
    note: str = Field("", max_length=2000)
    validity: str | None = Field(None, max_length=32)
    resolution: str | None = Field(None, max_length=10_000)
    owner_id: str | None = Field(None, max_length=64)
    root_cause: str | None = Field(None, max_length=4000)
    corrective_action: str | None = Field(None, max_length=4000)
    preventive_action: str | None = Field(None, max_length=4000)
    customer_accepted: bool | None = None
    customer_rating: int | None = None


class QuestionIn(_In):
    key: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=500)
    kind: str = Field("text", pattern="^(text|yes_no|scale|choice)$")
    required: bool = True
    low: int = 1
    high: int = 5
    options: list[str] = Field(default_factory=list, max_length=20)


class FollowUpIn(_In):
    customer_id: str = Field(min_length=1, max_length=36)
    purpose: str = Field(min_length=1, max_length=64)
    channel: str = Field("phone", max_length=16)
    scheduled_at: dt.datetime | None = None
    window_end: dt.datetime | None = None
    outline: list[QuestionIn] = Field(default_factory=list, max_length=50)
    questioner_id: str | None = Field(None, max_length=64)
    recorder_id: str | None = Field(None, max_length=64)
    complaint_id: str | None = Field(None, max_length=36)
    contact_id: str | None = Field(None, max_length=36)


class BulkFollowUpIn(_In):
    purpose: str = Field(min_length=1, max_length=64)
    channel: str = Field("phone", max_length=16)
    segment: str | None = Field(None, max_length=40)
    tier: str | None = Field(None, max_length=40)
    delivered_since: dt.datetime | None = None
    delivered_until: dt.datetime | None = None
    delay_hours: float = Field(0.0, ge=0, le=24 * 365)
    window_hours: float | None = Field(None, gt=0, le=24 * 30)
    outline: list[QuestionIn] = Field(default_factory=list, max_length=50)
    questioner_id: str | None = Field(None, max_length=64)


class FollowUpStepIn(_In):
    answers: dict[str, Any] = Field(default_factory=dict)
    outcome: str | None = Field(None, max_length=64)
    note: str = Field("", max_length=2000)


class SurveyAnswersIn(_In):
    csat: int | None = None
    nps: int | None = None
    ces: int | None = None
    text: str | None = None
    ratings: dict[str, int] = Field(default_factory=dict, max_length=20)


class SurveyIn(SurveyAnswersIn):
    customer_id: str | None = Field(None, max_length=36)
    contact_id: str | None = Field(None, max_length=36)
    agent_id: str | None = Field(None, max_length=64)
    queue: str | None = Field(None, max_length=64)
    complaint_id: str | None = Field(None, max_length=36)
    follow_up_id: str | None = Field(None, max_length=36)


def _wf(request: web.Request) -> WorkflowServices:
    from ccserver.app import SERVICES

    return workflows_of(request.app[SERVICES])


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


# --- complaints ----------------------------------------------------------------------------
async def create_complaint(request: web.Request) -> web.Response:
    _p, actor = api.allowed(request, "complaints:write")
    body = await api.body_model(request, ComplaintIn)
    out = await _wf(request).complaints.create(actor=actor, **body.model_dump())
    return web.json_response(out, status=201, headers={"Location": f"{COMPLAINTS}/{out['id']}"})


async def list_complaints(request: web.Request) -> web.Response:
    api.allowed(request, "complaints:read")
    limit, offset = api.page_params(request)
    items = await _wf(request).complaints.search(
        status=api.one_of(request, "status", COMPLAINT_STATUSES),
        owner_id=api.str_param(request, "owner"),
        customer_id=api.str_param(request, "customer_id"),
        overdue=api.bool_param(request, "overdue"),
        limit=limit,
        offset=offset,
    )
    return web.json_response({"items": items, "limit": limit, "offset": offset})


async def get_complaint(request: web.Request) -> web.Response:
    api.allowed(request, "complaints:read")
    return web.json_response(await _wf(request).complaints.get(request.match_info["id"]))


async def complaint_action(request: web.Request) -> web.Response:
    _p, actor = api.allowed(request, "complaints:write")
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise NotFound(f"no complaint action {action!r}", details={"actions": list(ACTIONS)})
    body = await api.body_model(request, ComplaintStepIn)
    out = await _wf(request).complaints.act(
        request.match_info["id"],
        action,
        actor=actor,
        note=body.note,
        validity=body.validity,
        resolution=body.resolution,
        review=review_from(body.model_dump()) if action == "close" else None,
        owner_id=body.owner_id,
    )
    return web.json_response(out)


# --- follow-ups ----------------------------------------------------------------------------
async def create_followup(request: web.Request) -> web.Response:
    _p, actor = api.allowed(request, "followups:write")
    body = await api.body_model(request, FollowUpIn)
    data = body.model_dump()
    data["scheduled_at"], data["window_end"] = _utc(body.scheduled_at), _utc(body.window_end)
    out = await _wf(request).followups.create(actor=actor, **data)
    return web.json_response(out, status=201, headers={"Location": f"{FOLLOWUPS}/{out['id']}"})


async def bulk_followups(request: web.Request) -> web.Response:
    _p, actor = api.allowed(request, "supervise")
    body = await api.body_model(request, BulkFollowUpIn)
    data = body.model_dump()
    data["delivered_since"] = _utc(body.delivered_since)
    data["delivered_until"] = _utc(body.delivered_until)
    out = await _wf(request).followups.bulk_from_segment(actor=actor, **data)
    return web.json_response(out, status=201)


async def list_followups(request: web.Request) -> web.Response:
    api.allowed(request, "followups:read")
    limit, offset = api.page_params(request)
    due = api.bool_param(request, "due")
    items = await _wf(request).followups.search(
        status=api.one_of(request, "status", FOLLOWUP_STATUSES),
        due_before=api.time_param(request, "due_before")
        or (dt.datetime.now(dt.UTC) if due else None),
        questioner_id=api.str_param(request, "questioner_id"),
        customer_id=api.str_param(request, "customer_id"),
        complaint_id=api.str_param(request, "complaint_id"),
        limit=limit,
        offset=offset,
    )
    return web.json_response({"items": items, "limit": limit, "offset": offset})


async def get_followup(request: web.Request) -> web.Response:
    api.allowed(request, "followups:read")
    return web.json_response(await _wf(request).followups.get(request.match_info["id"]))


async def followup_action(request: web.Request) -> web.Response:
    _p, actor = api.allowed(request, "followups:write")
    action = FOLLOWUP_ACTIONS.get(request.match_info["action"])
    if action is None:
        raise NotFound(
            f"no follow-up action {request.match_info['action']!r}",
            details={"actions": list(FOLLOWUP_ACTIONS)},
        )
    body = await api.body_model(request, FollowUpStepIn)
    out = await _wf(request).followups.act(
        request.match_info["id"],
        action,
        actor=actor,
        answers=body.answers,
        outcome=body.outcome,
        note=body.note,
    )
    return web.json_response(out)


# --- surveys -------------------------------------------------------------------------------
def _answer(body: SurveyAnswersIn, **links: Any) -> SurveyResponse:
    return SurveyResponse(
        csat=body.csat,
        nps=body.nps,
        ces=body.ces,
        text=body.text,
        ratings=dict(body.ratings),
        **links,
    )


async def record_survey(request: web.Request) -> web.Response:
    _p, actor = api.allowed(request, "surveys:write")
    body = await api.body_model(request, SurveyIn)
    links = body.model_dump(
        include={"customer_id", "contact_id", "agent_id", "queue", "complaint_id", "follow_up_id"}
    )
    out = await _wf(request).surveys.record(_answer(body, **links), actor=actor)
    return web.json_response(out, status=201)


async def public_survey(request: web.Request) -> web.Response:
    """The customer's answer through the emailed link (no login; the token authorises)."""
    from ccserver.app import SERVICES
    from ccserver.web.sessions import load_or_create_secret

    settings = request.app[SERVICES].settings
    secret = load_or_create_secret(settings.server.data_dir / "secret_key")
    follow_up_id = check_survey_token(secret, request.match_info["token"])
    if follow_up_id is None:
        raise NotFound("this survey link is not valid")
    wf = _wf(request)
    fu = await wf.followups.get(follow_up_id)
    body = await api.body_model(request, SurveyAnswersIn)
    response = _answer(
        body,
        customer_id=fu["customer_id"],
        contact_id=fu["contact_id"],
        agent_id=fu["questioner_id"],
        complaint_id=fu["complaint_id"],
        follow_up_id=follow_up_id,
    )
    out = await wf.surveys.record(response, actor=SYSTEM)
    return web.json_response({"id": out["id"], "thanks": True}, status=201)


async def survey_csi(request: web.Request) -> web.Response:
    api.allowed(request, "surveys:read")
    out = await _wf(request).surveys.csi(
        since=api.time_param(request, "since"),
        until=api.time_param(request, "until"),
        agent_id=api.str_param(request, "agent_id"),
        queue=api.str_param(request, "queue"),
    )
    return web.json_response(out)


# --- privacy, segmentation, audit ----------------------------------------------------------
async def privacy_export(request: web.Request) -> web.Response:
    _p, actor = api.allowed(request, "customers:erase")
    data = await _wf(request).privacy.export(request.match_info["id"], actor=actor)
    return web.json_response(
        data,
        headers={"Content-Disposition": 'attachment; filename="customer-export.json"'},
    )


async def privacy_erase(request: web.Request) -> web.Response:
    _p, actor = api.allowed(request, "customers:erase")
    return web.json_response(
        await _wf(request).privacy.erase(request.match_info["id"], actor=actor)
    )


async def recompute_segmentation(request: web.Request) -> web.Response:
    api.allowed(request, "supervise")
    wf = _wf(request)
    return web.json_response(
        await recompute_segments(api.crm(request).sessions(request), wf.rules.segmentation)
    )


async def audit_log(request: web.Request) -> web.Response:
    api.allowed(request, "audit:read")
    limit, offset = api.page_params(request)
    records = (
        await api.crm(request)
        .audit(request)
        .query(
            actor=api.str_param(request, "actor"),
            action=api.str_param(request, "action"),
            entity=api.str_param(request, "entity"),
            entity_id=api.str_param(request, "entity_id"),
            since=api.time_param(request, "since"),
            until=api.time_param(request, "until"),
            limit=limit,
            offset=offset,
        )
    )
    return web.json_response(
        {"items": [r.to_json() for r in records], "limit": limit, "offset": offset}
    )


def add_routes(app: web.Application) -> None:
    api.install_services(app)
    r = app.router
    r.add_post(COMPLAINTS, create_complaint)
    r.add_get(COMPLAINTS, list_complaints)
    r.add_get(COMPLAINTS + "/{id}", get_complaint)
    r.add_post(COMPLAINTS + "/{id}/{action}", complaint_action)
    r.add_post(FOLLOWUPS + "/bulk", bulk_followups)
    r.add_post(FOLLOWUPS, create_followup)
    r.add_get(FOLLOWUPS, list_followups)
    r.add_get(FOLLOWUPS + "/{id}", get_followup)
    r.add_post(FOLLOWUPS + "/{id}/{action}", followup_action)
    r.add_post("/api/v1/surveys/responses", record_survey)
    r.add_get("/api/v1/surveys/csi", survey_csi)
    r.add_post("/api/v1/surveys/public/{token}", public_survey)
    r.add_get("/api/v1/privacy/customers/{id}/export", privacy_export)
    r.add_post("/api/v1/privacy/customers/{id}/erase", privacy_erase)
    r.add_post("/api/v1/segmentation/recompute", recompute_segmentation)
    r.add_get("/api/v1/audit", audit_log)
