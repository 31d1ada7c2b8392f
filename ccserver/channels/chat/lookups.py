"""Answers to the chat IVR's ``Lookup`` actions: the same CRM lookups as the phone IVR
(:class:`ccserver.channels.voice.lookups.CrmLookups`), with business hours from the live
routing calendars. "Not found" or a store error is ``None``, so the customer is routed on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.channels.voice.lookups import CrmLookups
from ccserver.runtime.contact_center import ContactCenter

Lookup = Callable[[str, str], Awaitable[dict[str, Any] | None]]


def chat_lookup(
    sessions: async_sessionmaker[AsyncSession], region: str, cc: ContactCenter
) -> Lookup:
    return CrmLookups(sessions, default_region=region, queue_open=cc.queue_open).resolve
