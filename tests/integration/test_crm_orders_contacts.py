"""Orders, contacts (filtered, paginated listings), messages and the audit query."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.audit import Actor, AuditLog
from ccserver.crm.contacts import ContactFilters, ContactService, contact_to_json
from ccserver.crm.customers import CustomerService
from ccserver.crm.errors import (
    ContactNotFound,
    CustomerNotFound,
    DuplicateOrder,
    OrderNotFound,
    ValidationFailed,
)
from ccserver.crm.orders import OrderService

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


async def test_orders(sessions: async_sessionmaker[AsyncSession]) -> None:
    customers = CustomerService(sessions)
    orders = OrderService(sessions)
    c = await customers.create({"display_name": "Olga", "phone": "+1 212 555 0100"})
    o = await orders.create(
        {
            "order_number": " A-1 ",
            "customer_id": c.id,
            "total": "19.9",
            "currency": "usd",
            "ordered_at": "2026-03-01T10:00:00+01:00",
        }
    )
    assert (o.order_number, o.total, o.currency, o.status) == (
        "A-1",
        Decimal("19.90"),
        "USD",
        "placed",
    )
    assert o.ordered_at == dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    await orders.create({"order_number": "A-2", "customer_id": c.id, "ordered_at": T0})
    with pytest.raises(DuplicateOrder):
        await orders.create({"order_number": "A-1"})
    with pytest.raises(ValidationFailed) as info:
        await orders.create(
            {"total": -1, "currency": "euro", "status": "lost", "ordered_at": "2026-01-01T00:00"}
        )
    assert set(info.value.details["fields"]) == {
        "order_number",
        "total",
        "currency",
        "status",
        "ordered_at",
    }
    with pytest.raises(CustomerNotFound):
        await orders.create({"order_number": "A-3", "customer_id": "ghost"})
    shipped = await orders.update(o.id, {"status": "shipped", "carrier": "UPS", "shipped_at": T0})
    assert (shipped.status, shipped.carrier) == ("shipped", "UPS")
    with pytest.raises(ValidationFailed):
        await orders.update(o.id, {"order_number": "B-1"})
    with pytest.raises(OrderNotFound):
        await orders.update("nope", {"status": "paid"})
    page = await orders.list(customer_id=c.id)
    assert [x.order_number for x in page.items] == ["A-2", "A-1"]  # newest first
    assert (await orders.list(status="shipped")).total == 1
    assert (await orders.get_by_number("A-2")).customer_id == c.id
    assert (await orders.get(o.id)).to_json()["total"] == "19.90"


async def test_contacts_filters_and_pagination(sessions: async_sessionmaker[AsyncSession]) -> None:
    customers = CustomerService(sessions)
    contacts = ContactService(sessions)
    c = await customers.create({"display_name": "Pia"})
    rows = [
        ("voice", "sales", "a1", c.id, 0),
        ("chat", "sales", "a2", c.id, 1),
        ("email", "support", "a1", None, 2),
        ("voice", "support", None, None, 3),
    ]
    made = []
    for channel, queue, agent, cust, hours in rows:
        made.append(
            await contacts.record(
                {
                    "interaction_id": f"i{hours}",
                    "channel": channel,
                    "queue": queue,
                    "agent_id": agent,
                    "customer_id": cust,
                    "started_at": T0 + dt.timedelta(hours=hours),
                    "outcome": "answered" if agent else "abandoned_queue",
                    "wait_s": 12.5,
                    "ivr_path": ["main", "2"],
                }
            )
        )

    async def ids(**kw: object) -> list[str]:
        page = await contacts.list(ContactFilters(**kw))  # type: ignore[arg-type]
        return [x.interaction_id for x in page.items]

    assert await ids() == ["i3", "i2", "i1", "i0"]
    assert await ids(customer_id=c.id) == ["i1", "i0"]
    assert await ids(agent_id="a1") == ["i2", "i0"]
    assert await ids(queue="support", channel="voice") == ["i3"]
    assert await ids(outcome="abandoned_queue") == ["i3"]
    assert await ids(
        started_from=T0 + dt.timedelta(hours=1), started_to=T0 + dt.timedelta(hours=3)
    ) == ["i2", "i1"]
    page = await contacts.list(limit=3, offset=3)
    assert ([x.interaction_id for x in page.items], page.total) == (["i0"], 4)
    got = await contacts.get(made[0].id)
    assert got.started_at == T0 and got.ivr_path == ["main", "2"]
    assert contact_to_json(got)["started_at"] == T0.isoformat()
    with pytest.raises(ContactNotFound):
        await contacts.get("missing")
    with pytest.raises(ValidationFailed) as info:
        await contacts.record(
            {"channel": "fax", "started_at": dt.datetime(2026, 1, 1), "wait_s": -1, "x": 1}
        )
    assert set(info.value.details["fields"]) == {
        "interaction_id",
        "channel",
        "started_at",
        "wait_s",
        "x",
    }


async def test_messages_of_a_contact(sessions: async_sessionmaker[AsyncSession]) -> None:
    contacts = ContactService(sessions)
    c = await contacts.record({"interaction_id": "m1", "channel": "email", "started_at": T0})
    await contacts.add_message(
        c.id, {"direction": "inbound", "sender": "x@y.org", "body_text": "hi", "created_at": T0}
    )
    await contacts.add_message(
        c.id,
        {
            "direction": "outbound",
            "body_text": "hello",
            "in_reply_to": "<a@b>",
            "created_at": T0 + dt.timedelta(minutes=5),
        },
    )
    assert [m.body_text for m in await contacts.messages(c.id)] == ["hi", "hello"]
    with pytest.raises(ContactNotFound):
        await contacts.add_message("nope", {"direction": "inbound"})
    with pytest.raises(ValidationFailed):
        await contacts.add_message(c.id, {"body": "no direction"})


async def test_audit_record_and_query(sessions: async_sessionmaker[AsyncSession]) -> None:
    log = AuditLog(sessions)
    await log.record("alice", "read", "customer", "c1", "10.0.0.1", {"via": "screen_pop"})
    await log.record(Actor("bob", "admin"), "update", "customer", "c1", ip="10.0.0.2")
    await log.record("alice", "read", "customer", "c2")
    assert [e.entity_id for e in await log.query(actor="alice")] == ["c2", "c1"]
    c1 = await log.query(entity="customer", entity_id="c1")
    assert [(e.actor, e.action, e.ip) for e in c1] == [
        ("bob", "update", "10.0.0.2"),
        ("alice", "read", "10.0.0.1"),
    ]
    assert c1[1].details == {"via": "screen_pop"} and c1[0].actor_role == "admin"
    assert c1[0].to_json()["at"].endswith("+00:00")
    future = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert await log.query(since=future) == []
    assert len(await log.query(until=future, limit=2)) == 2
