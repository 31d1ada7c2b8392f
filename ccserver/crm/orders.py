"""Orders, shown in the screen pop and searchable by number (imported or entered by API)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.audit import SYSTEM, Actor, add_audit
from ccserver.crm.errors import CustomerNotFound, DuplicateOrder, OrderNotFound, ValidationFailed
from ccserver.crm.models import Customer, Order, utcnow
from ccserver.crm.pagination import DEFAULT_LIMIT, Page, clamp_page

ORDER_STATUSES = frozenset(
    {"placed", "paid", "processing", "shipped", "delivered", "cancelled", "returned", "refunded"}
)
TEXT_LIMITS = {"order_number": 64, "carrier": 64, "tracking": 128}
TIMESTAMPS = ("ordered_at", "shipped_at", "delivered_at")
ORDER_FIELDS = frozenset(
    {*TEXT_LIMITS, *TIMESTAMPS, "customer_id", "status", "total", "currency", "items"}
)


@dataclass(frozen=True)
class OrderView:
    id: str
    order_number: str
    customer_id: str | None
    status: str
    total: Decimal
    currency: str
    ordered_at: dt.datetime
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    carrier: str | None
    tracking: str | None
    items: tuple[Any, ...]
    created_at: dt.datetime
    updated_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, dt.datetime):
                v = v.isoformat()
            elif isinstance(v, Decimal):
                v = str(v)
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out


def order_view(o: Order) -> OrderView:
    return OrderView(
        **{f.name: getattr(o, f.name) for f in fields(OrderView) if f.name != "items"},
        items=tuple(o.items or ()),
    )


def _timestamp(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise ValueError("must be an ISO 8601 timestamp")
    if value.tzinfo is None:
        raise ValueError("must carry a time-zone offset (e.g. Z or +01:00)")
    return value


def validate_order(data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Cleaned order fields, or :class:`ValidationFailed` naming every bad field."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for key in data:
        if key not in ORDER_FIELDS or (partial and key == "order_number"):
            errors[key] = "unknown field" if key not in ORDER_FIELDS else "cannot be changed"
    for key, limit in TEXT_LIMITS.items():
        if key in data and key not in errors:
            v = data[key]
            if v is not None and (not isinstance(v, str) or len(v.strip()) > limit):
                errors[key] = f"must be a string of at most {limit} characters"
            else:
                out[key] = v.strip() or None if isinstance(v, str) else None
    if not partial and not out.get("order_number"):
        errors.setdefault("order_number", "required")
    if "status" in data:
        if data["status"] in ORDER_STATUSES:
            out["status"] = data["status"]
        else:
            errors["status"] = f"must be one of {', '.join(sorted(ORDER_STATUSES))}"
    if "total" in data:
        try:
            if isinstance(data["total"], bool):
                raise InvalidOperation
            total = Decimal(str(data["total"])).quantize(Decimal("0.01"))
            if not total.is_finite() or total < 0 or total >= Decimal("1e12"):
                raise InvalidOperation
            out["total"] = total
        except (InvalidOperation, ValueError):
            errors["total"] = "must be a non-negative amount"
    if "currency" in data:
        cur = data["currency"]
        if isinstance(cur, str) and len(cur) == 3 and cur.isalpha():
            out["currency"] = cur.upper()
        else:
            errors["currency"] = "must be a three-letter ISO 4217 code"
    for key in TIMESTAMPS:
        if key in data:
            if data[key] is None and key != "ordered_at":
                out[key] = None
                continue
            try:
                out[key] = _timestamp(data[key])
            except ValueError as exc:
                errors[key] = str(exc)
    if "items" in data:
        if isinstance(data["items"], list):
            out["items"] = data["items"]
        else:
            errors["items"] = "must be a list"
    if "customer_id" in data:
        out["customer_id"] = data["customer_id"]
    if errors:
        raise ValidationFailed("order data is not valid", details={"fields": errors})
    return out


class OrderService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, data: Mapping[str, Any], *, actor: Actor = SYSTEM) -> OrderView:
        values = validate_order(data)
        try:
            async with self._sessions.begin() as session:
                await self._check_customer(session, values.get("customer_id"))
                order = Order(**values)
                session.add(order)
                await session.flush()
                add_audit(session, actor, "create", "order", order.id)
                return order_view(order)
        except IntegrityError:
            raise DuplicateOrder(
                "an order with this number exists",
                details={"order_number": values["order_number"]},
            ) from None

    async def update(
        self, order_id: str, changes: Mapping[str, Any], *, actor: Actor = SYSTEM
    ) -> OrderView:
        values = validate_order(changes, partial=True)
        async with self._sessions.begin() as session:
            order = await session.get(Order, order_id)
            if order is None:
                raise OrderNotFound("no such order", details={"id": order_id})
            if "customer_id" in values:
                await self._check_customer(session, values["customer_id"])
            for key, value in values.items():
                setattr(order, key, value)
            order.updated_at = utcnow()
            add_audit(session, actor, "update", "order", order.id, {"fields": sorted(values)})
            await session.flush()
            return order_view(order)

    async def get(self, order_id: str) -> OrderView:
        async with self._sessions() as session:
            order = await session.get(Order, order_id)
        if order is None:
            raise OrderNotFound("no such order", details={"id": order_id})
        return order_view(order)

    async def get_by_number(self, order_number: str) -> OrderView:
        async with self._sessions() as session:
            order = await session.scalar(
                select(Order).where(Order.order_number == order_number.strip())
            )
        if order is None:
            raise OrderNotFound("no such order", details={"order_number": order_number})
        return order_view(order)

    async def list(
        self,
        *,
        customer_id: str | None = None,
        status: str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> Page[OrderView]:
        """Orders, newest first, optionally of one customer and/or one status."""
        limit, offset = clamp_page(limit, offset)
        conds = []
        if customer_id is not None:
            conds.append(Order.customer_id == customer_id)
        if status is not None:
            conds.append(Order.status == status)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(Order).where(*conds))
            rows = await session.scalars(
                select(Order)
                .where(*conds)
                .order_by(Order.ordered_at.desc(), Order.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return Page([order_view(o) for o in rows], int(total or 0), limit, offset)

    @staticmethod
    async def _check_customer(session: AsyncSession, customer_id: Any) -> None:
        if customer_id is None:
            return
        if not isinstance(customer_id, str) or await session.get(Customer, customer_id) is None:
            raise CustomerNotFound("no such customer", details={"customer_id": customer_id})
