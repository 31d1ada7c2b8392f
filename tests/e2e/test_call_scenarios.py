"""Voice scenarios over real TCP with the simulator: an agent who never answers (RONA, the
call goes back to the head of the queue), callers who give up in the queue or in the IVR,
the AMI link dropping mid-call, outbound dialling results and supervisor monitoring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_call_harness import CALLER, OTHER_CALLER, VoiceApp, eventually, voice_app

from ccserver.domain import InteractionState
from ccserver.simulator import Hangup, Press, Step, Talk, Wait, WaitForAgent


@pytest.fixture
async def vapp(tmp_path: Path) -> AsyncIterator[VoiceApp]:
    async for v in voice_app(tmp_path):
        yield v


async def _queued(vapp: VoiceApp, caller: str, digits: str = "10") -> tuple[str, object]:
    """A caller who picks English and 'agent' and then waits; returns (interaction, call)
    once the IVR has routed it (queued, or already offered / connected)."""
    known = set(vapp.voice.by_interaction)
    steps = [Press(d) for d in digits]
    call = vapp.sim.place_call(caller, [*steps, WaitForAgent(5000)])
    iid: str = await eventually(
        lambda: next((k for k in vapp.voice.by_interaction if k not in known), None),
        what="interaction",
    )
    past_ivr = (InteractionState.QUEUED, InteractionState.OFFERED, InteractionState.CONNECTED)
    await eventually(lambda: vapp.cc.get(iid).state in past_ivr, what=f"{caller} queued")
    return iid, call


async def test_agent_who_never_answers_goes_rona_and_call_returns_to_head(
    vapp: VoiceApp,
) -> None:
    cc, sim = vapp.cc, vapp.sim
    sim.set_endpoint("PJSIP/agent1001", never_answer=True)
    first, first_call = await _queued(vapp, CALLER)
    await asyncio.sleep(0.1)
    second, _ = await _queued(vapp, OTHER_CALLER)
    await vapp.agent("agent1001")
    await eventually(lambda: cc.get(first).state == InteractionState.OFFERED, what="offer")
    # The phone rings (a PJSIP/agent1001 channel exists) but nobody picks up.
    await eventually(
        lambda: any(n.startswith("PJSIP/agent1001-") for n in sim.channels), what="ringing"
    )
    # Offer timeout (2 s): RONA for the agent, the call back in the queue, never dropped.
    await eventually(
        lambda: cc.routing.snapshot()["agents"]["agent1001"]["state"] == "rona",
        limit=6,
        what="rona",
    )
    assert cc.get(first).state == InteractionState.QUEUED
    assert first_call.name in sim.channels  # type: ignore[attr-defined]
    assert not any(n.startswith("PJSIP/agent1001-") for n in sim.channels)
    # The next agent gets the first caller (head of the queue), not the later one.
    await vapp.agent("agent1002")
    await eventually(lambda: cc.get(first).state == InteractionState.CONNECTED, what="first")
    assert cc.get(first).agent_id == "agent1002"
    assert cc.get(second).state == InteractionState.QUEUED


async def test_caller_abandons_in_queue(vapp: VoiceApp) -> None:
    call = vapp.sim.place_call(CALLER, [Press("1"), Press("0"), WaitForAgent(20), Hangup()])
    iid = await eventually(lambda: next(iter(vapp.voice.by_interaction), None), what="call")
    await eventually(lambda: vapp.cc.get(iid).state == InteractionState.QUEUED, what="queued")
    assert await asyncio.wait_for(call.finished, 5) == 16 and call.abandoned
    contact = await vapp.contact(iid)
    assert contact.outcome == "abandoned_queue" and contact.queue == "general"
    assert contact.wait_s is not None and 0.5 <= contact.wait_s < 5  # 20 s * 0.05 scale
    assert contact.answered_at is None and contact.agent_id is None
    assert iid not in vapp.cc.interactions and not vapp.voice.calls


async def test_caller_hangs_up_in_ivr(vapp: VoiceApp) -> None:
    call = vapp.sim.place_call(CALLER, [Press("2"), Wait(2), Hangup()])
    iid = await eventually(lambda: next(iter(vapp.voice.by_interaction), None), what="call")
    await asyncio.wait_for(call.finished, 5)
    contact = await vapp.contact(iid)
    assert contact.outcome == "abandoned_ivr" and contact.queued_at is None
    nodes = [n["node"] for n in contact.ivr_path]
    assert nodes[0] == "language" and len(nodes) >= 2
    assert contact.attributes["ivr_inputs"]["language"] == "2"
    assert contact.attributes["language"] == "ja"  # the caller chose Japanese


async def test_ami_disconnect_mid_call_reconciles_vanished_calls(vapp: VoiceApp) -> None:
    cc, voice, sim = vapp.cc, vapp.voice, vapp.sim
    await vapp.agent("agent1001")
    gone_iid, gone_call = await _queued(vapp, CALLER)
    await eventually(lambda: cc.get(gone_iid).state == InteractionState.CONNECTED, what="connected")
    kept_iid, kept_call = await _queued(vapp, OTHER_CALLER)
    assert voice.conn is not None
    reconnects = voice.conn.reconnects
    # The link drops and, while ccserver is blind, the connected caller hangs up.
    sim.drop_connections()
    sim.hangup(gone_call.name)  # type: ignore[attr-defined]
    await eventually(lambda: voice.conn.reconnects > reconnects, what="reconnect")  # type: ignore[union-attr]
    await eventually(lambda: gone_iid not in voice.by_interaction, what="reconciled")
    assert voice.reconciled == 1
    i = cc.interactions.get(gone_iid)
    assert i is None or i.state == InteractionState.WRAP_UP  # never left connected
    # The caller still on the line is kept, and still served after the outage.
    assert cc.get(kept_iid).state == InteractionState.QUEUED
    await cc.wrap_up(gone_iid, "agent1001", disposition="resolved", notes=None, fcr=None)
    contact = await vapp.contact(gone_iid)
    assert contact.outcome == "answered" and contact.ended_at is not None
    await eventually(
        lambda: cc.get(kept_iid).state == InteractionState.CONNECTED, what="kept call served"
    )
    assert kept_call.connected_to is not None  # type: ignore[attr-defined]


async def test_dial_out_results(vapp: VoiceApp) -> None:
    voice, sim = vapp.voice, vapp.sim
    sim.set_endpoint("PJSIP/15550000001", answer_after=0.5)
    sim.set_endpoint("PJSIP/15550000002", busy=True)
    sim.set_endpoint("PJSIP/15550000003", never_answer=True)
    answered, busy, silent = await asyncio.gather(
        voice.dial_out("+1 555 000 0001", "Service <15550009999>", 20),
        voice.dial_out("15550000002", None, 20),
        voice.dial_out("15550000003", None, 20),
    )
    assert answered.result == "answered" and answered.channel is not None
    assert answered.channel in sim.channels
    assert (busy.result, busy.channel) == ("busy", None)
    assert (silent.result, silent.channel) == ("no_answer", None)
    await voice.hangup(answered.channel)
    await eventually(lambda: answered.channel not in sim.channels, what="hung up")


async def test_supervisor_monitor_modes_originate_chanspy(vapp: VoiceApp) -> None:
    cc, sim = vapp.cc, vapp.sim
    await vapp.agent("agent1001")
    iid, call = await _queued(vapp, CALLER)
    await eventually(lambda: cc.get(iid).state == InteractionState.CONNECTED, what="connected")
    adapter = cc.adapters[cc.get(iid).channel]
    result = await adapter.control(
        cc.get(iid),
        "monitor",
        {"mode": "whisper", "supervisor_id": "sup", "endpoint": "PJSIP/supervisor"},
    )
    assert result["target"].startswith("PJSIP/agent1001-")
    spy = await eventually(
        lambda: next((c for c in sim.channels.values() if c.spying_on is not None), None),
        what="spy channel",
    )
    assert spy.name.startswith("PJSIP/supervisor-") and spy.variables["SPY_MODE"] == "whisper"
    assert spy.spying_on.name == result["target"]
    sim.hangup(call.name)  # type: ignore[attr-defined]
    await eventually(lambda: spy.name not in sim.channels, what="spy ends with the call")
    _ = Talk  # script step kept available for longer calls


async def test_long_wait_offers_callback_and_caller_accepts(vapp: VoiceApp) -> None:
    cc, voice = vapp.cc, vapp.voice
    voice.callback_offer_after_s = 0.0  # every wait counts as long here
    # After the menu, a pause (so "1" is not taken as barge-in on "please hold"), then "1"
    # at the first prompt that listens: the callback offer after the announcement.
    script: list[Step] = [Press("1"), Press("0"), Wait(4), Press("1"), WaitForAgent(100)]
    call = vapp.sim.place_call(CALLER, script)
    iid = await eventually(lambda: next(iter(voice.by_interaction), None), what="call")
    await asyncio.wait_for(call.finished, 5)
    contact = await vapp.contact(iid)
    assert contact.outcome == "callback_requested" and contact.queue == "general"
    callback = next(i for i in cc.interactions.values() if i.channel.value == "callback")
    assert callback.state == InteractionState.QUEUED and callback.queue == "general"
    assert callback.attributes["callback_number"] == "+12025550143"
    assert callback.attributes["related_contact_id"] == contact.id
    assert callback.customer_id == contact.customer_id is not None


async def test_order_status_self_service_resolves_without_an_agent(vapp: VoiceApp) -> None:
    from ccserver.crm.orders import OrderService

    await OrderService(vapp.services.require_sessions()).create(
        {"order_number": "55501", "status": "shipped", "shipped_at": "2026-11-20T09:00:00+00:00",
         "total": "12.50", "currency": "USD"}
    )  # fmt: skip
    # English, orders, order status, order number + '#', then 9 = goodbye.
    script: list[Step] = [Press("1"), Press("1"), Press("1"), Press("55501#"), Press("9")]
    call = vapp.sim.place_call(CALLER, script)
    iid = await eventually(lambda: next(iter(vapp.voice.by_interaction), None), what="call")
    await asyncio.wait_for(call.finished, 5)
    contact = await vapp.contact(iid)
    assert contact.outcome == "self_service" and contact.queued_at is None
    nodes = [n["node"] for n in contact.ivr_path]
    assert "order_status" in nodes and nodes[-1] == "goodbye"
    assert contact.attributes["ivr_inputs"]["order_number"] == "55501"
    assert not call.abandoned and vapp.voice.calls == {}


async def test_blind_transfer_to_outside_number(vapp: VoiceApp) -> None:
    cc, sim = vapp.cc, vapp.sim
    sim.set_endpoint("PJSIP/15550000001", answer_after=1)
    await vapp.agent("agent1001")
    iid, call = await _queued(vapp, CALLER)
    await eventually(lambda: cc.get(iid).state == InteractionState.CONNECTED, what="connected")
    result = await cc.control(iid, "agent1001", "transfer", {"number": "15550000001"})
    assert result == {"transferring_to": "15550000001"}
    # The customer is bridged with the outside party; the agent's part ends in wrap-up.
    name = call.name  # type: ignore[attr-defined]
    await eventually(
        lambda: (sim.channels[name].bridged_with or "").startswith("Local/15550000001@outbound"),
        what="bridged with the number",
    )
    await eventually(lambda: cc.get(iid).state == InteractionState.WRAP_UP, what="wrap-up")
    assert not any(n.startswith("PJSIP/agent1001-") for n in sim.channels)
    assert name in sim.channels  # the customer was not dropped
    await cc.wrap_up(iid, "agent1001", disposition="resolved", notes=None, fcr=None)
    contact = await vapp.contact(iid)
    assert contact.outcome == "transferred"
    assert contact.attributes["transferred_to_number"] == "15550000001"
    sim.hangup(name)


async def test_ami_drop_during_ivr_caller_is_queued_after_reconnect(vapp: VoiceApp) -> None:
    cc, voice, sim = vapp.cc, vapp.voice, vapp.sim
    # An unknown caller: after the language the IVR asks for an account number (8 s input).
    call = sim.place_call("2025550999", [Press("1"), WaitForAgent(2000)])
    iid = await eventually(lambda: next(iter(voice.by_interaction), None), what="call")
    ch = sim.channels[call.name]
    await eventually(lambda: call.pressed == ["1"] and ch.listening.is_set(), what="account")
    sim.drop_connections()  # the GET DATA result is lost with the link
    await eventually(lambda: voice.resyncs >= 1, what="reconnected and reconciled")
    await eventually(lambda: cc.get(iid).state == InteractionState.QUEUED, what="queued")
    i = cc.get(iid)
    assert i.queue == voice.fallback_queue and i.attributes["ivr_interrupted"] is True
    assert [n["node"] for n in i.attributes["ivr_path"]][:3] == ["language", "welcome", "identify"]
    await eventually(lambda: sim.channels[call.name].moh, what="music again")
    await vapp.agent("agent1001")
    await eventually(lambda: i.state == InteractionState.CONNECTED, what="served")
    assert voice.reconciled == 0  # nobody vanished
