"""Customer and order import from CSV / JSON Lines on SQLite and PostgreSQL: row-by-row
validation with a per-row error report, duplicates, updates, links, chunking, progress."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ccserver.crm.customers import CustomerService
from ccserver.crm.database import session_factory
from ccserver.crm.importer import ImportFileError, import_customers, import_orders
from ccserver.crm.models import AuditEntry, Customer, CustomerIdentity, Order

FIXTURES = Path(__file__).parents[1] / "fixtures" / "import"


async def count(engine: AsyncEngine, model: type[object]) -> int:
    async with engine.connect() as conn:
        n = await conn.scalar(select(func.count()).select_from(model))
        return int(n or 0)


def error_rows(report_errors: list[tuple[int, str, str]]) -> set[int]:
    return {row for row, _f, _m in report_errors}


async def test_customers_csv_validated_row_by_row(engine: AsyncEngine) -> None:
    report = await import_customers(engine, FIXTURES / "customers.csv")
    assert report.rows == 11
    assert report.imported == 5
    assert report.skipped_duplicates == 1  # ADA@example.org again, case-insensitive
    assert report.updated == 0
    assert error_rows(report.errors) == {6, 7, 8, 10, 11}
    by_row = {(r, f): m for r, f, m in report.errors}
    assert "phone" in by_row[(6, "phones[0]")]
    assert "email" in by_row[(7, "emails[0]")]
    assert "required" in by_row[(8, "display_name")]
    assert "true or false" in by_row[(10, "consent_marketing")]
    assert (11, "lifecycle_stage") in by_row
    assert await count(engine, Customer) == 5

    service = CustomerService(session_factory(engine), default_region="US")
    taro = await service.find_by_phone("+81 90 1234 5678")  # the second (mobile) number
    assert taro is not None and taro.display_name == "山田 太郎"
    ada = await service.find_by_identity("email", "ada@example.org")
    assert ada is not None
    assert ada.tags == ("vip", "early-adopter") or list(ada.tags) == ["vip", "early-adopter"]
    assert ada.lifetime_value == Decimal("1200.50") and ada.consent_marketing is True
    grace = await service.get_by_number("C900001")
    assert grace.display_name == "Grace Hopper"
    async with engine.connect() as conn:
        phones = set(
            await conn.scalars(
                select(CustomerIdentity.value).where(CustomerIdentity.kind == "phone")
            )
        )
        audits = await conn.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "import")
        )
    assert "+6621234567" in phones and "+861012345678" in phones  # stored as E.164
    assert audits == 1


async def test_reimport_skips_or_updates_existing(engine: AsyncEngine) -> None:
    await import_customers(engine, FIXTURES / "customers.csv")
    again = await import_customers(engine, FIXTURES / "customers.csv")
    assert (again.imported, again.updated, again.skipped_duplicates) == (0, 1, 5)
    assert await count(engine, Customer) == 5

    updating = await import_customers(engine, FIXTURES / "customers.csv", on_duplicate="update")
    assert updating.imported == 0 and updating.updated == 6
    service = CustomerService(session_factory(engine), default_region="US")
    ada = await service.find_by_identity("email", "ada@example.org")
    assert ada is not None and ada.last_name == "Again"  # the later row of the file won


async def test_customers_jsonl(engine: AsyncEngine) -> None:
    report = await import_customers(engine, FIXTURES / "customers.jsonl")
    assert report.rows == 8
    assert (report.imported, report.skipped_duplicates) == (3, 1)
    assert error_rows(report.errors) == {4, 5, 6, 7}
    fields = {(r, f) for r, f, _m in report.errors}
    assert {(6, "lifetime_value"), (6, "consent_email"), (7, "favourite_colour")} <= fields
    assert any("JSON" in m for r, _f, m in report.errors if r == 4)


async def test_orders_link_to_customers(engine: AsyncEngine) -> None:
    await import_customers(engine, FIXTURES / "customers.csv")
    report = await import_orders(engine, FIXTURES / "orders.csv")
    assert report.rows == 10
    assert (report.imported, report.skipped_duplicates, report.updated) == (4, 1, 0)
    assert error_rows(report.errors) == {5, 6, 7, 8, 10}
    by_row = {r: (f, m) for r, f, m in report.errors}
    assert by_row[5] == ("customer", "no customer with email nobody@example.com")
    assert by_row[6][0] == "status" and by_row[7][0] == "total"
    assert "offset" in by_row[8][1] and by_row[10][0] == "order_number"

    service = CustomerService(session_factory(engine), default_region="US")
    ada = await service.find_by_identity("email", "ada@example.org")
    taro = await service.find_by_phone("+81312345678")
    grace = await service.get_by_number("C900001")
    assert ada is not None and taro is not None
    async with engine.connect() as conn:
        owners = dict((await conn.execute(select(Order.order_number, Order.customer_id))).all())
        so1001 = (await conn.execute(select(Order).where(Order.order_number == "SO-1001"))).one()
    assert owners == {"SO-1001": ada.id, "SO-1002": taro.id, "SO-1003": grace.id, "SO-1008": None}
    assert so1001.status == "delivered" and so1001.total == Decimal("120.50")
    assert so1001.delivered_at == dt.datetime(2026, 1, 13, 15, 30, tzinfo=dt.UTC)

    updated = await import_orders(engine, FIXTURES / "orders.csv", on_duplicate="update")
    assert (updated.imported, updated.updated) == (0, 5)
    async with engine.connect() as conn:
        status = await conn.scalar(select(Order.status).where(Order.order_number == "SO-1001"))
    assert status == "returned"  # the file's later row for SO-1001

    jsonl = await import_orders(engine, FIXTURES / "orders.jsonl")
    assert jsonl.imported == 2 and error_rows(jsonl.errors) == {3}


@pytest.mark.slow
async def test_large_file_in_chunks_with_progress(engine: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    n = 3000
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["first_name", "last_name", "email", "phone", "tier"])
        for i in range(n):
            w.writerow(
                [f"First{i}", f"Last{i}", f"user{i}@example.com", f"+1 202 555 {i:04d}", "silver"]
            )
    calls: list[tuple[int, int, int]] = []
    report = await import_customers(
        engine, path, chunk_size=500, progress=lambda r, b, t: calls.append((r, b, t))
    )
    assert report.imported == n and not report.errors
    assert await count(engine, Customer) == n
    assert len(calls) >= n // 500
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    assert calls[-1][0] == n and calls[-1][1] == calls[-1][2] == path.stat().st_size
    async with engine.connect() as conn:
        numbers = list(await conn.scalars(select(Customer.customer_number)))
    assert len(set(numbers)) == n  # every customer got its own number


async def test_whole_file_problems(engine: AsyncEngine, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError):
        await import_customers(engine, FIXTURES / "customers.csv", fmt="xlsx")
    with pytest.raises(ImportFileError):
        await import_customers(engine, tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ImportFileError):
        await import_customers(engine, empty)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("first_name,email\nAda,ada@example.org,extra\n")
    report = await import_customers(engine, ragged)
    assert report.imported == 0 and report.errors[0][0] == 2
