"""The agent side over the REST API while a real (simulated) call is up: console login and
ready, the phone rings and is answered, hold / unhold / DTMF / hang up through
``/api/v1/interactions/{id}/control``, wrap-up; the supervisor barges in through the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_call_harness import CALLER, VoiceApp, eventually, voice_app

from ccserver.crm.users import UserService
from ccserver.domain import InteractionState
from ccserver.simulator import Press, WaitForAgent

PASSWORD = "correct horse battery"


@pytest.fixture
async def vapp(tmp_path: Path) -> AsyncIterator[VoiceApp]:
    async for v in voice_app(tmp_path):
        yield v


async def _login(vapp: VoiceApp, user: str) -> dict[str, str]:
    r = await vapp.client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
    assert r.status == 200, await r.text()
    return {"X-CSRF-Token": (await r.json())["csrf_token"]}


async def test_agent_handles_a_call_through_the_console_api(vapp: VoiceApp) -> None:
    c, cc, sim = vapp.client, vapp.cc, vapp.sim
    users = UserService(vapp.services.require_sessions())
    agent = await users.create_user(
        "agent1001", PASSWORD, role="agent", endpoint="PJSIP/agent1001", skills={"lang.en": 2}
    )
    await users.create_user("supervisor", PASSWORD, role="supervisor", endpoint="PJSIP/supervisor")
    headers = await _login(vapp, "agent1001")
    r = await c.post("/api/v1/console/login", headers=headers)
    assert r.status == 200, await r.text()
    r = await c.post("/api/v1/console/state", json={"state": "ready"}, headers=headers)
    assert r.status == 200, await r.text()

    call = sim.place_call(CALLER, [Press("1"), Press("0"), WaitForAgent(2000)])
    iid = await eventually(lambda: next(iter(vapp.voice.by_interaction), None), what="call")
    await eventually(lambda: cc.get(iid).state == InteractionState.CONNECTED, what="connected")
    assert cc.get(iid).agent_id == agent.id
    base = f"/api/v1/interactions/{iid}"

    r = await c.post(f"{base}/control", json={"action": "hold"}, headers=headers)
    assert r.status == 200 and await r.json() == {"held": True}
    assert sim.channels[call.name].moh
    r = await c.post(f"{base}/control", json={"action": "hold"}, headers=headers)
    assert r.status == 422  # already on hold: refused with a typed error, call untouched
    r = await c.post(f"{base}/control", json={"action": "unhold"}, headers=headers)
    assert r.status == 200 and await r.json() == {"held": False}
    r = await c.post(f"{base}/control", json={"action": "dtmf", "digits": "12#"}, headers=headers)
    assert r.status == 200 and (await r.json())["sent"] == "12#"

    # The supervisor barges in from the wallboard.
    sup = await _login(vapp, "supervisor")
    r = await c.post(
        f"/api/v1/supervisor/interactions/{iid}/monitor", json={"mode": "barge"}, headers=sup
    )
    assert r.status == 200, await r.text()
    assert (await r.json())["endpoint"] == "PJSIP/supervisor"
    spy = await eventually(
        lambda: next((ch for ch in sim.channels.values() if ch.spying_on), None), what="spy"
    )
    assert spy.variables["SPY_MODE"] == "barge"

    headers = await _login(vapp, "agent1001")
    r = await c.post(f"{base}/control", json={"action": "hangup"}, headers=headers)
    assert r.status == 200, await r.text()
    assert await asyncio.wait_for(call.finished, 5) == 16
    assert cc.get(iid).state == InteractionState.WRAP_UP
    r = await c.post(f"{base}/wrap-up", json={"disposition": "resolved"}, headers=headers)
    assert r.status == 200, await r.text()
    contact = await vapp.contact(iid)
    assert contact.outcome == "answered" and contact.agent_id == agent.id
    assert contact.hold_s is not None and contact.hold_s >= 0
    await eventually(lambda: spy.name not in sim.channels, what="spy gone with the call")
