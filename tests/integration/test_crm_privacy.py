"""Data-subject export and erasure on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.audit import Actor, AuditLog
from ccserver.crm.contacts import ContactService
from ccserver.crm.customers import CustomerService
from ccserver.crm.errors import CustomerNotFound
from ccserver.crm.models import Complaint, Contact, CustomerHistory, Message

T0 = dt.datetime(2026, 4, 1, 12, 0, tzinfo=dt.UTC)
DPO = Actor("u-dpo", "admin", "10.9.9.9")


async def _customer_with_records(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[CustomerService, str, str]:
    service = CustomerService(sessions, default_region="FR")
    c = await service.create(
        {
            "first_name": "Zoé",
            "last_name": "Martin",
            "phone": "01 42 68 53 00",
            "email": "zoe@martin.fr",
            "notes": "prefers mornings",
            "consent_marketing": True,
        }
    )
    await service.update(c.id, {"tier": "gold"})
    contacts = ContactService(sessions)
    contact = await contacts.record(
        {
            "interaction_id": "e1",
            "channel": "email",
            "customer_id": c.id,
            "started_at": T0,
            "notes": "asked about invoice 42",
        }
    )
    await contacts.add_message(
        contact.id,
        {
            "direction": "inbound",
            "sender": "zoe@martin.fr",
            "subject": "Invoice",
            "body_text": "My address is 1 rue X",
            "created_at": T0,
        },
    )
    async with sessions.begin() as s:
        s.add(
            Complaint(
                case_number="K-1",
                customer_id=c.id,
                contact_id=contact.id,
                category="product",
                subcategory="delivery",
                description="late, 1 rue X",
            )
        )
    return service, c.id, contact.id


async def test_export_contains_every_linked_record(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    service, cid, contact_id = await _customer_with_records(sessions)
    data = await service.export(cid, actor=DPO)
    assert data["customer"]["first_name"] == "Zoé"
    assert {i["value"] for i in data["identities"]} == {"+33142685300", "zoe@martin.fr"}
    assert [h["field"] for h in data["history"]] == ["tier"]
    assert [c["id"] for c in data["contacts"]] == [contact_id]
    assert data["messages"][0]["body_text"] == "My address is 1 rue X"
    assert data["complaints"][0]["case_number"] == "K-1"
    import json

    json.dumps(data)  # JSON-ready throughout
    assert (await AuditLog(sessions).query(action="export"))[0].actor == "u-dpo"


async def test_erase_anonymises_but_keeps_counts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    service, cid, contact_id = await _customer_with_records(sessions)
    erased = await service.erase(cid, actor=DPO)
    assert erased.display_name == "Erased customer"
    assert (erased.first_name, erased.last_name, erased.notes) == (None, None, None)
    assert erased.identities == () and erased.erased_at is not None
    assert not erased.consent_marketing
    assert await service.find_by_phone("01 42 68 53 00") is None
    assert (await service.search(name="zo")).total == 0
    assert (await service.search(email="zoe@martin.fr")).total == 0
    with pytest.raises(CustomerNotFound):
        await service.update(cid, {"tier": "silver"})
    async with sessions() as s:
        contact = await s.get(Contact, contact_id)
        message = await s.scalar(select(Message).where(Message.contact_id == contact_id))
        complaint = await s.scalar(select(Complaint))
        history = (
            await s.scalars(select(CustomerHistory).where(CustomerHistory.customer_id == cid))
        ).all()
    assert contact is not None and contact.notes is None and contact.customer_id == cid
    assert message is not None and (message.body_text, message.sender) == (None, None)
    assert complaint is not None and complaint.description == "[erased]"
    assert complaint.category == "product"  # statistics survive
    assert history == []
    # A new customer may now use the phone number again.
    again = await service.create({"display_name": "New owner", "phone": "+33 1 42 68 53 00"})
    assert again.id != cid
    # Erasing twice is harmless.
    assert (await service.erase(cid)).erased_at == erased.erased_at
