"""The live contact center over real parts: routing engine, in-memory bus, the durable outbox
and the CRM database (SQLite and PostgreSQL). A customer's interaction is offered to a ready
agent with a screen pop, accepted, ended, wrapped up, and lands as a contact row."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ccserver.bus import InMemoryBus
from ccserver.crm.customers import CustomerService
from ccserver.crm.database import create_engine, session_factory
from ccserver.crm.migrate import upgrade_engine
from ccserver.crm.models import Contact
from ccserver.crm.outbox import Outbox
from ccserver.domain import Channel, InteractionState
from ccserver.errors import Conflict, ValidationFailed
from ccserver.runtime.contact_center import AgentInfo, ContactCenter
from ccserver.runtime.contacts_writer import ContactsWriter
from ccserver.runtime.screen_pop import build_screen_pop
from routing.config import parse_routing_config
from routing.engine import RoutingEngine

ROUTING = {
    "routing": {"offer_timeout": 20.0},
    "queues": {"support": {"strategy": "longest_idle"}, "billing": {}},
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def center(
    db_url: str, tmp_path: Path
) -> AsyncIterator[tuple[ContactCenter, Any, Clock, Outbox]]:
    engine = create_engine(db_url)
    await upgrade_engine(engine)
    sessions = session_factory(engine)
    outbox = Outbox(engine, tmp_path / "journal.db")
    await outbox.start()
    bus = InMemoryBus()
    await bus.start()
    clock = Clock()
    cc = ContactCenter(
        RoutingEngine(parse_routing_config(ROUTING, "test")),
        bus,
        ContactsWriter(outbox),
        partial(build_screen_pop, sessions),
        dispositions=("resolved", "info_given"),
        disposition_required=True,
        clock=clock,
    )
    try:
        yield cc, sessions, clock, outbox
    finally:
        await cc.close()
        await bus.close()
        await outbox.close()
        await engine.dispose()


async def _next(sub: Any, kind: str) -> dict[str, Any]:
    async def find() -> dict[str, Any]:
        async for m in sub:
            if m.data["type"] == kind:
                return dict(m.data["data"])
        raise AssertionError("subscription ended")

    return await asyncio.wait_for(find(), 5)


async def test_offer_pops_the_customer_and_the_contact_is_written(center: Any) -> None:
    cc, sessions, clock, outbox = center
    customer = await CustomerService(sessions).create(
        {"display_name": "Hanako Sato", "phones": ["+81 3-1234-5678"], "tier": "vip"}
    )
    await cc.agent_login(AgentInfo("u1", "agent1", "Agent One", "PJSIP/agent1001"))
    async with cc.bus.subscribe(["agent.u1"]) as sub:
        await cc.agent_ready("u1")
        i = await cc.new_interaction(
            Channel.VOICE, customer_id=customer.id, attributes={"caller_id": "+81312345678"}
        )
        clock.now += 12
        await cc.enqueue(i.id, "support")
        offer = await _next(sub, "offer")
    assert offer["interaction"]["id"] == i.id
    assert offer["screen_pop"]["customer"]["name"] == "Hanako Sato"
    assert offer["screen_pop"]["routing"]["queue"] == "support"

    with pytest.raises(Conflict):
        await cc.accept(i.id, "someone-else")
    await cc.accept(i.id, "u1")
    clock.now += 90
    await cc.hang_up(i.id, "u1")
    assert cc.get(i.id).state == InteractionState.WRAP_UP
    with pytest.raises(ValidationFailed):
        await cc.wrap_up(i.id, "u1", disposition=None, notes=None, fcr=None)
    clock.now += 15
    await cc.wrap_up(i.id, "u1", disposition="resolved", notes="explained delivery", fcr=True)

    await outbox.flush()
    async with sessions() as s:
        row = (await s.scalars(select(Contact).where(Contact.interaction_id == i.id))).one()
    assert (row.outcome, row.disposition, row.agent_id, row.fcr) == (
        "answered",
        "resolved",
        "u1",
        True,
    )
    assert row.wait_s == pytest.approx(0.0, abs=0.01)
    assert row.talk_s == pytest.approx(90.0, abs=0.01)
    assert row.wrap_s == pytest.approx(15.0, abs=0.01)
    assert row.customer_id == customer.id


async def test_caller_who_hangs_up_in_queue_is_written_as_abandoned(center: Any) -> None:
    cc, sessions, clock, outbox = center
    i = await cc.new_interaction(Channel.VOICE, attributes={"caller_id": "+15551230000"})
    await cc.enqueue(i.id, "billing")
    clock.now += 33
    await cc.customer_left(i.id)
    await outbox.flush()
    async with sessions() as s:
        row = (await s.scalars(select(Contact).where(Contact.interaction_id == i.id))).one()
    assert row.outcome == "abandoned_queue"
    assert row.wait_s == pytest.approx(33.0, abs=0.01)
    assert row.agent_id is None


async def test_rejected_offer_goes_to_the_next_agent(center: Any) -> None:
    cc, _sessions, clock, _outbox = center
    await cc.agent_login(AgentInfo("u1", "a1", "A1", None))
    await cc.agent_login(AgentInfo("u2", "a2", "A2", None))
    await cc.agent_ready("u1")
    clock.now += 1
    await cc.agent_ready("u2")
    i = await cc.new_interaction(Channel.CHAT)
    await cc.enqueue(i.id, "support")
    first = cc.offers[i.id][0]
    await cc.reject(i.id, first)
    second = cc.offers[i.id][0]
    assert second != first
    wall = await cc.wallboard_snapshot()
    states = {a["id"]: a["state"] for a in wall["agents"]}
    assert states[first] == "rona" and states[second] == "reserved"


async def test_wrap_up_that_runs_out_closes_the_contact_without_disposition(center: Any) -> None:
    cc, sessions, clock, outbox = center
    await cc.agent_login(AgentInfo("u1", "a1", "A1", None))
    await cc.agent_ready("u1")
    i = await cc.new_interaction(Channel.VOICE)
    await cc.enqueue(i.id, "support")
    await cc.accept(i.id, "u1")
    clock.now += 30
    await cc.customer_left(i.id)
    clock.now += cc.routing.config.agents.wrap_up_timeout + 1
    await cc._apply(cc.routing.tick(clock.now))
    assert i.id not in cc.interactions
    await outbox.flush()
    async with sessions() as s:
        row = (await s.scalars(select(Contact).where(Contact.interaction_id == i.id))).one()
    assert row.outcome == "answered" and row.disposition is None
    assert row.attributes.get("wrap_up_timed_out") is True
    assert (await cc.wallboard_snapshot())["agents"][0]["state"] == "ready"
