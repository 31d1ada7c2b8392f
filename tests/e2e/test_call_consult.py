"""Attended (consult / warm) transfer over real AMI with the simulator: consult an outside
number and complete; consult another agent and cancel; the target who never answers or hangs
up; the caller who hangs up during the consult; illegal sequences over the REST API (409)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, get_args

import pytest
from test_call_harness import CALLER, VoiceApp, eventually, voice_app

from ccserver.channels.voice.errors import ConsultConflict, ConsultTargetUnavailable
from ccserver.crm.users import UserService
from ccserver.domain import InteractionState
from ccserver.simulator import Press, WaitForAgent
from ccserver.web.openapi_schemas import CONTROL_ACTIONS
from ccserver.web.routes_console import ControlBody

PASSWORD = "correct horse battery"
NUMBER = "15550000001"


@pytest.fixture
async def vapp(tmp_path: Path) -> AsyncIterator[VoiceApp]:
    async for v in voice_app(tmp_path):
        yield v


def _frames(vapp: VoiceApp) -> list[tuple[str, str, dict[str, Any]]]:
    """Record what the contact center publishes (topic, kind, data) on its bus."""
    seen: list[tuple[str, str, dict[str, Any]]] = []
    publish = vapp.cc._publish

    async def recording(topic: str, kind: str, data: dict[str, Any]) -> None:
        seen.append((topic, kind, data))
        await publish(topic, kind, data)

    vapp.cc._publish = recording  # type: ignore[method-assign]
    return seen


async def _connected(vapp: VoiceApp) -> tuple[str, str, str]:
    """A caller connected to agent1001: (interaction id, customer channel, agent leg)."""
    call = vapp.sim.place_call(CALLER, [Press("1"), Press("0"), WaitForAgent(5000)])
    iid: str = await eventually(lambda: next(iter(vapp.voice.by_interaction), None), what="call")
    await eventually(lambda: vapp.cc.get(iid).state == InteractionState.CONNECTED, what="answer")
    leg = vapp.voice.by_interaction[iid].agent_leg
    assert leg is not None
    return iid, call.name, leg


def _bridged(vapp: VoiceApp, one: str, other_prefix: str) -> bool:
    ch = vapp.sim.channels.get(one)
    return (
        ch is not None
        and ch.bridge is not None
        and (ch.bridged_with or "").startswith(other_prefix)
    )


async def _consult_state(vapp: VoiceApp, iid: str, state: str) -> None:
    await eventually(
        lambda: (vapp.cc.get(iid).attributes.get("consult") or {}).get("state") == state,
        what=f"consult {state}",
    )


async def test_consult_number_complete_over_the_api_and_illegal_sequences(vapp: VoiceApp) -> None:
    c, cc, sim = vapp.client, vapp.cc, vapp.sim
    assert set(get_args(ControlBody.model_fields["action"].annotation)) == set(CONTROL_ACTIONS)
    users = UserService(vapp.services.require_sessions())
    agent = await users.create_user(
        "agent1001", PASSWORD, role="agent", endpoint="PJSIP/agent1001", skills={"lang.en": 2}
    )
    r = await c.post("/api/v1/auth/login", json={"username": "agent1001", "password": PASSWORD})
    headers = {"X-CSRF-Token": (await r.json())["csrf_token"]}
    assert (await c.post("/api/v1/console/login", headers=headers)).status == 200
    r = await c.post("/api/v1/console/state", json={"state": "ready"}, headers=headers)
    assert r.status == 200
    sim.set_endpoint(f"PJSIP/{NUMBER}", answer_after=30)  # rings 1.5 s: time to misbehave
    iid, customer, agent_leg = await _connected(vapp)
    assert cc.get(iid).agent_id == agent.id

    async def control(body: dict[str, Any]) -> tuple[int, Any]:
        r = await c.post(f"/api/v1/interactions/{iid}/control", json=body, headers=headers)
        return r.status, await r.json()

    # Nothing to complete or cancel yet; a consult needs exactly one target.
    for action in ("consult_complete", "consult_cancel"):
        status, body = await control({"action": action})
        assert status == 409 and body["error"]["code"] == "consult_conflict", body
    assert (await control({"action": "consult"}))[0] == 422
    both = {"action": "consult", "number": NUMBER, "agent_id": "agent1002"}
    assert (await control(both))[0] == 422
    assert (await control({"action": "consult", "number": "12; Hangup"}))[0] == 422
    assert (await control({"action": "consult", "agent_id": "nobody"}))[0] == 422
    assert sim.channels[customer].bridge is not None  # refusals left the call alone

    status, body = await control({"action": "consult", "number": NUMBER})
    assert status == 200, body
    assert body["consult"] == {"state": "dialing", "target": NUMBER, "kind": "number"}
    assert sim.channels[customer].moh and sim.channels[agent_leg].moh  # both on music
    assert cc.get(iid).attributes["held"] is True
    status, body = await control({"action": "consult", "number": NUMBER})
    assert status == 409 and "already" in body["error"]["message"]
    status, body = await control({"action": "consult_complete"})
    assert status == 409 and "not answered" in body["error"]["message"]
    r = await c.post(
        f"/api/v1/interactions/{iid}/transfer", json={"number": "15550000002"}, headers=headers
    )
    assert r.status == 409  # no blind transfer over a consult
    assert (await control({"action": "hold"}))[0] == 409

    await _consult_state(vapp, iid, "talking")
    assert _bridged(vapp, agent_leg, f"Local/{NUMBER}@outbound")  # private talk
    assert sim.channels[customer].moh  # the caller hears music meanwhile
    status, body = await control({"action": "consult_complete"})
    assert status == 200, body
    assert body["transfer_kind"] == "attended" and body["transferred_to"] == NUMBER
    await eventually(
        lambda: _bridged(vapp, customer, f"Local/{NUMBER}@outbound"), what="caller bridged"
    )
    await eventually(lambda: agent_leg not in sim.channels, what="agent's leg ended")
    assert cc.get(iid).state == InteractionState.WRAP_UP
    r = await c.post(f"/api/v1/interactions/{iid}/wrap-up", json={"disposition": "resolved"},
                     headers=headers)  # fmt: skip
    assert r.status == 200, await r.text()
    contact = await vapp.contact(iid)
    assert contact.outcome == "transferred"
    assert contact.attributes["transferred_to_number"] == NUMBER
    assert contact.attributes["transfer_kind"] == "attended"
    assert contact.hold_s is not None and contact.hold_s > 0  # ringing + consult on music
    assert customer in sim.channels  # the caller talks with the new party
    sim.hangup(customer)


async def test_consult_agent_then_cancel_returns_to_the_caller(vapp: VoiceApp) -> None:
    cc, sim = vapp.cc, vapp.sim
    await vapp.agent("agent1001")
    iid, customer, agent_leg = await _connected(vapp)
    with pytest.raises(ConsultTargetUnavailable):
        await cc.control(iid, "agent1001", "consult", {"agent_id": "agent1002"})  # not in
    with pytest.raises(ConsultTargetUnavailable):
        await cc.control(iid, "agent1001", "consult", {"agent_id": "agent1001"})  # oneself
    assert "hold_started" not in cc.get(iid).attributes  # refused: no hold counted
    await vapp.agent("agent1002", ready=False)  # logged in with a phone, not taking calls
    result = await cc.control(iid, "agent1001", "consult", {"agent_id": "agent1002"})
    assert result["consult"]["kind"] == "agent"
    await _consult_state(vapp, iid, "talking")
    assert _bridged(vapp, agent_leg, "PJSIP/agent1002-")
    target = sim.channels[agent_leg].bridged_with
    await asyncio.sleep(0.1)
    assert await cc.control(iid, "agent1001", "consult_cancel", {}) == {
        "consult": None,
        "cancelled": "agent1002",
    }
    await eventually(lambda: _bridged(vapp, customer, agent_leg), what="agent back with caller")
    await eventually(lambda: target not in sim.channels, what="consulted leg hung up")
    i = cc.get(iid)
    assert i.state == InteractionState.CONNECTED and "consult" not in i.attributes
    assert i.attributes["held"] is False and i.attributes["hold_s"] >= 0.1
    with pytest.raises(ConsultConflict):
        await cc.control(iid, "agent1001", "consult_cancel", {})
    # The call goes on as usual: hold works again and the agent hangs up.
    assert await cc.control(iid, "agent1001", "hold", {}) == {"held": True}
    await cc.hang_up(iid, "agent1001")
    await eventually(lambda: customer not in sim.channels, what="caller hung up")


@pytest.mark.parametrize(
    ("behaviour", "expected"), [({"never_answer": True}, "no_answer"), ({"busy": True}, "busy")]
)
async def test_target_does_not_answer_agent_is_back_and_told(
    vapp: VoiceApp, behaviour: dict[str, bool], expected: str
) -> None:
    cc, sim = vapp.cc, vapp.sim
    frames = _frames(vapp)
    sim.set_endpoint(f"PJSIP/{NUMBER}", **behaviour)
    await vapp.agent("agent1001")
    iid, customer, agent_leg = await _connected(vapp)
    await cc.control(iid, "agent1001", "consult", {"number": NUMBER})
    # 30 s of ringing at the test time scale: 1.5 s.
    await eventually(
        lambda: cc.get(iid).attributes.get("consult_result") == expected, what=expected
    )
    await eventually(lambda: _bridged(vapp, customer, agent_leg), what="back with the caller")
    i = cc.get(iid)
    assert "consult" not in i.attributes and i.attributes["held"] is False
    assert vapp.voice.by_interaction[iid].consult is None
    told = [d for topic, kind, d in frames if kind == "consult_result"]
    assert told == [{"interaction_id": iid, "result": expected}]
    assert any(
        kind == "interaction" and d["id"] == iid and d["consult"] is None for _, kind, d in frames
    )
    assert not any(n.startswith(f"Local/{NUMBER}") for n in sim.channels)


async def test_target_hangs_up_during_the_consult(vapp: VoiceApp) -> None:
    cc, sim = vapp.cc, vapp.sim
    frames = _frames(vapp)
    await vapp.agent("agent1001")
    iid, customer, agent_leg = await _connected(vapp)
    await cc.control(iid, "agent1001", "consult", {"number": NUMBER})
    await _consult_state(vapp, iid, "talking")
    target = sim.channels[agent_leg].bridged_with
    assert target is not None
    sim.hangup(target)  # the outside party hangs up
    await eventually(lambda: _bridged(vapp, customer, agent_leg), what="back with the caller")
    assert agent_leg in sim.channels  # Bridge(...,F()) sent the agent's phone back, not away
    i = cc.get(iid)
    assert i.attributes["consult_result"] == "target_hung_up"
    assert i.state == InteractionState.CONNECTED and i.attributes["held"] is False
    assert ("consult_result", {"interaction_id": iid, "result": "target_hung_up"}) in [
        (kind, d) for _, kind, d in frames
    ]


async def test_caller_hangs_up_during_the_consult(vapp: VoiceApp) -> None:
    cc, sim = vapp.cc, vapp.sim
    await vapp.agent("agent1001")
    iid, customer, agent_leg = await _connected(vapp)
    await vapp.agent("agent1002", ready=False)
    await cc.control(iid, "agent1001", "consult", {"agent_id": "agent1002"})
    await _consult_state(vapp, iid, "talking")
    target = sim.channels[agent_leg].bridged_with
    sim.hangup(customer)
    await eventually(lambda: cc.get(iid).state == InteractionState.WRAP_UP, what="wrap-up")
    # The agent keeps the consulted party until one of them hangs up.
    await asyncio.sleep(0.2)
    assert agent_leg in sim.channels and _bridged(vapp, agent_leg, target or "?")
    assert cc.get(iid).attributes["consult_result"] == "caller_left"
    await cc.wrap_up(iid, "agent1001", disposition="resolved", notes=None, fcr=None)
    contact = await vapp.contact(iid)
    assert contact.outcome == "answered" and "transfer_kind" not in contact.attributes
    assert contact.hold_s is not None and contact.hold_s > 0
    sim.hangup(agent_leg)
    await eventually(lambda: target not in sim.channels, what="consult over")


async def test_target_gone_while_the_ami_link_was_down(vapp: VoiceApp) -> None:
    """The consulted party hangs up while ccserver is blind (the AMI link dropped): the
    reconciliation after the reconnect ends the consult as if the hang-up had been seen,
    and the agent is back with the caller instead of stuck in a consult that is over."""
    cc, voice, sim = vapp.cc, vapp.voice, vapp.sim
    await vapp.agent("agent1001")
    iid, customer, agent_leg = await _connected(vapp)
    await cc.control(iid, "agent1001", "consult", {"number": NUMBER})
    await _consult_state(vapp, iid, "talking")
    target = sim.channels[agent_leg].bridged_with
    assert target is not None and voice.conn is not None
    resyncs = voice.resyncs
    sim.drop_connections()
    sim.hangup(target)
    await eventually(lambda: voice.resyncs > resyncs, what="reconnected and reconciled")
    await eventually(lambda: _bridged(vapp, customer, agent_leg), what="back with the caller")
    i = cc.get(iid)
    assert i.attributes["consult_result"] == "target_hung_up"
    assert i.state == InteractionState.CONNECTED and not i.attributes.get("consult")


@pytest.mark.parametrize("stage", ["dialing", "talking"])
async def test_agent_phone_hangs_up_during_the_consult_caller_goes_back_to_the_queue(
    vapp: VoiceApp, stage: str
) -> None:
    """The agent's phone drops mid-consult (ringing or talking): the consulted leg ends
    with it, and the caller is queued again rather than left on music or hung up on."""
    cc, sim = vapp.cc, vapp.sim
    if stage == "dialing":
        sim.set_endpoint(f"PJSIP/{NUMBER}", never_answer=True)
    await vapp.agent("agent1001")
    iid, customer, agent_leg = await _connected(vapp)
    await cc.control(iid, "agent1001", "consult", {"number": NUMBER})
    await _consult_state(vapp, iid, stage)
    await cc.agent_not_ready("agent1001", "break")  # nobody is free: the caller must wait
    sim.hangup(agent_leg)
    i = cc.get(iid)
    await eventually(lambda: "transferred_to" in i.attributes, what="requeued")
    leg = cc.get(i.attributes["transferred_to"])
    await eventually(lambda: leg.state == InteractionState.QUEUED, what="back in the queue")
    assert leg.queue == i.queue and customer in sim.channels  # never hung up on
    assert i.attributes["consult_result"] == "agent_left"
    await eventually(
        lambda: not any(NUMBER in n for n in sim.channels), what="the consulted leg gone"
    )
