"""Agent console and supervisor actions over REST (the WebSocket only pushes).

Every state-changing call is CSRF-protected for browsers (see auth); supervisor actions are
written to the audit log.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from ccserver.channels.voice.errors import ConsultConflict
from ccserver.errors import NotFound, ValidationFailed
from ccserver.runtime.contact_center import AgentInfo, ContactCenter
from ccserver.web.auth import Principal, client_ip, require
from ccserver.web.json_body import read_model

CONTACT_CENTER = web.AppKey("contact_center", ContactCenter)


class StateBody(BaseModel):
    state: Literal["ready", "not_ready", "logged_out"]
    reason: str | None = Field(None, max_length=40)


NUMBER = r"^\+?[0-9]{2,20}$"  # dialled through Local/<number>@outbound: digits only


class ControlBody(BaseModel):
    action: Literal[
        "hold", "unhold", "hangup", "survey", "record", "stop_record", "dtmf",
        "consult", "consult_complete", "consult_cancel",
    ]  # fmt: skip
    digits: str | None = Field(None, pattern=r"^[0-9*#]{1,32}$")
    # consult: whom to call, an outside number or another agent (exactly one of them)
    number: str | None = Field(None, pattern=NUMBER)
    agent_id: str | None = Field(None, min_length=1, max_length=64)


class TransferBody(BaseModel):
    queue: str | None = Field(None, max_length=64)
    agent_id: str | None = Field(None, max_length=64)
    number: str | None = Field(None, max_length=32)


class WrapUpBody(BaseModel):
    disposition: str | None = Field(None, max_length=40)
    notes: str | None = Field(None, max_length=4000)
    fcr: bool | None = None


class ForceBody(BaseModel):
    state: Literal["not_ready", "logged_out"]
    # None: "supervisor" when that reason is configured, else the first configured one.
    reason: str | None = Field(None, max_length=40)


class MonitorBody(BaseModel):
    mode: Literal["listen", "whisper", "barge"]


class MoveBody(BaseModel):
    queue: str | None = Field(None, max_length=64)
    priority: int | None = Field(None, ge=-100, le=100)


def _cc(request: web.Request) -> ContactCenter:
    return request.app[CONTACT_CENTER]


async def _agent_info(request: web.Request, p: Principal) -> AgentInfo:
    from ccserver.web.user_directory import agent_profile

    app = request.app
    from ccserver.app import SERVICES

    return await agent_profile(app[SERVICES].require_sessions(), p.user_id)


async def console_login(request: web.Request) -> web.Response:
    p = require(request, "console:use")
    await _cc(request).agent_login(await _agent_info(request, p))
    return web.json_response(await _cc(request).agent_snapshot(p.user_id))


async def set_state(request: web.Request) -> web.Response:
    p = require(request, "console:use")
    body = await read_model(request, StateBody)
    cc = _cc(request)
    if p.user_id not in cc.agents:
        await cc.agent_login(await _agent_info(request, p))
    if body.state == "ready":
        await cc.agent_ready(p.user_id)
    elif body.state == "not_ready":
        await cc.agent_not_ready(p.user_id, body.reason or "break")
    else:
        await cc.agent_logout(p.user_id)
    return web.json_response(cc.agent_state_json(p.user_id))


async def snapshot(request: web.Request) -> web.Response:
    p = require(request, "console:use")
    return web.json_response(await _cc(request).agent_snapshot(p.user_id, p.display_name))


async def accept(request: web.Request) -> web.Response:
    p = require(request, "console:use")
    i = await _cc(request).accept(request.match_info["id"], p.user_id)
    return web.json_response(_cc(request)._interaction_json(i))


async def reject(request: web.Request) -> web.Response:
    p = require(request, "console:use")
    await _cc(request).reject(request.match_info["id"], p.user_id)
    return web.json_response({"ok": True})


async def control(request: web.Request) -> web.Response:
    p = require(request, "console:use")
    body = await read_model(request, ControlBody)
    cc = _cc(request)
    iid = request.match_info["id"]
    if body.action == "hangup":
        await cc.hang_up(iid, p.user_id)
        return web.json_response({"ok": True})
    if body.action == "survey":  # end the call and leave the customer in the survey
        await cc.end_with_survey(iid, p.user_id)
        return web.json_response({"ok": True, "survey": True})
    if body.action == "dtmf" and not body.digits:
        raise ValidationFailed("dtmf needs digits")
    params: dict[str, Any] = {"digits": body.digits} if body.digits else {}
    if body.action == "consult":
        if (body.number is None) == (body.agent_id is None):
            raise ValidationFailed(
                "consult needs either a number or an agent_id",
                details={"fields": [{"field": "number", "message": "number or agent_id"}]},
            )
        params = {"number": body.number} if body.number else {"agent_id": body.agent_id}
    return web.json_response(await cc.control(iid, p.user_id, body.action, params))


async def transfer(request: web.Request) -> web.Response:
    p = require(request, "console:use")
    body = await read_model(request, TransferBody)
    cc = _cc(request)
    iid = request.match_info["id"]
    if cc.get(iid).attributes.get("consult"):  # the caller is parked for the consult
        raise ConsultConflict("finish or cancel the consult before a blind transfer")
    if body.queue:
        await cc.transfer_to_queue(iid, p.user_id, body.queue)
    elif body.number or body.agent_id:
        target = {"number": body.number} if body.number else {"agent_id": body.agent_id}
        await cc.control(iid, p.user_id, "transfer", target)
    else:
        raise ValidationFailed("say where to: queue, agent_id or number")
    return web.json_response({"ok": True})


async def wrap_up(request: web.Request) -> web.Response:
    p = require(request, "console:use")
    body = await read_model(request, WrapUpBody)
    i = await _cc(request).wrap_up(
        request.match_info["id"],
        p.user_id,
        disposition=body.disposition,
        notes=body.notes,
        fcr=body.fcr,
    )
    return web.json_response(_cc(request)._interaction_json(i))


# --- supervisor -----------------------------------------------------------------------------
async def _audit(
    request: web.Request,
    p: Principal,
    action: str,
    entity: str,
    entity_id: str,
    details: dict[str, Any],
) -> None:
    from ccserver.app import SERVICES
    from ccserver.crm.audit import Actor, AuditLog

    await AuditLog(request.app[SERVICES].require_sessions()).record(
        Actor(p.user_id, p.role, client_ip(request)), action, entity, entity_id, details=details
    )


async def wallboard(request: web.Request) -> web.Response:
    require(request, "supervise")
    return web.json_response(await _cc(request).wallboard_snapshot())


async def force_agent(request: web.Request) -> web.Response:
    p = require(request, "supervise")
    body = await read_model(request, ForceBody)
    cc = _cc(request)
    agent_id = request.match_info["agent_id"]
    if agent_id not in cc.agents:
        raise NotFound("agent is not logged in")
    reasons = cc.not_ready_reasons
    reason = body.reason or ("supervisor" if "supervisor" in reasons else reasons[0])
    if body.state == "not_ready":
        await cc.agent_not_ready(agent_id, reason)
    else:
        await cc.agent_logout(agent_id)
    await _audit(request, p, f"force_{body.state}", "agent", agent_id, {"reason": reason})
    return web.json_response(cc.agent_state_json(agent_id))


async def monitor(request: web.Request) -> web.Response:
    p = require(request, "supervise")
    body = await read_model(request, MonitorBody)
    cc = _cc(request)
    i = cc.get(request.match_info["id"])
    adapter = cc.adapters.get(i.channel)
    if adapter is None:
        raise ValidationFailed("this channel cannot be monitored")
    result = await adapter.control(i, "monitor", {"mode": body.mode, "supervisor_id": p.user_id})
    await _audit(request, p, f"monitor_{body.mode}", "interaction", i.id, result)
    return web.json_response(result)


async def move(request: web.Request) -> web.Response:
    p = require(request, "supervise")
    body = await read_model(request, MoveBody)
    cc = _cc(request)
    iid = request.match_info["id"]
    await cc.move(iid, queue=body.queue, priority=body.priority)
    await _audit(request, p, "move_interaction", "interaction", iid, body.model_dump())
    return web.json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/v1/console/login", console_login)
    r.add_post("/api/v1/console/state", set_state)
    r.add_get("/api/v1/console/snapshot", snapshot)
    r.add_post("/api/v1/interactions/{id}/accept", accept)
    r.add_post("/api/v1/interactions/{id}/reject", reject)
    r.add_post("/api/v1/interactions/{id}/control", control)
    r.add_post("/api/v1/interactions/{id}/transfer", transfer)
    r.add_post("/api/v1/interactions/{id}/wrap-up", wrap_up)
    r.add_get("/api/v1/supervisor/wallboard", wallboard)
    r.add_post("/api/v1/supervisor/agents/{agent_id}/force", force_agent)
    r.add_post("/api/v1/supervisor/interactions/{id}/monitor", monitor)
    r.add_post("/api/v1/supervisor/interactions/{id}/move", move)
