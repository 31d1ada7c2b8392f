"""Chat paths around the happy one: nobody staffed (leave a message / request a callback),
a bad pre-chat form, a flooding customer, and a supervisor who watches and whispers."""

from __future__ import annotations

import json
from typing import Any

import pytest
import test_chat_harness as _h
import websockets
from test_chat_flow import buttons, recv_until, send
from test_chat_harness import TextApp, next_frame

text_app = _h.text_app
pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _to_queue(ws: Any, name: str, email: str, phone: str) -> str:
    # A known phone identifies the customer, so the IVR goes straight to its main menu.
    await send(ws, "start", name=name, email=email, phone=phone, topic=None, consent=True)
    chat_id = str((await recv_until(ws, "session"))["data"]["chat_id"])
    await recv_until(ws, "msg", buttons)
    await send(ws, "choice", value="1")
    await recv_until(ws, "msg", lambda f: "0" in {b["value"] for b in f["data"].get("buttons", [])})
    await send(ws, "choice", value="0")
    return chat_id


async def _clear_desk(text_app: TextApp) -> None:
    """End and wrap up whatever alice still holds from earlier tests of the module."""
    api, uid = await text_app.h.as_user("alice"), text_app.h.user_ids["alice"]
    cc = text_app.cc
    disposition = cc.dispositions[0] if cc.dispositions else None
    for i in list(cc.interactions.values()):
        if i.agent_id == uid and i.state.value == "connected":
            r, body = await api.post(
                f"/api/v1/interactions/{i.id}/control", json={"action": "hangup"}
            )
            assert r.status == 200, body
        if i.agent_id == uid and i.state.value == "wrap_up":
            r, body = await api.post(
                f"/api/v1/interactions/{i.id}/wrap-up", json={"disposition": disposition}
            )
            assert r.status == 200, body


async def test_prechat_form_is_validated(text_app: TextApp) -> None:
    async with websockets.connect(text_app.ws_url()) as ws:
        await send(ws, "message", text="hi")  # before start
        assert (await recv_until(ws, "error"))["data"]["code"] == "start_first"
        await send(ws, "start", name="X", email="not-an-address", consent=True)
        err = await recv_until(ws, "error")
        assert err["data"]["code"] == "validation_failed" and "email" in err["data"]["fields"]
        await send(ws, "start", name="X", email="x@example.com", consent=False)
        assert (await recv_until(ws, "error"))["data"]["fields"] == {"consent": "required"}


async def test_no_agents_leave_a_message_or_ask_for_a_callback(text_app: TextApp) -> None:
    async with websockets.connect(text_app.ws_url()) as ws:
        chat_id = await _to_queue(ws, "Hank", "hank@example.com", "+1 415 555 0170")
        offer = await recv_until(ws, "no_agents")
        assert "leave_message" in offer["data"]["options"]
        await send(ws, "leave_message", text="Please email me the invoice.")
        left = await recv_until(ws, "message_left")
        assert left["data"]["case_number"].startswith("C-")
        await recv_until(ws, "ended")
    assert chat_id not in text_app.cc.interactions  # the chat is over (written as such)

    async with websockets.connect(text_app.ws_url()) as ws:
        await _to_queue(ws, "Ivy", "ivy@example.com", "+1 415 555 0177")
        await recv_until(ws, "no_agents")
        await send(ws, "callback", phone="call me")
        assert (await recv_until(ws, "error"))["data"]["code"] == "invalid_phone"
        await send(ws, "callback")  # the number given in the pre-chat form
        scheduled = await recv_until(ws, "callback_scheduled")
    cb = [
        i
        for i in text_app.cc.interactions.values()
        if i.attributes.get("case_number") == scheduled["data"]["case_number"]
    ]
    assert cb and cb[0].channel.value == "callback"
    assert cb[0].attributes["callback_number"] == "+14155550177"


async def test_flood_is_throttled_and_a_supervisor_watches_and_whispers(
    text_app: TextApp,
) -> None:
    api, _uid, sub = await text_app.ready_agent("alice")
    sup = await text_app.h.as_user("sup")
    async with websockets.connect(text_app.ws_url()) as ws:
        chat_id = await _to_queue(ws, "Jack", "jack@example.com", "+1 415 555 0171")
        await next_frame(sub, "offer", interaction_id=chat_id)
        r, body = await api.post(f"/api/v1/interactions/{chat_id}/accept")
        assert r.status == 200, body
        await recv_until(ws, "agent_joined")

        await send(ws, "message", text="x" * 2001)
        assert (await recv_until(ws, "error"))["data"]["code"] == "too_long"
        for n in range(40):
            await ws.send(json.dumps({"type": "message", "data": {"text": f"spam {n}"}}))
        await recv_until(ws, "notice", lambda f: f["data"]["code"] == "slow_down")

        r, body = await sup.get(f"/api/v1/supervisor/interactions/{chat_id}/chat")
        assert r.status == 200, body
        spam = [ln for ln in body["lines"] if ln["from"] == "customer"]
        assert 0 < len(spam) <= 12  # burst of 8 plus what refilled meanwhile, not 40
        r, _ = await api.get(f"/api/v1/supervisor/interactions/{chat_id}/chat")
        assert r.status == 403  # watching is for supervisors
        r, body = await sup.post(
            f"/api/v1/supervisor/interactions/{chat_id}/monitor", json={"mode": "listen"}
        )
        assert r.status == 200, body  # the console's monitor button works on chats too
        assert body["topic"] == f"interaction.{chat_id}"

        r, body = await sup.post(
            f"/api/v1/supervisor/interactions/{chat_id}/whisper", json={"text": "Offer a refund"}
        )
        assert r.status == 201, body
        note = await next_frame(sub, "chat_message", whisper=True)
        assert note["text"] == "Offer a refund" and note["from"] == "supervisor"
        r, body = await api.post(f"/api/v1/interactions/{chat_id}/chat", json={"text": "Done"})
        assert r.status == 201, body
        # The customer sees the agent's line, never the whisper.
        seen = await recv_until(ws, "msg", lambda f: f["data"]["from"] != "customer")
        assert seen["data"]["text"] == "Done"
        await send(ws, "leave")
        await recv_until(ws, "survey")
    await sub.aclose()


async def test_an_agent_holds_three_chats_at_most(text_app: TextApp) -> None:
    cc = text_app.cc
    disposition = cc.dispositions[0] if cc.dispositions else None
    await _clear_desk(text_app)
    api, _uid, sub = await text_app.ready_agent("alice")
    sockets = [await websockets.connect(text_app.ws_url()) for _ in range(4)]
    try:
        chats = [
            await _to_queue(ws, f"Cap {n}", f"cap{n}@example.com", f"+1 415 555 02{n:02d}")
            for n, ws in enumerate(sockets)
        ]
        for chat_id in chats[:3]:
            await next_frame(sub, "offer", interaction_id=chat_id)
            r, body = await api.post(f"/api/v1/interactions/{chat_id}/accept")
            assert r.status == 200, body
        assert cc.get(chats[3]).state.value == "queued"  # chat capacity is 3 (routing.toml)
        r, body = await api.post(
            f"/api/v1/interactions/{chats[0]}/control", json={"action": "hangup"}
        )
        assert r.status == 200, body
        r, body = await api.post(
            f"/api/v1/interactions/{chats[0]}/wrap-up", json={"disposition": disposition}
        )
        assert r.status == 200, body
        await next_frame(sub, "offer", interaction_id=chats[3])  # a slot freed: offered
    finally:
        for ws in sockets:
            await ws.close()
        await sub.aclose()


async def test_a_chat_transferred_to_a_queue_continues_as_the_new_interaction(
    text_app: TextApp,
) -> None:
    await _clear_desk(text_app)
    api, _uid, sub = await text_app.ready_agent("alice")
    async with websockets.connect(text_app.ws_url()) as ws:
        first = await _to_queue(ws, "Tina", "tina@example.com", "+1 415 555 0300")
        await next_frame(sub, "offer", interaction_id=first)
        r, body = await api.post(f"/api/v1/interactions/{first}/accept")
        assert r.status == 200, body
        r, body = await api.post(
            f"/api/v1/interactions/{first}/transfer", json={"queue": "general"}
        )
        assert r.status == 200, body
        assert (await recv_until(ws, "transferred"))["data"]["queue"] == "general"
        leg = text_app.cc.get(first).attributes["transferred_to"]
        await next_frame(sub, "offer", interaction_id=leg)
        r, body = await api.post(f"/api/v1/interactions/{leg}/accept")
        assert r.status == 200, body
        await send(ws, "message", text="still me")
        line = await next_frame(sub, "chat_message", interaction_id=leg)
        assert line["text"] == "still me"
    await sub.aclose()
