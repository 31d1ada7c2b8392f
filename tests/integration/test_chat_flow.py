"""A customer chats through the widget's WebSocket (the ``websockets`` library plays the
browser): pre-chat form, the text IVR of config/ivr/main.toml as buttons, routed to an
agent whose console receives the lines on bus topic ``agent.<id>``; the agent answers over
REST; the customer reconnects without losing a line; survey at the end; lines in the CRM."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import test_chat_harness as _h
import websockets
from sqlalchemy import select
from test_chat_harness import TextApp, next_frame

from ccserver.app import SERVICES
from ccserver.crm.models import Message, SurveyResponse

text_app = _h.text_app
pytestmark = pytest.mark.asyncio(loop_scope="module")


async def recv_until(ws: Any, kind: str, pred: Any = None, seconds: float = 15.0) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind and (pred is None or pred(frame)):
                return dict(frame)


async def send(ws: Any, kind: str, **data: Any) -> None:
    await ws.send(json.dumps({"type": kind, "data": data}))


def buttons(frame: dict[str, Any]) -> bool:
    return bool(frame["data"].get("buttons"))


async def test_chat_reaches_an_agent_and_back_and_survives_a_reconnect(text_app: TextApp) -> None:
    api, uid, sub = await text_app.ready_agent("alice")
    async with websockets.connect(text_app.ws_url()) as ws:
        await send(ws, "start", name="Bob <b>Chat</b>", email="bob.chat@example.com",
                   phone="+1 415 555 0101", topic="billing", consent=True)  # fmt: skip
        session = (await recv_until(ws, "session"))["data"]
        chat_id, token = session["chat_id"], session["token"]
        assert session["case_number"].startswith("C-")
        language = await recv_until(ws, "msg", buttons)
        assert {b["value"] for b in language["data"]["buttons"]} >= {"1", "2"}
        await send(ws, "choice", value="1")
        menu = await recv_until(ws, "msg", buttons)
        assert "0" in {b["value"] for b in menu["data"]["buttons"]}
        await send(ws, "choice", value="0")  # an agent, please

        offer = await next_frame(sub, "offer", interaction_id=chat_id)
        assert offer["interaction"]["channel"] == "chat"
        r, body = await api.post(f"/api/v1/interactions/{chat_id}/accept")
        assert r.status == 200, body
        await recv_until(ws, "agent_joined")
        history = await next_frame(sub, "chat_history", interaction_id=chat_id)
        assert [ln["from"] for ln in history["lines"]][:1] == ["bot"]

        hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>"
        await send(ws, "typing")
        assert (await next_frame(sub, "chat_typing"))["interaction_id"] == chat_id
        await send(ws, "message", text=hostile)
        line = await next_frame(sub, "chat_message", interaction_id=chat_id)
        assert line["text"] == hostile and line["from"] == "customer"  # kept as text

        r, body = await api.post(f"/api/v1/interactions/{chat_id}/chat", json={"text": "Hi Bob"})
        assert r.status == 201, body
        answer = await recv_until(ws, "msg", lambda f: f["data"]["from"] == "agent")
        last_seq = answer["seq"]
        assert answer["data"]["text"] == "Hi Bob"
        await recv_until(ws, "read")  # the agent's answer marks the customer's lines read

    # The widget is gone (network blip); the agent keeps writing.
    for text in ("Are you there?", "I found your invoice."):
        r, body = await api.post(f"/api/v1/interactions/{chat_id}/chat", json={"text": text})
        assert r.status == 201, body
    async with websockets.connect(text_app.ws_url()) as ws:
        await send(ws, "resume", chat_id=chat_id, token="wrong", last_seq=last_seq)
        assert (await recv_until(ws, "error"))["data"]["code"] == "unknown_chat"
    async with websockets.connect(text_app.ws_url()) as ws:
        await send(ws, "resume", chat_id=chat_id, token=token, last_seq=last_seq)
        assert (await recv_until(ws, "session"))["data"]["resumed"] is True
        missed = [await recv_until(ws, "msg") for _ in range(2)]
        assert [m["data"]["text"] for m in missed] == ["Are you there?", "I found your invoice."]
        assert [m["seq"] for m in missed] == [last_seq + 1, last_seq + 2]

        r, body = await api.post(
            f"/api/v1/interactions/{chat_id}/control", json={"action": "hangup"}
        )
        assert r.status == 200, body
        survey = await recv_until(ws, "survey")
        assert {q["id"] for q in survey["data"]["questions"]} == {"csat", "nps"}
        await send(ws, "survey", csat=6)
        assert (await recv_until(ws, "error"))["data"]["code"] == "invalid_survey"
        await send(ws, "survey", csat=5, nps=9)
        assert (await recv_until(ws, "ended"))["data"]["thanks"] is True
        await send(ws, "transcript")  # mailed to the pre-chat address, once
        assert (await recv_until(ws, "transcript_sent"))["data"]["to"] == "bob.chat@example.com"
        await send(ws, "transcript")
        assert (await recv_until(ws, "error"))["data"]["code"] == "transcript_unavailable"
    mail = await text_app.relay.wait_for(lambda m: m["To"] == "bob.chat@example.com")
    assert "Your chat transcript" in mail["Subject"]
    plain = mail.get_body(("plain",))
    assert plain is not None and "Hi Bob" in plain.get_content()

    disposition = text_app.cc.dispositions[0] if text_app.cc.dispositions else None
    r, body = await api.post(
        f"/api/v1/interactions/{chat_id}/wrap-up", json={"disposition": disposition}
    )
    assert r.status == 200, body
    services = text_app.h.app[SERVICES]
    await services.require_outbox().flush()
    async with services.require_sessions()() as s:
        rows = (await s.execute(select(Message.direction, Message.body_text))).all()
        survey_rows = (await s.execute(select(SurveyResponse.csat, SurveyResponse.agent_id))).all()
    assert ("inbound", hostile) in rows and ("outbound", "Hi Bob") in rows
    assert (5, uid) in survey_rows
    await sub.aclose()
