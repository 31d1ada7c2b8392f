"""Row-level helpers shared by the customer modules: search keys, human numbers, views.

Kept apart from the service so search, merge and privacy can use them without importing
the service (which imports them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccserver.crm.customer_views import (
    IDENTITY_COLUMNS,
    CustomerView,
    customer_view,
    identity_view,
)
from ccserver.crm.models import Counter, Customer, CustomerIdentity


def name_keys(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Lower-cased search keys kept next to the names they index."""
    out: dict[str, Any] = {}
    if "display_name" in fields:
        out["name_key"] = (fields["display_name"] or "").lower()
    if "last_name" in fields:
        out["last_name_key"] = fields["last_name"].lower() if fields["last_name"] else None
    return out


async def next_number(session: AsyncSession, counter: str) -> int:
    """The next value of a named counter, inside the caller's transaction."""
    stmt = (
        update(Counter)
        .where(Counter.name == counter)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    value = (await session.execute(stmt)).scalar_one_or_none()
    if value is None:  # a database migrated before this counter existed
        await session.execute(insert(Counter).values(name=counter, value=1))
        value = 1
    return int(value)


async def load_views(session: AsyncSession, customers: Sequence[Customer]) -> list[CustomerView]:
    """Views of ``customers`` with their identities, in one extra query."""
    ids = [c.id for c in customers]
    by_customer: dict[str, list[CustomerIdentity]] = {i: [] for i in ids}
    if ids:
        rows = await session.scalars(
            select(CustomerIdentity).where(CustomerIdentity.customer_id.in_(ids))
        )
        for ident in rows:
            by_customer[ident.customer_id].append(ident)
    return [customer_view(c, (identity_view(i) for i in by_customer[c.id])) for c in customers]


def _identity_lookup() -> Select[Any]:
    """Customer + all its identities, found by one identity: built once, bound per call."""
    customers = Customer.__table__
    matched = CustomerIdentity.__table__.alias("matched")
    others = CustomerIdentity.__table__.alias("others")
    return (
        select(customers, *(others.c[c].label(f"i_{c}") for c in IDENTITY_COLUMNS))
        .select_from(
            customers.join(matched, matched.c.customer_id == customers.c.id).join(
                others, others.c.customer_id == customers.c.id
            )
        )
        .where(matched.c.kind == bindparam("kind"), matched.c.value == bindparam("value"))
    )


IDENTITY_LOOKUP = _identity_lookup()


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return list(value)
    return str(value)
