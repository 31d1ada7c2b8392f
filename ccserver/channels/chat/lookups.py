"""Answers to the chat IVR's ``Lookup`` actions from the CRM and the routing calendars.

kinds: customer_by_phone, customer_by_account (customer number), queue_open; any other
kind (order status, open complaints) is answered by the voice channel's lookups when that
module is installed, else "not found" (None), so the customer is routed on, never stuck.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.customer_views import CustomerView
from ccserver.crm.customers import CustomerService
from ccserver.errors import CcserverError
from ccserver.logs import get_logger
from ccserver.runtime.contact_center import ContactCenter

log = get_logger(__name__)
Lookup = Callable[[str, str], Awaitable[dict[str, Any] | None]]


def _customer(c: CustomerView) -> dict[str, Any]:
    return {
        "id": c.id,
        "number": c.customer_number,
        "name": c.display_name,
        "tier": c.tier,
        "segment": c.segment,
        "language": c.preferred_language,
    }


def chat_lookup(
    sessions: async_sessionmaker[AsyncSession], region: str, cc: ContactCenter
) -> Lookup:
    customers = CustomerService(sessions, default_region=region)
    fallback: Lookup | None = None
    try:
        from ccserver.channels.voice.lookups import CrmLookups
    except ImportError:
        pass
    else:
        fallback = CrmLookups(sessions, default_region=region).resolve

    async def resolve(kind: str, key: str) -> dict[str, Any] | None:
        try:
            if kind == "queue_open":
                q = cc.routing.config.queues.get(key)
                return {"open": True if q is None else q.hours.is_open(cc.clock())}
            if kind == "customer_by_phone":
                found = await customers.find_by_phone(key)
                return _customer(found) if found is not None else None
            if kind == "customer_by_account":
                return _customer(await customers.get_by_number(key))
            return await fallback(kind, key) if fallback is not None else None
        except CcserverError:
            return None  # not found and friends
        except Exception:
            log.warning("chat IVR lookup failed", kind=kind, exc_info=True)
            return None

    return resolve
