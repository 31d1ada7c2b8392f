"""The demo data set on SQLite and PostgreSQL: realistic, internally consistent, usable by the
services (caller-ID lookup, login), and the same rows for the same seed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ccserver.crm.customers import CustomerService
from ccserver.crm.database import create_engine, session_factory
from ccserver.crm.demo_data import DEMO_PASSWORD, generate_demo_data
from ccserver.crm.migrate import upgrade
from ccserver.crm.models import (
    Complaint,
    Contact,
    Customer,
    CustomerIdentity,
    FollowUp,
    Message,
    Order,
    SurveyResponse,
)
from ccserver.crm.users import UserService

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


async def _count(engine: AsyncEngine, model: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(model)) or 0)


async def _customers(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(Customer.id, Customer.customer_number, Customer.display_name).order_by(
                Customer.id
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


@pytest.mark.slow
async def test_demo_data_is_realistic_and_consistent(engine: AsyncEngine) -> None:
    summary = await generate_demo_data(engine, customers=300, seed=7, agents=4, now=NOW)
    assert summary.customers == 300
    assert await _count(engine, Customer) == 300
    assert await _count(engine, CustomerIdentity) == summary.identities >= 600
    assert await _count(engine, Order) == summary.orders > 300
    assert await _count(engine, Contact) == summary.contacts > 300
    assert await _count(engine, Message) == summary.messages > 0
    assert await _count(engine, SurveyResponse) == summary.survey_responses > 0
    assert await _count(engine, Complaint) == summary.complaints > 0
    assert await _count(engine, FollowUp) == summary.follow_ups > 0
    assert 0 < summary.open_complaints < summary.complaints

    async with engine.connect() as conn:
        languages = set(await conn.scalars(select(Customer.preferred_language)))
        names = list(await conn.scalars(select(Customer.display_name)))
        phones = list(
            await conn.scalars(
                select(CustomerIdentity.value).where(CustomerIdentity.kind == "phone")
            )
        )
        orders = (await conn.execute(select(Order))).all()
        channels = set(await conn.scalars(select(Contact.channel)))
        open_states = set(
            await conn.scalars(select(Complaint.status).where(Complaint.closed_at.is_(None)))
        )
    assert languages == {"en", "ja", "th", "zh"}
    scripts = {
        "ja": any(
            "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for n in names for ch in n
        ),
        "th": any("\u0e00" <= ch <= "\u0e7f" for n in names for ch in n),
    }
    assert all(scripts.values())
    for number in phones:  # every phone is a valid E.164 number of its region
        assert number.startswith("+")
        assert phonenumbers.is_valid_number(phonenumbers.parse(number)), number
    regions = {phonenumbers.region_code_for_number(phonenumbers.parse(p)) for p in phones}
    assert {"US", "JP", "TH", "CN"} <= regions
    for o in orders:
        if o.delivered_at is not None:
            assert o.ordered_at < o.shipped_at < o.delivered_at <= NOW + dt.timedelta(days=30)
        assert o.ordered_at <= NOW
    assert {o.status for o in orders} >= {"delivered", "shipped", "cancelled"}
    assert channels >= {"voice", "email", "chat"}
    assert open_states <= {
        "received",
        "acknowledged",
        "investigating",
        "resolved",
        "customer_feedback",
    }

    # The services can use it: caller-ID lookup and the demo logins.
    service = CustomerService(session_factory(engine), default_region="US")
    found = await service.find_by_phone(phones[0])
    assert found is not None
    users = UserService(session_factory(engine))
    agent = await users.verify_password("agent1001", DEMO_PASSWORD)
    assert agent.role == "agent" and agent.endpoint == "PJSIP/agent1001"
    assert agent.skills and max(agent.skills.values()) == 5
    admin = await users.verify_password("admin", DEMO_PASSWORD)
    assert admin.role == "admin"
    assert summary.users == [
        "admin",
        "supervisor",
        "agent1001",
        "agent1002",
        "agent1003",
        "agent1004",
    ]


async def test_same_seed_same_rows(engine: AsyncEngine, tmp_path: Path) -> None:
    await generate_demo_data(engine, customers=150, seed=3, agents=2, now=NOW, with_users=False)
    other = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    third = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'third.db'}")
    try:
        for e in (other, third):
            url = e.url.render_as_string(hide_password=False)
            await upgrade(url)
        await generate_demo_data(other, customers=150, seed=3, agents=2, now=NOW, with_users=False)
        await generate_demo_data(third, customers=150, seed=4, agents=2, now=NOW, with_users=False)
        assert await _customers(engine) == await _customers(other)
        assert await _customers(engine) != await _customers(third)
        assert await _count(other, Contact) == await _count(engine, Contact)
    finally:
        await other.dispose()
        await third.dispose()


async def test_adding_demo_data_twice_keeps_numbers_unique(engine: AsyncEngine) -> None:
    first = await generate_demo_data(engine, customers=50, seed=1, agents=1, now=NOW)
    second = await generate_demo_data(engine, customers=50, seed=2, agents=1, now=NOW)
    assert first.users == second.users  # existing demo users are kept, not duplicated
    assert await _count(engine, Customer) == 100
    async with engine.connect() as conn:
        numbers = list(await conn.scalars(select(Customer.customer_number)))
        cases = list(await conn.scalars(select(Complaint.case_number)))
    assert len(set(numbers)) == 100
    assert len(set(cases)) == len(cases)
