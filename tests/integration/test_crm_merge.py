"""Merging two customers keeps every identity, contact, complaint, order and follow-up."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.audit import Actor, AuditLog
from ccserver.crm.customers import CustomerService
from ccserver.crm.errors import MergeRefused
from ccserver.crm.models import Complaint, Contact, FollowUp, Order, SurveyResponse

NOW = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)
SUP = Actor("u-sup", "supervisor", "10.1.1.1")


@pytest.fixture
def service(sessions: async_sessionmaker[AsyncSession]) -> CustomerService:
    return CustomerService(sessions, default_region="GB")


async def _attach_records(
    sessions: async_sessionmaker[AsyncSession], customer_id: str, n: int
) -> None:
    async with sessions.begin() as s:
        for i in range(n):
            contact = Contact(
                interaction_id=f"{customer_id}-{i}",
                customer_id=customer_id,
                channel="voice",
                started_at=NOW,
            )
            s.add(contact)
            await s.flush()
            s.add(Order(order_number=f"O-{customer_id[-6:]}-{i}", customer_id=customer_id))
            complaint = Complaint(
                case_number=f"K-{customer_id[-6:]}-{i}",
                customer_id=customer_id,
                contact_id=contact.id,
                category="product",
                subcategory="quality",
                description="broken",
            )
            s.add(complaint)
            await s.flush()
            s.add(
                FollowUp(
                    customer_id=customer_id, purpose="complaint_check", complaint_id=complaint.id
                )
            )
            s.add(SurveyResponse(customer_id=customer_id, contact_id=contact.id, csat=4))


async def _count(sessions: async_sessionmaker[AsyncSession], model: Any, customer_id: str) -> int:
    stmt = select(func.count()).select_from(model).where(model.customer_id == customer_id)
    async with sessions() as s:
        return int(await s.scalar(stmt) or 0)


async def test_merge_moves_everything_and_keeps_identities(
    service: CustomerService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a = await service.create(
        {
            "first_name": "Mia",
            "phones": ["020 7946 0000"],
            "tags": ["vip"],
            "lifetime_value": 100,
            "consent_marketing": True,
            "notes": "likes email",
        }
    )
    b = await service.create(
        {
            "first_name": "Mia",
            "last_name": "Wong",
            "company": "Wong Ltd",
            "phones": ["07911 123456"],
            "emails": ["mia@wong.example"],
            "tags": ["b2b", "vip"],
            "lifetime_value": "50.25",
            "consent_marketing": False,
            "notes": "call after 5",
        }
    )
    await _attach_records(sessions, a.id, 1)
    await _attach_records(sessions, b.id, 2)

    merged = await service.merge(a.id, b.id, actor=SUP)

    assert merged.id == a.id and merged.version == a.version + 1
    assert set(merged.identity_values("phone")) == {"+442079460000", "+447911123456"}
    assert merged.identity_values("email") == ["mia@wong.example"]
    primaries = {(i.kind, i.value) for i in merged.identities if i.is_primary}
    assert primaries == {("phone", "+442079460000"), ("email", "mia@wong.example")}
    assert (merged.last_name, merged.company) == ("Wong", "Wong Ltd")
    assert merged.tags == ("vip", "b2b")
    assert merged.lifetime_value == Decimal("150.25")
    assert merged.notes == "likes email\n\ncall after 5"
    assert merged.consent_marketing is False  # a withdrawal on either record wins
    for model in (Contact, Order, Complaint, FollowUp, SurveyResponse):
        assert await _count(sessions, model, a.id) == 3, model
        assert await _count(sessions, model, b.id) == 0, model
    # The absorbed record resolves to the survivor through every lookup.
    assert (await service.find_by_phone("+44 7911 123456")).id == a.id  # type: ignore[union-attr]
    assert (await service.get(b.id)).id == a.id
    assert (await service.search(name="mia")).total == 1
    assert (await service.search(q=b.customer_number)).total == 0
    history = {h["field"] for h in await service.history(a.id)}
    assert {"merged", "last_name", "tags", "lifetime_value", "consent_marketing"} <= history
    entries = await AuditLog(sessions).query(action="merge")
    assert entries[0].details["absorbed_id"] == b.id
    assert entries[0].details["moved"]["contacts"] == 2


async def test_merge_chains_resolve_to_final_survivor(service: CustomerService) -> None:
    a = await service.create({"display_name": "A", "phone": "020 7946 0001"})
    b = await service.create({"display_name": "B", "phone": "020 7946 0002"})
    c = await service.create({"display_name": "C", "phone": "020 7946 0003"})
    await service.merge(b.id, c.id)
    await service.merge(a.id, b.id)
    assert (await service.get(c.id, follow_merge=False)).merged_into_id == a.id
    assert len((await service.get(a.id)).identity_values("phone")) == 3


async def test_merge_refusals(service: CustomerService) -> None:
    a = await service.create({"display_name": "A"})
    b = await service.create({"display_name": "B"})
    with pytest.raises(MergeRefused):
        await service.merge(a.id, a.id)
    await service.merge(a.id, b.id)
    with pytest.raises(MergeRefused) as info:
        await service.merge(a.id, b.id)
    assert info.value.http_status == 409
    with pytest.raises(MergeRefused):
        await service.merge(b.id, a.id)
