"""Answers to the chat IVR's ``Lookup`` actions: the voice channel's CRM lookups when that
module is present (same menus, same answers), else only ``queue_open`` from the routing
calendars (every other lookup answers "not found", so the customer is routed on)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.runtime.contact_center import ContactCenter

Lookup = Callable[[str, str], Awaitable[dict[str, Any] | None]]


def chat_lookup(
    sessions: async_sessionmaker[AsyncSession], region: str, cc: ContactCenter
) -> Lookup:
    def queue_open(queue: str) -> bool:
        q = cc.routing.config.queues.get(queue)
        return True if q is None else q.hours.is_open(cc.clock())

    try:
        from ccserver.channels.voice.lookups import CrmLookups
    except ImportError:  # voice channel not installed: answer what the runtime knows

        async def minimal(kind: str, key: str) -> dict[str, Any] | None:
            return {"open": queue_open(key)} if kind == "queue_open" else None

        return minimal
    lookups = CrmLookups(sessions, default_region=region, queue_open=queue_open)
    return lookups.resolve
