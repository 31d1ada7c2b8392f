"""HTTP routes of the chat (widget, socket, demo page) and the console's text-channel
endpoints: an agent's chat line, an agent's email reply, a supervisor's whisper/watch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from ccserver.channels.email.compose import ParentMessage
from ccserver.channels.email.threading import CaseRef
from ccserver.domain import Channel, InteractionState
from ccserver.errors import Conflict, NotFound, ValidationFailed
from ccserver.web.auth import require
from ccserver.web.json_body import read_model

STATIC = Path(__file__).resolve().parent / "static"


class ChatBody(BaseModel):
    text: str = Field("", max_length=2000)
    typing: bool = False


class EmailReplyBody(BaseModel):
    body: str | None = Field(None, max_length=100_000)
    template: str | None = Field(None, max_length=64)
    language: str | None = Field(None, max_length=8)


class WhisperBody(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


def _channels(request: web.Request) -> Any:
    from ccserver.channels.setup import TEXT_CHANNELS

    channels = request.app.get(TEXT_CHANNELS)
    if channels is None:
        raise NotFound("text channels are not running")
    return channels


async def widget_js(request: web.Request) -> web.Response:
    return web.Response(
        body=(STATIC / "widget.js").read_bytes(),
        content_type="application/javascript",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


async def demo_page(request: web.Request) -> web.Response:
    return web.Response(
        body=(STATIC / "demo.html").read_bytes(),
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:"},
    )


async def chat_socket(request: web.Request) -> web.WebSocketResponse:
    return await _channels(request).chat_socket.handle(request)  # type: ignore[no-any-return]


async def agent_chat(request: web.Request) -> web.Response:
    p = require(request, "console:use")
    body = await read_model(request, ChatBody)
    chat = _channels(request).chat
    iid = request.match_info["id"]
    if body.typing and not body.text:
        await chat.agent_typing(iid, p.user_id)
        return web.json_response({"ok": True})
    line = await chat.agent_says(iid, p.user_id, body.text, display_name=p.display_name)
    return web.json_response(line, status=201)


async def email_reply(request: web.Request) -> web.Response:
    p = require(request, "console:use")
    body = await read_model(request, EmailReplyBody)
    channels = _channels(request)
    from ccserver.web.routes_console import CONTACT_CENTER

    i = request.app[CONTACT_CENTER].get(request.match_info["id"])
    if i.channel is not Channel.EMAIL or i.agent_id != p.user_id:
        raise Conflict("this is not an email you are handling")
    if i.state not in (InteractionState.CONNECTED, InteractionState.WRAP_UP):
        raise Conflict(f"the email is {i.state.value}; accept it first")
    attrs = i.attributes
    to = attrs.get("reply_to") or attrs.get("from_address")
    if not to:
        raise ValidationFailed("the customer has no address to reply to")
    text = body.body
    if body.template:
        values = {
            "customer_name": str(attrs.get("from_name") or ""),
            "case_number": str(attrs.get("case_number")),
            "agent_name": p.display_name,
        }
        rendered = channels.reply_templates.render(body.template, body.language or "en", values)
        text = f"{rendered}\n\n{text}" if text else rendered
    if not text or not text.strip():
        raise ValidationFailed("a reply needs a body or a template")
    case = CaseRef(
        case_id=str(attrs.get("related_contact_id") or i.contact_id),
        case_number=str(attrs["case_number"]),
        customer_id=i.customer_id,
        customer_address=attrs.get("from_address"),
    )
    parent = ParentMessage(
        attrs.get("message_id"), tuple(attrs.get("references") or ()), str(attrs.get("subject", ""))
    )
    delivery = await channels.email.send_reply(
        case,
        to=str(to),
        body=text,
        agent_id=p.user_id,
        agent_name=p.display_name,
        parent=parent,
        subject=str(attrs.get("subject", "")),
    )
    attrs["replied"] = True
    return web.json_response(
        {"message_id": delivery.id, "status": delivery.status.value}, status=202
    )


async def whisper(request: web.Request) -> web.Response:
    p = require(request, "supervise")
    body = await read_model(request, WhisperBody)
    await _channels(request).chat.whisper(
        request.match_info["id"], p.user_id, p.display_name, body.text
    )
    return web.json_response({"ok": True}, status=201)


async def watch(request: web.Request) -> web.Response:
    """The chat so far (a supervisor then follows bus topic ``interaction.<id>``)."""
    require(request, "supervise")
    s = _channels(request).chat.get(request.match_info["id"])
    return web.json_response(
        {
            "interaction_id": s.id,
            "state": s.state,
            "agent_id": s.agent_id,
            "topic": f"interaction.{s.id}",
            "lines": s.transcript,
        }
    )


def add_routes(app: web.Application) -> None:
    from ccserver.channels.chat import files_http

    files_http.add_routes(app)  # POST /chat/upload, GET /api/v1/interactions/{id}/files/...
    app.router.add_get("/chat/widget.js", widget_js)
    app.router.add_get("/chat/demo", demo_page)
    app.router.add_get("/chat/ws", chat_socket)
    app.router.add_post("/api/v1/interactions/{id}/chat", agent_chat)
    app.router.add_post("/api/v1/interactions/{id}/email-reply", email_reply)
    app.router.add_post("/api/v1/supervisor/interactions/{id}/whisper", whisper)
    app.router.add_get("/api/v1/supervisor/interactions/{id}/chat", watch)
