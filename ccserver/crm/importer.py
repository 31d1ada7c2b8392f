"""Bulk import of customers and orders from CSV or JSON Lines (``ccserver import ...``).

Every row goes through the same entry validation as the API (``validate_customer`` /
``validate_order``), so an import cannot store what a form would refuse. Valid rows are
written in chunks, one transaction per chunk (bulk ``executemany`` inserts), which keeps a
100k-row file to seconds instead of the minutes one transaction per row would take. Bad
rows never stop the import: each problem is reported as ``(row_number, field, message)``,
where ``row_number`` is the line of the file (the CSV header is line 1).

Duplicates: a customer whose phone or email already belongs to a customer (in the database
or earlier in the same file) is skipped, or with ``on_duplicate="update"`` its fields update
the existing customer; a ``customer_number`` that exists always means "update that customer".
An order whose number exists is skipped, or updated with ``on_duplicate="update"``. Orders
link to their customer by ``customer_number``, ``email`` or ``phone``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ccserver.crm.audit import SYSTEM, Actor, audit_insert
from ccserver.crm.customer_rows import name_keys
from ccserver.crm.customer_validation import validate_customer
from ccserver.crm.customers import CustomerService
from ccserver.crm.database import session_factory
from ccserver.crm.importer_files import (
    ImportFileError,
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
from ccserver.crm.importer_orders import import_orders
from ccserver.crm.models import Counter, Customer, CustomerIdentity, utcnow
from ccserver.domain import new_id
from ccserver.errors import CcserverError, ValidationFailed


def _customer_input(row: dict[str, Any]) -> dict[str, Any]:
    """Gather ``phone``, ``phone2``, ``mobile``… and ``email``, ``email2``… into the lists
    the validation takes (spreadsheets rarely have list cells)."""
    out: dict[str, Any] = {}
    phones: list[Any] = []
    emails: list[Any] = []
    for key, value in row.items():
        if key.startswith("phone") or key in ("mobile", "telephone", "tel"):
            phones.extend(value if isinstance(value, list) else [value])
        elif key.startswith("email") or key == "e-mail":
            emails.extend(value if isinstance(value, list) else [value])
        else:
            out[key] = value
    if phones:
        out["phones"] = phones
    if emails:
        out["emails"] = emails
    return out


# --- customers ---------------------------------------------------------------------------------
_CUSTOMER_DEFAULTS: dict[str, Any] = {
    c.key: (c.default.arg if c.default is not None and not c.default.is_callable else None)
    for c in Customer.__table__.columns
}


async def _allocate_numbers(conn: AsyncConnection, n: int) -> list[str]:
    stmt = (
        update(Counter)
        .where(Counter.name == "customer")
        .values(value=Counter.value + n)
        .returning(Counter.value)
    )
    last = (await conn.execute(stmt)).scalar_one_or_none()
    if last is None:
        await conn.execute(insert(Counter).values(name="customer", value=n))
        last = n
    return [f"C{v:06d}" for v in range(int(last) - n + 1, int(last) + 1)]


async def import_customers(
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
    report = ImportReport("customers")
    service = CustomerService(session_factory(engine), default_region=default_region)
    seen: dict[tuple[str, str], int] = {}  # identity -> line that brought it in this file
    for chunk, done in chunks(read_rows(path, kind), chunk_size, report):
        await _customer_chunk(engine, service, chunk, seen, report, on_duplicate, actor)
        if progress is not None:
            progress(report.rows, done, total)
    return report


async def _customer_chunk(
    engine: AsyncEngine,
    service: CustomerService,
    chunk: Sequence[tuple[int, dict[str, Any]]],
    seen: dict[tuple[str, str], int],
    report: ImportReport,
    on_duplicate: OnDuplicate,
    actor: Actor,
) -> None:
    valid: list[tuple[int, str | None, Any]] = []
    for number, row in chunk:
        data = _customer_input(row)
        customer_number = data.pop("customer_number", None)
        try:
            valid.append(
                (
                    number,
                    customer_number,
                    validate_customer(data, default_region=service.default_region),
                )
            )
        except ValidationFailed as exc:
            field_errors(report, number, exc)
    if not valid:
        return
    values = {i.value for _n, _c, v in valid for i in v.identities}
    numbers = {c for _n, c, _v in valid if c}
    owners: dict[tuple[str, str], str] = {}
    by_number: dict[str, str] = {}
    async with engine.connect() as conn:
        for part in slices(sorted(values), 500):
            rows = await conn.execute(
                select(
                    CustomerIdentity.kind, CustomerIdentity.value, CustomerIdentity.customer_id
                ).where(CustomerIdentity.value.in_(part))
            )
            owners.update({(k, v): cid for k, v, cid in rows})
        for part in slices(sorted(numbers), 500):
            numbered = await conn.execute(
                select(Customer.customer_number, Customer.id).where(
                    Customer.customer_number.in_(part)
                )
            )
            by_number.update({num: cid for num, cid in numbered})

    new: list[tuple[int, str | None, Any]] = []
    updates: list[tuple[int, str, dict[str, Any]]] = []
    for number, customer_number, v in valid:
        keys = [(i.kind.value, i.value) for i in v.identities]
        if customer_number and customer_number in by_number:
            updates.append((number, by_number[customer_number], v.fields))
            continue
        if customer_number:
            keys.append(("number", customer_number))
        owner = next((owners[k] for k in keys if k in owners), None)
        earlier = next((seen[k] for k in keys if k in seen), None)
        if owner is not None and on_duplicate == "update":
            updates.append((number, owner, v.fields))
        elif owner is not None or earlier is not None:
            report.skipped_duplicates += 1
        else:
            for k in keys:
                seen[k] = number
            new.append((number, customer_number, v))
    if new:
        await _insert_customers(engine, service, new, report, actor)
    for number, customer_id, fields in updates:
        changes = {k: val for k, val in fields.items() if val is not None}
        try:
            await service.update(customer_id, changes, actor=actor)
            report.updated += 1
        except CcserverError as exc:
            field_errors(report, number, exc)


async def _insert_customers(
    engine: AsyncEngine,
    service: CustomerService,
    new: Sequence[tuple[int, str | None, Any]],
    report: ImportReport,
    actor: Actor,
) -> None:
    now = utcnow()
    try:
        async with engine.begin() as conn:
            numbers = iter(await _allocate_numbers(conn, sum(1 for _n, c, _v in new if not c)))
            customers: list[dict[str, Any]] = []
            identities: list[dict[str, Any]] = []
            for _number, customer_number, v in new:
                cid = new_id()
                row = {**_CUSTOMER_DEFAULTS, **v.fields}
                row.update(name_keys({"last_name": None, **v.fields}))
                row.update(
                    id=cid,
                    customer_number=customer_number or next(numbers),
                    tags=v.fields.get("tags") or [],
                    created_at=now,
                    updated_at=now,
                    version=1,
                    lifetime_value=v.fields.get("lifetime_value", Decimal(0)),
                )
                customers.append(row)
                kinds: set[str] = set()
                for ident in v.identities:
                    identities.append(
                        {
                            "id": new_id(),
                            "customer_id": cid,
                            "kind": ident.kind.value,
                            "value": ident.value,
                            "raw_value": ident.raw_value,
                            "label": None,
                            "is_primary": ident.kind.value not in kinds,
                            "verified": False,
                            "created_at": now,
                        }
                    )
                    kinds.add(ident.kind.value)
            await conn.execute(insert(table_of(Customer)), customers)
            if identities:
                await conn.execute(insert(table_of(CustomerIdentity)), identities)
            await conn.execute(
                audit_insert(actor, "import", "customer", None, {"created": len(customers)}, at=now)
            )
        report.imported += len(new)
    except IntegrityError:
        # Someone stored one of these identities or numbers meanwhile: redo this chunk one
        # row at a time through the service, which resolves each conflict on its own.
        for number, _customer_number, v in new:
            data = {
                **v.fields,
                "identities": [{"kind": i.kind.value, "value": i.raw_value} for i in v.identities],
            }
            try:
                _view, created = await service.create_or_get(data, actor=actor)
            except CcserverError as err:
                field_errors(report, number, err)
                continue
            if created:
                report.imported += 1
            else:
                report.skipped_duplicates += 1


__all__ = [
    "ImportFileError",
    "ImportReport",
    "detect_format",
    "import_customers",
    "import_orders",
    "read_rows",
]
