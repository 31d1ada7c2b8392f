"""CustomerService on SQLite and PostgreSQL: validation, duplicates, updates, identities."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm import migrate
from ccserver.crm.audit import Actor, AuditLog
from ccserver.crm.customers import CustomerService
from ccserver.crm.database import create_engine, session_factory
from ccserver.crm.errors import (
    CustomerMerged,
    CustomerNotFound,
    DuplicateCustomer,
    IdentityInUse,
    StaleWrite,
    ValidationFailed,
)
from ccserver.crm.models import Customer

ALICE = Actor("u-alice", "agent", "10.0.0.7")


@pytest.fixture
def service(sessions: async_sessionmaker[AsyncSession]) -> CustomerService:
    return CustomerService(sessions, default_region="DE")


async def test_create_normalises_and_numbers(service: CustomerService) -> None:
    a = await service.create(
        {
            "first_name": " Anna ",
            "last_name": "Schmidt",
            "phones": ["030 1234567", "+49 170 1234567"],
            "email": "Anna.Schmidt@Example.COM",
            "tags": ["VIP", "vip", "b2c"],
            "lifetime_value": "1234.5",
        }
    )
    b = await service.create({"company": "ACME GmbH"})
    assert a.display_name == "Anna Schmidt"
    assert b.display_name == "ACME GmbH"
    assert (a.customer_number, b.customer_number) == ("C000001", "C000002")
    assert a.identity_values("phone") == ["+49301234567", "+491701234567"]
    assert a.identity_values("email") == ["anna.schmidt@example.com"]
    assert a.tags == ("vip", "b2c")
    assert a.lifetime_value == Decimal("1234.50")
    assert a.version == 1 and a.created_at.tzinfo is not None
    assert a.to_json()["lifetime_value"] == "1234.50"
    again = await service.get(a.id)
    assert again == a


async def test_validation_reports_every_bad_field(service: CustomerService) -> None:
    with pytest.raises(ValidationFailed) as info:
        await service.create(
            {
                "phones": ["12", "+49 30 1234567"],
                "email": "not-an-email",
                "lifecycle_stage": "zombie",
                "consent_sms": "yes",
                "last_name": "x" * 101,
                "shoe_size": 44,
            }
        )
    fields = info.value.details["fields"]
    assert set(fields) == {
        "phones[0]",
        "email",
        "lifecycle_stage",
        "consent_sms",
        "last_name",
        "shoe_size",
        "display_name",
    }
    assert info.value.http_status == 422
    # Nothing was stored.
    assert (await service.search()).total == 0


async def test_duplicate_phone_in_another_format_is_detected(service: CustomerService) -> None:
    first = await service.create({"display_name": "Bob", "phone": "+49 (30) 123-4567"})
    with pytest.raises(DuplicateCustomer) as info:
        await service.create({"display_name": "Robert", "phone": "0049301234567"})
    assert info.value.details["existing_id"] == first.id
    assert info.value.http_status == 409
    same, created = await service.create_or_get(
        {"display_name": "Robert", "email": "bob@example.org", "phone": "030/1234567"}
    )
    assert (same.id, created) == (first.id, False)
    with pytest.raises(DuplicateCustomer):
        await service.create({"display_name": "B", "email": "x@y.org"})
        await service.create({"display_name": "C", "email": "X@Y.ORG"})


async def test_concurrent_creates_with_same_phone_make_one_customer(
    service: CustomerService,
) -> None:
    results = await asyncio.gather(
        *(
            service.create_or_get({"display_name": f"P{i}", "phone": "+4930999888"})
            for i in range(4)
        ),
        return_exceptions=True,
    )
    ids = {r[0].id for r in results if isinstance(r, tuple)}
    assert len(ids) == 1, results
    assert (await service.search(phone="030 999888")).total == 1


async def test_update_writes_history_and_checks_version(service: CustomerService) -> None:
    c = await service.create({"display_name": "Carla", "phone": "+4930111222"})
    updated = await service.update(
        c.id, {"tier": "gold", "last_name": "Diaz"}, expected_version=1, actor=ALICE
    )
    assert (updated.tier, updated.version) == ("gold", 2)
    with pytest.raises(StaleWrite) as info:
        await service.update(c.id, {"tier": "silver"}, expected_version=1)
    assert info.value.details == {"expected_version": 1, "version": 2}
    assert info.value.http_status == 412
    history = await service.history(c.id)
    assert {(h["field"], h["old_value"], h["new_value"]) for h in history} == {
        ("tier", None, "gold"),
        ("last_name", None, "Diaz"),
    }
    assert all(h["changed_by"] == "u-alice" for h in history)
    # A no-op update changes nothing.
    same = await service.update(c.id, {"tier": "gold"})
    assert same.version == 2
    with pytest.raises(ValidationFailed):
        await service.update(c.id, {"phone": "+4930111333"})
    with pytest.raises(ValidationFailed):
        await service.update(c.id, {"display_name": "  "})
    with pytest.raises(CustomerNotFound):
        await service.update("nope", {"tier": "x"})


async def test_racing_updates_one_wins(
    service: CustomerService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Two writers that both read version 1: the ORM version check rejects the slower one."""
    c = await service.create({"display_name": "Dora"})
    async with sessions() as s1, sessions() as s2:
        r1 = await s1.get(Customer, c.id)
        r2 = await s2.get(Customer, c.id)
        assert r1 is not None and r2 is not None
        r1.tier = "gold"
        await s1.commit()
        r2.tier = "silver"
        from sqlalchemy.orm.exc import StaleDataError

        with pytest.raises(StaleDataError):
            await s2.commit()
    assert (await service.get(c.id)).tier == "gold"


async def test_identities_add_remove_and_ownership(service: CustomerService) -> None:
    a = await service.create({"display_name": "Eve", "phone": "+4930200300"})
    b = await service.create({"display_name": "Finn"})
    b2 = await service.add_identity(b.id, "phone", "030 200 301")
    assert b2.identity_values("phone") == ["+4930200301"]
    assert b2.version == 2
    with pytest.raises(IdentityInUse) as info:
        await service.add_identity(b.id, "phone", "+49 30 200300")
    assert info.value.details["existing_id"] == a.id
    again = await service.add_identity(b.id, "phone", "+4930200301")  # idempotent
    assert again.identity_values("phone") == ["+4930200301"]
    b3 = await service.remove_identity(b.id, "phone", "(030) 200301")
    assert b3.identity_values("phone") == []
    with pytest.raises(CustomerNotFound):
        await service.remove_identity(b.id, "phone", "+4930200301")
    with pytest.raises(ValidationFailed):
        await service.add_identity(b.id, "phone", "hello")
    assert await service.find_by_phone("030 200301") is None


async def test_find_by_phone_any_format(service: CustomerService) -> None:
    c = await service.create(
        {
            "display_name": "Gina",
            "phones": ["+49 30 12345678", "+49 171 5550000"],
            "email": "g@x.de",
        }
    )
    formats = [
        "+493012345678",
        "+49 30 12345678",
        "0049 30 12345678",
        "030 12345678",
        "(030) 1234-5678",
        "030/12345678",
        "+49-30-1234 5678",
    ]
    for raw in formats:
        found = await service.find_by_phone(raw)
        assert found is not None and found.id == c.id, raw
        assert set(found.identity_values("phone")) == {"+493012345678", "+491715550000"}
        assert found.identity_values("email") == ["g@x.de"]
    for raw in ("", "anonymous", "+49301234567", "12"):
        assert await service.find_by_phone(raw) is None
    us = CustomerService(service._sessions, default_region="US")
    assert await us.find_by_phone("030 12345678") is None  # national format of another country


async def test_search(service: CustomerService, sessions: async_sessionmaker[AsyncSession]) -> None:
    from ccserver.crm.models import Order

    names = ["Hans Müller", "Hanna Berg", "Ida Hansen", "Jan 50%_Off"]
    created = [
        await service.create(
            {"display_name": n, "last_name": n.split()[-1], "phone": f"+49301000{i}"}
        )
        for i, n in enumerate(names)
    ]
    async with sessions.begin() as s:
        s.add(Order(order_number="ORD-777", customer_id=created[1].id))
    page = await service.search(name="han")
    assert [c.display_name for c in page.items] == ["Hanna Berg", "Hans Müller", "Ida Hansen"]
    assert page.total == 3
    first = await service.search(name="han", limit=2)
    second = await service.search(name="han", limit=2, offset=2)
    assert [c.id for c in first.items + second.items] == [c.id for c in page.items]
    assert first.has_more and not second.has_more
    assert (await service.search(name="hans m")).items[0].id == created[0].id
    assert (await service.search(name="50%")).items[0].id == created[3].id
    # LIKE wildcards typed by a user are literal characters.
    assert (await service.search(name="%")).total == 0
    assert (await service.search(name="jan 50_")).total == 0
    assert (await service.search(q="030 10002")).items[0].id == created[2].id
    assert (await service.search(q="ORD-777")).items[0].id == created[1].id
    assert (await service.search(order_number="ORD-777")).total == 1
    assert (await service.search(q=created[3].customer_number.lower())).items[0].id == created[3].id
    assert (await service.search(q="HANNA")).total == 1
    assert (await service.search(phone="+49 30 10000", name="ida")).total == 0
    assert (await service.search()).total == 4


async def test_reads_by_a_person_are_audited(
    service: CustomerService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await service.create({"display_name": "Kai"}, actor=ALICE)
    await service.get(c.id, reader=ALICE)
    await service.get(c.id)  # system read: not audited
    log = AuditLog(sessions)
    entries = await log.query(entity="customer", entity_id=c.id)
    assert [(e.action, e.actor, e.ip) for e in entries] == [
        ("read", "u-alice", "10.0.0.7"),
        ("create", "u-alice", "10.0.0.7"),
    ]


async def test_merged_customer_cannot_be_updated(service: CustomerService) -> None:
    a = await service.create({"display_name": "Lea", "phone": "+4930400500"})
    b = await service.create({"display_name": "Lea B.", "email": "lea@x.de"})
    await service.merge(a.id, b.id)
    with pytest.raises(CustomerMerged):
        await service.update(b.id, {"tier": "x"})
    assert (await service.get(b.id)).id == a.id
    assert (await service.get(b.id, follow_merge=False)).merged_into_id == a.id
    assert (await service.get_by_number(b.customer_number)).merged_into_id == a.id
    with pytest.raises(CustomerNotFound):
        await service.get_by_number("C999999")
    assert (await service.search(name="lea")).total == 1


async def test_etag_round_trip_for_if_match(service: CustomerService) -> None:
    from ccserver.crm.customer_views import version_from_etag
    from ccserver.errors import BadRequest

    c = await service.create({"display_name": "Mo"})
    assert version_from_etag(c.etag, c.id) == 1
    updated = await service.update(
        c.id, {"tier": "gold"}, expected_version=version_from_etag(f"W/{c.etag}", c.id)
    )
    assert updated.etag != c.etag
    with pytest.raises(StaleWrite):
        await service.update(c.id, {"tier": "x"}, expected_version=version_from_etag(c.etag, c.id))
    with pytest.raises(StaleWrite):
        version_from_etag(updated.etag, "another-id")
    assert version_from_etag(" * ", c.id) is None
    for bad in ('"abc"', "", f'"{c.id}.x"'):
        with pytest.raises(BadRequest):
            version_from_etag(bad, c.id)


async def test_caller_id_reads_see_writes_and_survive_engine_dispose(db_url: str) -> None:
    """The lookup path (own thread engine on SQLite files) sees every committed write,
    and keeps working after the server's engine was disposed and reused."""
    await migrate.upgrade(db_url)
    engine = create_engine(db_url)
    try:
        service = CustomerService(session_factory(engine), default_region="DE")
        assert await service.find_by_phone("030 5550001") is None
        c = await service.create({"display_name": "Quinn", "phone": "030 5550001"})
        assert (await service.find_by_phone("+49305550001")).id == c.id  # type: ignore[union-attr]
        await engine.dispose()
        await service.add_identity(c.id, "phone", "030 5550002")
        again = CustomerService(session_factory(engine), default_region="DE")
        assert (await again.find_by_phone("030 5550002")).id == c.id  # type: ignore[union-attr]
    finally:
        await engine.dispose()


async def test_in_memory_sqlite_uses_the_async_path() -> None:
    from ccserver.crm.migrate import upgrade_engine

    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        await upgrade_engine(engine)
        service = CustomerService(session_factory(engine), default_region="US")
        c = await service.create({"display_name": "Mem", "phone": "(212) 555-0199"})
        assert (await service.find_by_phone("212-555-0199")).id == c.id  # type: ignore[union-attr]
    finally:
        await engine.dispose()
