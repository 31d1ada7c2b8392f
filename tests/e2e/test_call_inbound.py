"""Issue 5's "done when", end to end over real TCP: a simulated caller dials in, picks IVR
options, waits hearing position announcements, is connected to a logged-in agent, is put on
hold, transferred to another queue and agent, hangs up; both legs are contacts in the CRM
with their times (wait, talk, hold) and the IVR path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_call_harness import CALLER, VoiceApp, eventually, voice_app

from ccserver.channels.voice.calls import Phase
from ccserver.crm.customers import CustomerService
from ccserver.domain import InteractionState
from ccserver.simulator import Press, WaitForAgent


@pytest.fixture
async def vapp(tmp_path: Path) -> AsyncIterator[VoiceApp]:
    async for v in voice_app(tmp_path):
        yield v


async def test_call_ivr_queue_agent_hold_transfer_hangup(vapp: VoiceApp) -> None:
    cc, voice, sim = vapp.cc, vapp.voice, vapp.sim
    customer = await CustomerService(vapp.services.require_sessions()).find_by_phone(
        "+1 202 555 0143"
    )
    assert customer is not None
    await vapp.agent("agent1001", ready=False)
    # 1 = English, then 0 = "talk to an agent" in the main menu.
    call = sim.place_call(CALLER, [Press("1"), Press("0"), WaitForAgent(2000)])

    # The IVR identified the caller by caller ID and routed to "general"; waiting.
    iid = await eventually(
        lambda: next(iter(voice.by_interaction), None), what="an interaction for the call"
    )
    i = cc.get(iid)
    assert i.attributes["caller_id"] == "+12025550143"
    await eventually(lambda: i.state == InteractionState.QUEUED, what="queued")
    assert i.customer_id == customer.id
    assert i.queue == "general" and i.skills == {"lang.en": 1}
    assert [n["node"] for n in i.attributes["ivr_path"]][:2] == ["language", "welcome"]
    assert i.attributes["ivr_inputs"]["main_menu"] == "0"
    # Music on hold and at least two position announcements (every 0.3 s).
    ch = sim.channels[call.name]
    assert ch.moh
    vcall = voice.by_interaction[iid]
    await eventually(lambda: len(vcall.announcements) >= 2, what="two announcements")
    assert vcall.announcements[0][0] == 1  # first in line

    # The agent gets ready: the phone rings, answers (~50 ms), the call is connected.
    waited_from = time.monotonic()
    await cc.agent_ready("agent1001")
    await eventually(lambda: i.state == InteractionState.CONNECTED, what="connected")
    assert call.connected_to is not None and call.connected_to.startswith("PJSIP/agent1001-")
    assert i.agent_id == "agent1001"

    # Hold (both sides on music), then back together.
    assert await cc.control(iid, "agent1001", "hold", {}) == {"held": True}
    assert vcall.phase == Phase.HELD and sim.channels[call.name].moh
    await asyncio.sleep(0.4)
    assert await cc.control(iid, "agent1001", "unhold", {}) == {"held": False}
    await eventually(lambda: sim.channels[call.name].bridge is not None, what="re-bridged")
    rec = await cc.control(iid, "agent1001", "record", {})
    assert rec["recording_ref"] == f"{iid}.wav"
    assert sim.channels[call.name].recording == rec["recording_ref"]

    # Blind transfer to the billing queue: agent 1002 (ready) takes the new leg.
    await vapp.agent("agent1002", billing=2)
    await asyncio.sleep(0.2)
    await cc.transfer_to_queue(iid, "agent1001", "billing")
    leg_id = i.attributes["transferred_to"]
    leg = cc.get(leg_id)
    await eventually(lambda: leg.state == InteractionState.CONNECTED, what="second leg connected")
    assert leg.agent_id == "agent1002"
    assert (sim.channels[call.name].bridged_with or "").startswith("PJSIP/agent1002-")
    await cc.wrap_up(iid, "agent1001", disposition="escalated", notes="to billing", fcr=False)

    # The customer hangs up; agent 1002 wraps up.
    await asyncio.sleep(0.3)
    sim.hangup(call.name)
    assert await asyncio.wait_for(call.finished, 5) == 16
    await eventually(lambda: leg.state == InteractionState.WRAP_UP, what="second leg wrap-up")
    await cc.wrap_up(leg_id, "agent1002", disposition="resolved", notes=None, fcr=True)
    elapsed = time.monotonic() - waited_from

    first = await vapp.contact(iid)
    second = await vapp.contact(leg_id)
    assert first.outcome == "transferred" and first.disposition == "escalated"
    assert first.customer_id == customer.id and first.queue == "general"
    assert first.agent_id == "agent1001" and first.recording_ref == f"{iid}.wav"
    assert first.wait_s is not None and 0.5 <= first.wait_s < 10  # two announcements' worth
    assert first.hold_s is not None and 0.35 <= first.hold_s < 2
    assert first.talk_s is not None and 0 < first.talk_s < elapsed
    assert first.ivr_path and first.ivr_path[0]["node"] == "language"
    assert second.related_contact_id == first.id
    assert second.outcome == "answered" and second.agent_id == "agent1002"
    assert second.queue == "billing" and second.hold_s == 0
    assert second.talk_s is not None and second.talk_s >= 0.25
    assert second.wait_s is not None and second.wait_s < 5
    assert not cc.interactions and not voice.calls
