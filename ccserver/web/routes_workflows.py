"""REST API of the CRM workflows: complaints, follow-ups, surveys, data-subject requests,
segmentation on demand (the audit log viewer for admins, ``GET /api/v1/audit``, lives in
:mod:`ccserver.web.routes_users`).

Handlers translate HTTP to :mod:`ccserver.crm.services` (which apply the rules, audit and
write in one transaction) and check a permission first. The one anonymous route is the
survey link a customer opens from an email: it is authorised by its HMAC token, which names
the follow-up (and so the customer, agent and complaint) the answer belongs to.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ccserver.crm.audit import Actor
from ccserver.crm.rules.errors import MissingAnswers
from ccserver.crm.rules.surveys import SurveyResponse
from ccserver.crm.services import WorkflowServices
from ccserver.crm.services.common import WorkflowNotFound
from ccserver.crm.services.complaints import ACTIONS, review_from
from ccserver.crm.services.segmentation_job import recompute_segments
from ccserver.errors import Conflict, NotFound, ValidationFailed
from ccserver.runtime.scheduler import check_survey_token, workflows_of
from ccserver.web import api_support as api
from ccserver.web.auth import client_ip
from ccserver.web.pii_view import masked_response

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


async def _flush_outbox(request: web.Request, timeout_s: float = 5.0) -> None:
    from ccserver.app import SERVICES

    outbox = request.app[SERVICES].outbox
    if outbox is not None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await outbox.flush()


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


# --- complaints ----------------------------------------------------------------------------
async def create_complaint(request: web.Request) -> web.Response:
    _p, actor = api.allowed(request, "complaints:write")
    body = await api.body_model(request, ComplaintIn)
    complaints = _wf(request).complaints
    try:
        out = await complaints.create(actor=actor, **body.model_dump())
    except WorkflowNotFound as e:
        if "contact_id" not in e.details:
            raise
        # Filed during the call: the contact row is written through the outbox and may not
        # be in the database yet. Wait for pending writes (bounded), then try once more.
        await _flush_outbox(request)
        out = await complaints.create(actor=actor, **body.model_dump())
    return masked_response(
        request, "complaint", out, status=201, headers={"Location": f"{COMPLAINTS}/{out['id']}"}
    )


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
    body = {"items": items, "limit": limit, "offset": offset}
    return masked_response(request, "complaint", body, page=True)


async def get_complaint(request: web.Request) -> web.Response:
    api.allowed(request, "complaints:read")
    out = await _wf(request).complaints.get(request.match_info["id"])
    return masked_response(request, "complaint", out)


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
    return masked_response(request, "complaint", out)


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


def _link_follow_up(request: web.Request) -> str:
    from ccserver.app import SERVICES
    from ccserver.web.sessions import load_or_create_secret

    settings = request.app[SERVICES].settings
    secret = load_or_create_secret(settings.server.data_dir / "secret_key")
    follow_up_id = check_survey_token(secret, request.match_info["token"])
    if follow_up_id is None:
        raise NotFound("this survey link is not valid")
    return follow_up_id


async def _answer_by_link(
    request: web.Request, follow_up_id: str, body: SurveyAnswersIn
) -> dict[str, Any]:
    """Record the customer's answer for the follow-up the link names: once per link. The
    actor ``survey:<follow-up id>`` marks link answers in the audit log (the duplicate check)."""
    wf = _wf(request)
    fu = await wf.followups.get(follow_up_id)
    if fu["status"] == "cancelled":
        raise NotFound("this survey is closed")
    actor = Actor(f"survey:{follow_up_id}", "customer", client_ip(request))
    audit = api.crm(request).audit(request)
    if await audit.query(actor=actor.id, action="respond", limit=1):
        raise Conflict("this survey has already been answered")
    response = _answer(
        body,
        customer_id=fu["customer_id"],
        contact_id=fu["contact_id"],
        agent_id=fu["questioner_id"],
        complaint_id=fu["complaint_id"],
        follow_up_id=follow_up_id,
    )
    out = await wf.surveys.record(response, actor=actor)
    if fu["status"] in ("planned", "due") and fu["channel"] == "email":
        # The e-mailed survey *is* the follow-up: answering it completes the follow-up
        # (unless its outline has questions of its own left unanswered).
        try:
            await wf.followups.act(follow_up_id, "start", actor=actor)
            await wf.followups.act(follow_up_id, "complete", actor=actor, outcome="answered")
        except MissingAnswers:
            pass  # questions of its own are still open: the follow-up stays for the agent
    return out


async def public_survey(request: web.Request) -> web.Response:
    """The customer's answer through the e-mailed link, as JSON (no login; the token
    authorises)."""
    follow_up_id = _link_follow_up(request)
    body = await api.body_model(request, SurveyAnswersIn)
    out = await _answer_by_link(request, follow_up_id, body)
    return web.json_response({"id": out["id"], "thanks": True}, status=201)


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>How did we do?</title></head><body><main>{body}</main></body></html>"""


def _page(body: str, status: int = 200) -> web.Response:
    return web.Response(text=_PAGE.format(body=body), status=status, content_type="text/html")


def _form(action: str) -> str:
    csat = "".join(
        f'<label><input type="radio" name="csat" value="{n}" required> {n}</label> '
        for n in range(1, 6)
    )
    nps = "".join(f'<option value="{n}">{n}</option>' for n in range(0, 11))
    return (
        "<h1>How did we do?</h1>"
        f'<form method="post" action="{html.escape(action)}">'
        f"<fieldset><legend>Your satisfaction (1 = very unhappy, 5 = very happy)</legend>"
        f"{csat}</fieldset>"
        '<p><label>How likely are you to recommend us (0-10)? <select name="nps">'
        f'<option value="">-</option>{nps}</select></label></p>'
        '<p><label>Anything else? <textarea name="text" maxlength="4000"></textarea>'
        '</label></p><button type="submit">Send</button></form>'
    )


async def survey_page(request: web.Request) -> web.Response:
    """GET /survey/{token}: the survey form the e-mailed link opens (plain HTML, no script,
    so it works under the site's strict CSP and in any mail client's browser)."""
    try:
        _link_follow_up(request)
    except NotFound:
        return _page("<h1>This survey link is not valid.</h1>", 404)
    return _page(_form(request.path))


async def survey_page_post(request: web.Request) -> web.Response:
    try:
        follow_up_id = _link_follow_up(request)
    except NotFound:
        return _page("<h1>This survey link is not valid.</h1>", 404)
    form = await request.post()

    def score(name: str) -> int | None:
        raw = str(form.get(name, "") or "").strip()
        return int(raw) if raw.isdigit() else None

    text = str(form.get("text", "") or "").strip() or None
    try:
        body = SurveyAnswersIn(csat=score("csat"), nps=score("nps"), text=text)
        await _answer_by_link(request, follow_up_id, body)
    except Conflict:
        return _page("<h1>Thank you — we already have your answer.</h1>", 409)
    except (ValidationFailed, ValueError) as e:
        message = html.escape(str(e))
        return _page(f"<p>{message}</p>" + _form(request.path), 422)
    return _page("<h1>Thank you for your answer!</h1>", 201)


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
    r.add_get("/survey/{token}", survey_page)
    r.add_post("/survey/{token}", survey_page_post)
    r.add_get("/api/v1/privacy/customers/{id}/export", privacy_export)
    r.add_post("/api/v1/privacy/customers/{id}/erase", privacy_erase)
    r.add_post("/api/v1/segmentation/recompute", recompute_segmentation)
