"""Answers to the IVR's ``Lookup`` actions from the CRM (and the routing calendars).

kinds: customer_by_phone, customer_by_account (customer number), customer_by_order,
order_status, open_complaints, queue_open. ``None`` means "not found"; a store error is
logged and also answered with ``None`` so the caller is routed on rather than stranded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.customer_views import CustomerView
from ccserver.crm.customers import CustomerService
from ccserver.crm.models import Complaint
from ccserver.crm.orders import OrderService, OrderView
from ccserver.errors import CcserverError
from ccserver.logs import get_logger

log = get_logger(__name__)
_CLOSED_COMPLAINTS = ("resolved", "closed", "rejected")


def _day(value: dt.datetime | None) -> str | None:
    return value.date().isoformat() if value is not None else None


class CrmLookups:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        default_region: str = "US",
        queue_open: Callable[[str], bool] | None = None,
    ) -> None:
        self._sessions = sessions
        self.customers = CustomerService(sessions, default_region=default_region)
        self.orders = OrderService(sessions)
        self._queue_open = queue_open

    async def resolve(self, kind: str, key: str) -> dict[str, Any] | None:
        try:
            return await self._resolve(kind, key)
        except CcserverError:
            return None  # not found (and friends)
        except Exception:
            log.warning("IVR lookup failed", kind=kind, exc_info=True)
            return None

    async def _resolve(self, kind: str, key: str) -> dict[str, Any] | None:
        if kind == "customer_by_phone":
            found = await self.customers.find_by_phone(key)
            return await self._customer(found) if found is not None else None
        if kind == "customer_by_account":
            return await self._customer(await self.customers.get_by_number(key))
        if kind == "customer_by_order":
            order = await self.orders.get_by_number(key)
            if order.customer_id is None:
                return None
            return await self._customer(await self.customers.get(order.customer_id))
        if kind == "order_status":
            return self._order(await self.orders.get_by_number(key))
        if kind == "open_complaints":
            return {"count": await self._open_complaints(key)}
        if kind == "queue_open":
            return {"open": True if self._queue_open is None else self._queue_open(key)}
        log.warning("unknown IVR lookup kind", kind=kind)
        return None

    async def _customer(self, c: CustomerView) -> dict[str, Any]:
        return {
            "id": c.id,
            "number": c.customer_number,
            "name": c.display_name,
            "tier": c.tier,
            "segment": c.segment,
            "language": c.preferred_language,
            "open_complaints": await self._open_complaints(c.id),
        }

    @staticmethod
    def _order(o: OrderView) -> dict[str, Any]:
        return {
            "order_number": o.order_number,
            "status": o.status,
            "shipped_on": _day(o.shipped_at),
            "delivered_on": _day(o.delivered_at),
            "ordered_on": _day(o.ordered_at),
            "carrier": o.carrier,
        }

    async def _open_complaints(self, customer_id: str) -> int:
        async with self._sessions() as s:
            count = await s.scalar(
                select(func.count())
                .select_from(Complaint)
                .where(
                    Complaint.customer_id == customer_id,
                    Complaint.status.not_in(_CLOSED_COMPLAINTS),
                )
            )
        return int(count or 0)
