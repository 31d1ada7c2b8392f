"""Customer search: name prefix, phone in any format, email, order number, customer number.

Every filter maps to an indexed column (``name_key``/``last_name_key`` prefix with pattern
ops, the unique identity key, the unique order number, the unique customer number), so a
search stays fast at a million customers. Merged and erased customers are never listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from ccserver.crm.customer_rows import load_views
from ccserver.crm.customer_views import CustomerView
from ccserver.crm.identities import IdentityKind, phone_lookup_key
from ccserver.crm.models import Customer, CustomerIdentity, Order
from ccserver.crm.pagination import Page, clamp_page

MIN_PHONE_DIGITS = 5  # "12" typed in the search box is a name/number prefix, not a phone


@dataclass(frozen=True)
class SearchFilters:
    q: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    order_number: str | None = None
    customer_number: str | None = None
    segment: str | None = None


def _owned_identity(kind: IdentityKind, value: str) -> ColumnElement[bool]:
    return Customer.id.in_(
        select(CustomerIdentity.customer_id).where(
            CustomerIdentity.kind == kind.value, CustomerIdentity.value == value
        )
    )


def _prefix_match(column: Any, prefix: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "sqlite" and ord(prefix[-1]) < 0x10FFFF:
        # SQLite's LIKE is case-insensitive and so cannot use a BINARY index; a range on
        # the lower-cased key can, and is exact under BINARY collation.
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return and_(column >= prefix, column < upper)
    # PostgreSQL: LIKE 'prefix%' uses the text_pattern_ops index under any collation.
    return column.startswith(prefix, autoescape=True)  # type: ignore[no-any-return]


def _name_prefix(text: str, dialect: str) -> ColumnElement[bool]:
    prefix = " ".join(text.split()).lower()
    if not prefix:
        return true()
    return or_(
        _prefix_match(Customer.name_key, prefix, dialect),
        _prefix_match(Customer.last_name_key, prefix, dialect),
    )


def _phone(text: str, region: str) -> ColumnElement[bool]:
    key = phone_lookup_key(text, region)
    return _owned_identity(IdentityKind.PHONE, key) if key else false()


def _order(text: str) -> ColumnElement[bool]:
    return Customer.id.in_(select(Order.customer_id).where(Order.order_number == text.strip()))


def _free_text(q: str, region: str, dialect: str) -> ColumnElement[bool]:
    """What a search box means: any interpretation of the text that matches."""
    text = q.strip()
    options: list[ColumnElement[bool]] = [
        _name_prefix(text, dialect),
        Customer.customer_number == text.upper(),
        _order(text),
    ]
    if "@" in text:
        options.append(_owned_identity(IdentityKind.EMAIL, text.lower()))
    if sum(ch.isdigit() for ch in text) >= MIN_PHONE_DIGITS:
        options.append(_phone(text, region))
    options.append(_owned_identity(IdentityKind.ACCOUNT, text))
    options.append(_owned_identity(IdentityKind.CHAT, text.lower()))
    return or_(*options)


def conditions(f: SearchFilters, region: str, dialect: str) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [
        Customer.merged_into_id.is_(None),
        Customer.erased_at.is_(None),
    ]
    if f.q and f.q.strip():
        conds.append(_free_text(f.q, region, dialect))
    if f.name and f.name.strip():
        conds.append(_name_prefix(f.name, dialect))
    if f.phone:
        conds.append(_phone(f.phone, region))
    if f.email:
        conds.append(_owned_identity(IdentityKind.EMAIL, f.email.strip().lower()))
    if f.order_number:
        conds.append(_order(f.order_number))
    if f.customer_number:
        conds.append(Customer.customer_number == f.customer_number.strip().upper())
    if f.segment:
        conds.append(Customer.segment == f.segment)
    return conds


async def search(
    session: AsyncSession, region: str, f: SearchFilters, *, limit: int, offset: int
) -> Page[CustomerView]:
    limit, offset = clamp_page(limit, offset)
    where: Any = and_(*conditions(f, region, session.get_bind().dialect.name))
    total = int(await session.scalar(select(func.count()).select_from(Customer).where(where)) or 0)
    rows = (
        await session.scalars(
            select(Customer)
            .where(where)
            .order_by(Customer.name_key, Customer.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return Page(await load_views(session, rows), total, limit, offset)
