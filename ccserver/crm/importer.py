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

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ccserver.crm.audit import SYSTEM, Actor
from ccserver.crm.customer_rows import name_keys
from ccserver.crm.customer_validation import validate_customer
from ccserver.crm.customers import CustomerService
from ccserver.crm.database import session_factory
from ccserver.crm.identities import IdentityError, normalise_email, normalise_phone
from ccserver.crm.importer_files import ImportFileError, detect_format, read_rows
from ccserver.crm.models import AuditEntry, Counter, Customer, CustomerIdentity, Order, utcnow
from ccserver.crm.orders import validate_order
from ccserver.domain import new_id
from ccserver.errors import CcserverError, ValidationFailed

OnDuplicate = Literal["skip", "update"]
# rows processed so far, bytes read so far, file size in bytes (for a progress bar)
Progress = Callable[[int, int, int], None]

MAX_REPORTED_ERRORS = 10_000  # a wholly wrong file should not build a gigantic report


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    imported: int = 0
    updated: int = 0
    skipped_duplicates: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    errors_truncated: bool = False

    def error(self, row: int, field_name: str, message: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((row, field_name, message))
        else:
            self.errors_truncated = True

    @property
    def rejected_rows(self) -> int:
        return len({r for r, _f, _m in self.errors})

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "imported": self.imported,
            "updated": self.updated,
            "skipped_duplicates": self.skipped_duplicates,
            "errors": [{"row": r, "field": f, "message": m} for r, f, m in self.errors],
            "errors_truncated": self.errors_truncated,
        }


def _chunks(
    rows: Iterator[tuple[int, dict[str, Any] | str, int]], size: int, report: ImportReport
) -> Iterator[tuple[list[tuple[int, dict[str, Any]]], int]]:
    chunk: list[tuple[int, dict[str, Any]]] = []
    done = 0
    for number, row, done in rows:
        report.rows += 1
        if isinstance(row, str):
            report.error(number, "", row)
            continue
        chunk.append((number, row))
        if len(chunk) >= size:
            yield chunk, done
            chunk = []
    yield chunk, done


def _field_errors(report: ImportReport, number: int, exc: CcserverError) -> None:
    fields = exc.details.get("fields")
    if isinstance(fields, Mapping) and fields:
        for name, message in fields.items():
            report.error(number, str(name), str(message))
    else:
        report.error(number, "", exc.message)


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


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


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
    for chunk, done in _chunks(read_rows(path, kind), chunk_size, report):
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
            _field_errors(report, number, exc)
    if not valid:
        return
    values = {i.value for _n, _c, v in valid for i in v.identities}
    numbers = {c for _n, c, _v in valid if c}
    owners: dict[tuple[str, str], str] = {}
    by_number: dict[str, str] = {}
    async with engine.connect() as conn:
        for part in _slices(sorted(values), 500):
            rows = await conn.execute(
                select(
                    CustomerIdentity.kind, CustomerIdentity.value, CustomerIdentity.customer_id
                ).where(CustomerIdentity.value.in_(part))
            )
            owners.update({(k, v): cid for k, v, cid in rows})
        for part in _slices(sorted(numbers), 500):
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
            _field_errors(report, number, exc)


def _slices(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


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
            await conn.execute(insert(_table(Customer)), customers)
            if identities:
                await conn.execute(insert(_table(CustomerIdentity)), identities)
            await conn.execute(
                insert(_table(AuditEntry)).values(
                    id=new_id(),
                    at=now,
                    actor=actor.id,
                    actor_role=actor.role,
                    ip=actor.ip,
                    action="import",
                    entity="customer",
                    entity_id=None,
                    details={"created": len(customers)},
                )
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
                _field_errors(report, number, err)
                continue
            if created:
                report.imported += 1
            else:
                report.skipped_duplicates += 1


# --- orders ------------------------------------------------------------------------------------
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
    for chunk, done in _chunks(read_rows(path, kind), chunk_size, report):
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
            _field_errors(report, number, exc)
    if not valid:
        return
    async with engine.begin() as conn:
        links = await _resolve_links(conn, {lk for _n, _v, lk in valid if lk})
        wanted = [v["order_number"] for _n, v, _l in valid]
        existing: dict[str, str] = {}
        for part in _slices(wanted, 500):
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
            await conn.execute(insert(_table(Order)), inserts)
            await conn.execute(
                insert(_table(AuditEntry)).values(
                    id=new_id(),
                    at=now,
                    actor=actor.id,
                    actor_role=actor.role,
                    ip=actor.ip,
                    action="import",
                    entity="order",
                    entity_id=None,
                    details={"created": len(inserts)},
                )
            )
        report.imported += len(inserts)


async def _resolve_links(
    conn: AsyncConnection, links: set[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    numbers = sorted(v for k, v in links if k == "number")
    for part in _slices(numbers, 500):
        numbered = await conn.execute(
            select(Customer.customer_number, Customer.id).where(Customer.customer_number.in_(part))
        )
        out.update({("number", num): cid for num, cid in numbered})
    idents = sorted(v for k, v in links if k != "number")
    for part in _slices(idents, 500):
        rows = await conn.execute(
            select(
                CustomerIdentity.kind, CustomerIdentity.value, CustomerIdentity.customer_id
            ).where(CustomerIdentity.value.in_(part))
        )
        out.update({(k, v): cid for k, v, cid in rows})
    return out


__all__ = [
    "ImportFileError",
    "ImportReport",
    "detect_format",
    "import_customers",
    "import_orders",
    "read_rows",
]
