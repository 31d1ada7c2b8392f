"""The email channel's REST endpoints besides the reply itself (``chat/routes.py``).

- Supervisors' view of outbound mail: what is waiting for the relay, what failed and why,
  and a manual retry for a message the relay refused for good (or that ran out of
  attempts). The list comes from ``pending_work`` (so it covers earlier runs too) with the
  live status of messages this process is sending laid over it.
- The reply templates agents pick from in the console (``channels.toml``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from ccserver.channels.email.crm_sink import CrmEmailSink
from ccserver.channels.email.delivery import Delivery, DeliveryStatus
from ccserver.channels.email.outbound import OutboundMailer
from ccserver.errors import Conflict, NotFound, ValidationFailed
from ccserver.runtime.pending_work import EMAIL_DELIVERY, PendingWorkStore
from ccserver.web.auth import require

STATES = {
    "pending": ("pending",),
    "failed": ("failed",),
    "sent": ("sent",),
    "all": ("pending", "failed", "sent"),
}


def _email(request: web.Request) -> tuple[CrmEmailSink, PendingWorkStore, OutboundMailer]:
    from ccserver.channels.setup import TEXT_CHANNELS

    channels = request.app.get(TEXT_CHANNELS)
    sink = channels.email_sink if channels is not None else None
    mailer = channels.mailer if channels is not None else None
    if sink is None or sink.pending is None or mailer is None:
        raise NotFound("email is not running")
    return sink, sink.pending, mailer


def _at(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat() if ts else None


def _view(
    message_id: str, payload: dict[str, Any], live: Delivery | None, updated: dt.datetime | None
) -> dict[str, Any]:
    status = live.status.value if live else str(payload.get("status", "queued"))
    return {
        "message_id": message_id,
        "case_number": payload.get("case_number"),
        "kind": payload.get("kind", "reply"),
        "recipients": list(payload.get("recipients") or ()),
        "status": status,
        "attempts": live.attempts if live else int(payload.get("attempts", 0)),
        "last_error": live.last_error if live else payload.get("last_error"),
        "next_attempt_at": _at(live.next_attempt_at)
        if live and live.status is DeliveryStatus.FAILED_RETRYING
        else None,
        "agent_id": payload.get("agent_id"),
        "updated_at": updated.isoformat() if updated else None,
    }


async def list_outbound(request: web.Request) -> web.Response:
    require(request, "supervise")
    state = request.query.get("state", "pending")
    if state not in STATES:
        raise ValidationFailed(
            f"state must be one of {', '.join(STATES)}", details={"field": "state"}
        )
    try:
        limit = min(max(int(request.query.get("limit", "100")), 1), 1000)
    except ValueError:
        raise ValidationFailed("limit must be a number", details={"field": "limit"}) from None
    _, store, mailer = _email(request)
    live = {d.id: d for d in mailer.queue.all()}
    rows = await store.listing(EMAIL_DELIVERY, STATES[state], limit)
    items = [_view(item.id, item.payload, live.get(item.id), at) for item, _, at in rows]
    return web.json_response({"items": items})


async def retry_outbound(request: web.Request) -> web.Response:
    """Send a failed message again (a new round of attempts)."""
    require(request, "supervise")
    sink, store, mailer = _email(request)
    message_id = request.match_info["id"]
    live = {d.id: d for d in mailer.queue.all()}
    known = None
    if message_id not in live:  # failed in an earlier run: the record has the message
        item = await store.get(message_id)
        if item is None or item.kind != EMAIL_DELIVERY:
            raise NotFound(f"no outbound message {message_id}")
        known = sink.delivery_from_record(item.id, item.payload)
    status = live[message_id].status if known is None else known.status
    if status is not DeliveryStatus.FAILED:
        raise Conflict(f"the message is {status.value}; only failed messages are retried")
    d = await mailer.retry_now(message_id, known)
    payload = {"case_number": d.case_number, "kind": d.kind, "recipients": list(d.recipients)}
    return web.json_response(_view(d.id, payload, d, None), status=202)


async def list_templates(request: web.Request) -> web.Response:
    from ccserver.channels.setup import TEXT_CHANNELS

    require(request, "console:use")
    channels = request.app.get(TEXT_CHANNELS)
    if channels is None:
        raise NotFound("email is not running")
    return web.json_response({"templates": channels.reply_templates.catalogue()})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/email/templates", list_templates)
    app.router.add_get("/api/v1/email/outbound", list_outbound)
    app.router.add_post("/api/v1/email/outbound/{id}/retry", retry_outbound)
