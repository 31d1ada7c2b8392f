"""Data-subject export and erasure on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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


async def test_erase_deletes_the_files_the_customer_sent(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """The mail as received, chat files and complaint attachments live under the data
    directory: erasure deletes this customer's and nobody else's."""
    from ccserver.crm.services.privacy import PrivacyService

    _, cid, contact_id = await _customer_with_records(sessions)
    other = await CustomerService(sessions).create({"first_name": "Kept", "phone": "+33145000000"})
    other_contact = await ContactService(sessions).record(
        {"interaction_id": "e2", "channel": "chat", "customer_id": other.id, "started_at": T0}
    )
    files = {
        "mine_mail": "mail/0a1b2c3d/0a1b2c3d-mail.eml",
        "mine_chat": "attachments/chat/chat-1/file-1",
        "mine_complaint": "attachments/complaint/{complaint}/att-1",
        "theirs_chat": "attachments/chat/chat-2/file-2",
    }
    async with sessions.begin() as s:
        complaint = (await s.scalars(select(Complaint).where(Complaint.customer_id == cid))).one()
        complaint.attachments = [{"id": "att-1", "name": "photo.jpg"}]
        s.add(Message(contact_id=contact_id, direction="inbound", body_text="x",
                      headers={"raw_ref": "0a1b2c3d/0a1b2c3d-mail.eml"}))  # fmt: skip
        s.add(Message(contact_id=contact_id, direction="inbound", body_text="file",
                      attachments=[{"id": "file-1", "interaction_id": "chat-1"}]))  # fmt: skip
        # A reference that would leave the data directory is never followed.
        s.add(Message(contact_id=contact_id, direction="inbound", body_text="odd",
                      headers={"raw_ref": "../../outside.eml"}))  # fmt: skip
        s.add(Message(contact_id=other_contact.id, direction="inbound", body_text="theirs",
                      attachments=[{"id": "file-2", "interaction_id": "chat-2"}]))  # fmt: skip
        complaint_id = complaint.id
    data = tmp_path / "data"
    paths = {k: data / v.format(complaint=complaint_id) for k, v in files.items()}
    outside = tmp_path / "outside.eml"
    for path in [*paths.values(), outside]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"personal data")

    result = await PrivacyService(sessions, data).erase(cid, actor=DPO)
    assert result == {"id": cid, "erased": True, "files_removed": 3}
    assert [k for k, p in paths.items() if p.exists()] == ["theirs_chat"]
    assert outside.exists()
    async with sessions() as s:
        assert (await s.get(Complaint, complaint_id)).attachments == []  # type: ignore[union-attr]
    # Erasing again finds nothing left to delete.
    again = await PrivacyService(sessions, data).erase(cid, actor=DPO)
    assert again["files_removed"] == 0
