"""A phone follow-up made through the simulator: when due, the scheduler turns it into an
outbound FOLLOW_UP interaction routed to its questioner; the agent accepts; the customer is
dialled with Originate (the built-in Asterisk simulator answers as the customer's phone) and
bridged to the agent's phone; the follow-up is started and the dial result kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_call_harness import CALLER, VoiceApp, eventually, voice_app

from ccserver.crm.customers import CustomerService
from ccserver.domain import Channel, InteractionState
from ccserver.runtime.scheduler import workflows_of


@pytest.fixture
async def vapp(tmp_path: Path) -> AsyncIterator[VoiceApp]:
    async for v in voice_app(tmp_path):
        yield v


async def test_due_phone_follow_up_is_routed_to_its_agent_and_dialled(vapp: VoiceApp) -> None:
    services = vapp.services
    customer = await CustomerService(services.require_sessions()).find_by_phone(f"+1{CALLER}")
    assert customer is not None
    vapp.sim.set_endpoint(f"PJSIP/1{CALLER}", answer_after=0.2)  # the customer picks up
    await vapp.agent("agent1001")
    followups = workflows_of(services).followups
    now = dt.datetime.now(dt.UTC)
    fu = await followups.create(
        customer_id=customer.id, purpose="check the replacement arrived", channel="phone",
        questioner_id="agent1001", scheduled_at=now - dt.timedelta(minutes=1),
    )  # fmt: skip
    placed = await services.extras["workflow_jobs"].start_due_followups(now)
    assert fu["id"] in placed["called"], placed

    def follow_up_interaction() -> str | None:
        return next(
            (i.id for i in vapp.cc.interactions.values()
             if i.channel == Channel.FOLLOW_UP and i.attributes.get("follow_up_id") == fu["id"]),
            None,
        )  # fmt: skip

    iid: str = await eventually(follow_up_interaction, what="follow-up interaction")
    await eventually(lambda: vapp.cc.offers.get(iid, ("",))[0] == "agent1001", what="offer")
    await vapp.cc.accept(iid, "agent1001")
    i = vapp.cc.get(iid)
    assert i.state == InteractionState.CONNECTED
    await eventually(
        lambda: i.attributes.get("dial_result") == "answered", what="customer answered"
    )
    customer_leg = i.attributes["callback_channel"]
    await eventually(
        lambda: (vapp.sim.channels.get(customer_leg) is not None
                 and vapp.sim.channels[customer_leg].bridged_with is not None),
        what="customer bridged to the agent's phone",
    )  # fmt: skip

    async def status() -> str:
        return str((await followups.get(fu["id"]))["status"])

    # The dial result is noted on the interaction just before the follow-up is started.
    async def started() -> bool:
        return await status() == "in_progress"

    await eventually(started, what="follow-up started")
    assert await status() == "in_progress"
