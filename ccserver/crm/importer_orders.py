"""Order import: each row validated like the API's orders, linked to its customer by
``customer_number``, ``email`` or ``phone``; chunked bulk inserts; existing order numbers
skipped or updated."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ccserver.crm.audit import SYSTEM, Actor, audit_insert
from ccserver.crm.identities import IdentityError, normalise_email, normalise_phone
from ccserver.crm.importer_files import (
    ImportReport,
    OnDuplicate,
    Progress,
    chunks,
    detect_format,
    field_errors,
    read_rows,
    slices,
    table_of,
)
from ccserver.crm.models import Customer, CustomerIdentity, Order, utcnow
from ccserver.crm.orders import validate_order
from ccserver.domain import new_id
from ccserver.errors import ValidationFailed

_ORDER_LINKS = ("customer_number", "email", "customer_email", "phone", "customer_phone")


async def import_orders(
    engine: AsyncEngine,
    path: str | Path,
    *,
    fmt: str | None = None,
    default_region: str = "US",
    on_duplicate: OnDuplicate = "skip",
    chunk_size: int = 2000,
    progress: Progress | None = None,
    actor: Actor = SYSTEM,
) -> ImportReport:
    path = Path(path)
    kind = detect_format(path, fmt)
    total = path.stat().st_size if path.exists() else 0
    report = ImportReport("orders")
    seen: set[str] = set()
    for chunk, done in chunks(read_rows(path, kind), chunk_size, report):
        await _order_chunk(engine, chunk, seen, report, on_duplicate, default_region, actor)
        if progress is not None:
            progress(report.rows, done, total)
    return report


def _order_link(row: dict[str, Any], region: str) -> tuple[str, str] | str | None:
    """The customer key an order names, as (kind, value), or an error message."""
    number = row.get("customer_number")
    if number:
        return ("number", str(number).strip())
    email = row.get("customer_email") or row.get("email")
    if email:
        try:
            return ("email", normalise_email(str(email)))
        except IdentityError as exc:
            return str(exc)
    phone = row.get("customer_phone") or row.get("phone")
    if phone:
        try:
            return ("phone", normalise_phone(str(phone), region))
        except IdentityError as exc:
            return str(exc)
    return None


async def _order_chunk(
    engine: AsyncEngine,
    chunk: Sequence[tuple[int, dict[str, Any]]],
    seen: set[str],
    report: ImportReport,
    on_duplicate: OnDuplicate,
    region: str,
    actor: Actor,
) -> None:
    valid: list[tuple[int, dict[str, Any], tuple[str, str] | None]] = []
    for number, row in chunk:
        link = _order_link(row, region)
        data = {k: v for k, v in row.items() if k not in _ORDER_LINKS}
        if isinstance(link, str):
            report.error(number, "customer", link)
            continue
        try:
            valid.append((number, validate_order(data), link))
        except ValidationFailed as exc:
            field_errors(report, number, exc)
    if not valid:
        return
    async with engine.begin() as conn:
        links = await _resolve_links(conn, {lk for _n, _v, lk in valid if lk})
        wanted = [v["order_number"] for _n, v, _l in valid]
        existing: dict[str, str] = {}
        for part in slices(wanted, 500):
            rows = await conn.execute(
                select(Order.order_number, Order.id).where(Order.order_number.in_(part))
            )
            existing.update({num: oid for num, oid in rows})
        now = utcnow()
        inserts: list[dict[str, Any]] = []
        for number, values, link in valid:
            if link is not None:
                if link not in links:
                    report.error(number, "customer", f"no customer with {link[0]} {link[1]}")
                    continue
                values["customer_id"] = links[link]
            num = values["order_number"]
            if num in existing:
                if on_duplicate == "update":
                    changes = {k: v for k, v in values.items() if k != "order_number"}
                    await conn.execute(
                        update(Order)
                        .where(Order.id == existing[num])
                        .values(**changes, updated_at=now)
                    )
                    report.updated += 1
                else:
                    report.skipped_duplicates += 1
                continue
            if num in seen:
                report.skipped_duplicates += 1
                continue
            seen.add(num)
            inserts.append(
                {
                    "id": new_id(),
                    "customer_id": None,
                    "status": "placed",
                    "total": Decimal(0),
                    "currency": "EUR",
                    "ordered_at": now,
                    "shipped_at": None,
                    "delivered_at": None,
                    "carrier": None,
                    "tracking": None,
                    "items": [],
                    **values,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if inserts:
            await conn.execute(insert(table_of(Order)), inserts)
            await conn.execute(
                audit_insert(actor, "import", "order", None, {"created": len(inserts)}, at=now)
            )
        report.imported += len(inserts)


async def _resolve_links(
    conn: AsyncConnection, links: set[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    numbers = sorted(v for k, v in links if k == "number")
    for part in slices(numbers, 500):
        numbered = await conn.execute(
            select(Customer.customer_number, Customer.id).where(Customer.customer_number.in_(part))
        )
        out.update({("number", num): cid for num, cid in numbered})
    idents = sorted(v for k, v in links if k != "number")
    for part in slices(idents, 500):
        rows = await conn.execute(
            select(
                CustomerIdentity.kind, CustomerIdentity.value, CustomerIdentity.customer_id
            ).where(CustomerIdentity.value.in_(part))
        )
        out.update({(k, v): cid for k, v, cid in rows})
    return out
