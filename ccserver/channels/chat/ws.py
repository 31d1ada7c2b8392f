"""The customer's WebSocket (``/chat/ws``), spoken by ``widget.js``.

Widget -> server (JSON ``{"type", "data"}``):
  ``start`` {name, email?, phone?, topic?, consent}  |  ``resume`` {chat_id, token, last_seq}
  ``message`` {text}  ``choice`` {value}  ``typing``  ``read`` {seq}  ``leave``
  ``leave_message`` {text}  ``callback`` {phone?}  ``survey`` {csat, nps?, text?}
  Files are not frames: the widget POSTs them to ``/chat/upload`` (see ``files_http.py``).
Server -> widget: ``session`` {chat_id, token, case_number, uploads: {max_bytes, max_files,
accept}}; numbered (``seq``) frames
``msg`` {from: bot|customer|agent, text, at, buttons?, kind?: "file", file?: {id, name,
content_type, size, url}}, ``agent_joined``, ``agent_left``, ``transferred`` {queue},
``no_agents``, ``survey``, ``message_left``, ``callback_scheduled``, ``ended``; unnumbered
``queue`` {position, ewt_s}, ``typing``, ``read`` {seq}, ``notice``, ``error``.
A file line's ``url`` (``/chat/files/{file_id}``) is where the widget POSTs the chat id
and token to download it: files of either side, never behind a cookie or a token in a URL.
``chat_id`` stays the chat's first id for the whole conversation: after a transfer to
another queue (a new interaction) the widget resumes and uploads with the id it has.

Everything the customer types is text: the widget renders with ``textContent`` only.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import BaseModel, Field, ValidationError, field_validator

from ccserver.channels.chat.service import ChatService
from ccserver.channels.chat.session import ChatSession, find_chat
from ccserver.channels.chat.uploads import widget_limits
from ccserver.channels.forms.limits import SlidingWindowLimiter
from ccserver.crm.identities import IdentityError, normalise_email
from ccserver.errors import CcserverError
from ccserver.web.auth import client_ip

MAX_FRAME_BYTES = 16 * 1024


class PreChat(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32, pattern=r"^\+?[0-9 ()./-]{4,32}$")
    topic: str | None = Field(None, max_length=40)
    consent: bool

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if not v:
            return None
        try:
            return normalise_email(v)
        except IdentityError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("name", "topic")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return " ".join(v.split()) if v else v


class ChatSocket:
    def __init__(self, service: ChatService, starts: SlidingWindowLimiter) -> None:
        self.service = service
        self.starts = starts

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        session: ChatSession | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    await ws.send_json({"type": "error", "data": {"code": "bad_json"}})
                    continue
                if not isinstance(frame, dict):
                    continue
                if session is None:
                    session = await self._open(request, ws, frame)
                    continue
                try:
                    await self.service.customer_frame(session, frame)
                except CcserverError as exc:
                    await ws.send_json(
                        {"type": "error", "data": {"code": exc.code, "text": exc.message}}
                    )
        finally:
            if session is not None:
                session.detach(ws, self.service.cc.clock())
        return ws

    async def _open(
        self, request: web.Request, ws: web.WebSocketResponse, frame: dict[str, Any]
    ) -> ChatSession | None:
        data = frame.get("data") if isinstance(frame.get("data"), dict) else {}
        assert isinstance(data, dict)
        try:
            if frame.get("type") == "resume":
                return await self._resume(ws, data)
            if frame.get("type") != "start":
                raise _Refused("start_first", "send a start or resume frame first")
            try:
                form = PreChat.model_validate(data)
            except ValidationError as exc:
                fields = {".".join(map(str, e["loc"])): e["msg"] for e in exc.errors()}
                raise _Refused("validation_failed", "check the form", fields) from None
            if not form.consent:
                raise _Refused("validation_failed", "consent is required", {"consent": "required"})
            if not (form.email or form.phone):
                raise _Refused("validation_failed", "give an email or a phone number",
                               {"email": "email or phone required"})  # fmt: skip
            self.starts.hit(client_ip(request), self.service.cc.clock())
            session = await self.service.start_chat(form.model_dump())
        except _Refused as r:
            await ws.send_json({"type": "error", "data": r.data})
            return None
        except CcserverError as exc:
            await ws.send_json({"type": "error", "data": {"code": exc.code, "text": exc.message}})
            return None
        session.attach(ws)
        await ws.send_json(
            {
                "type": "session",
                "data": {
                    "chat_id": session.id,
                    "token": session.token,
                    "case_number": session.case_number,
                    "uploads": widget_limits(self.service.options),
                },
            }
        )
        await self.service.begin(session)
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> ChatSession:
        session = find_chat(self.service.sessions, data.get("chat_id"), data.get("token"))
        if session is None:
            raise _Refused("unknown_chat", "this chat cannot be resumed; start a new one")
        last = data.get("last_seq")
        last_seq = last if isinstance(last, int) and last >= 0 else 0
        await ws.send_json(
            {
                "type": "session",
                "data": {"chat_id": session.chat_id, "token": session.token,
                         "case_number": session.case_number, "resumed": True,
                         "uploads": widget_limits(self.service.options)},
            }
        )  # fmt: skip
        async with session.lock:  # no new frame can slip between the replay and attaching
            for f in session.missed(last_seq):
                with contextlib.suppress(Exception):
                    await ws.send_json(f)
            session.attach(ws)
        return session


class _Refused(Exception):
    def __init__(self, code: str, text: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.data: dict[str, Any] = {"code": code, "text": text}
        if fields:
            self.data["fields"] = fields
