"""Contacts (one row per interaction leg): recording and the filtered listings of the API.

The runtime writes contacts through the durable outbox (``crm/outbox.py``) straight into
this table; :meth:`ContactService.record` is the direct path for tools and tests. Listings
filter by customer, agent, queue, channel and a date range, each backed by an index
``(column, started_at)``, newest first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.errors import ContactNotFound, ValidationFailed
from ccserver.crm.models import Contact, Message
from ccserver.crm.pagination import DEFAULT_LIMIT, Page, clamp_page
from ccserver.domain import Channel, Direction

OUTCOMES = frozenset(
    {
        "answered",
        "abandoned_ivr",
        "abandoned_queue",
        "abandoned_offer",
        "self_service",
        "callback_requested",
        "voicemail",
        "unanswered",
        "transferred",
        "failed",
    }
)
CONTACT_COLUMNS = tuple(c.key for c in Contact.__table__.columns)
MESSAGE_COLUMNS = tuple(c.key for c in Message.__table__.columns)


@dataclass(frozen=True)
class ContactFilters:
    customer_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    channel: str | None = None
    outcome: str | None = None
    started_from: dt.datetime | None = None  # inclusive
    started_to: dt.datetime | None = None  # exclusive


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def contact_to_json(c: Contact) -> dict[str, Any]:
    return {name: _jsonable(getattr(c, name)) for name in CONTACT_COLUMNS}


def message_to_json(m: Message) -> dict[str, Any]:
    return {name: _jsonable(getattr(m, name)) for name in MESSAGE_COLUMNS}


def validate_contact(data: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for key in data:
        if key not in CONTACT_COLUMNS:
            errors[key] = "unknown field"
    for key in ("interaction_id", "channel", "started_at"):
        if data.get(key) in (None, ""):
            errors[key] = "required"
    if "channel" in data and data["channel"] not in {c.value for c in Channel}:
        errors["channel"] = "unknown channel"
    if "direction" in data and data["direction"] not in {d.value for d in Direction}:
        errors["direction"] = "must be inbound or outbound"
    if data.get("outcome") is not None and data["outcome"] not in OUTCOMES:
        errors["outcome"] = f"must be one of {', '.join(sorted(OUTCOMES))}"
    for key, value in data.items():
        if value is None:
            continue
        if key.endswith("_at") and (not isinstance(value, dt.datetime) or value.tzinfo is None):
            errors[key] = "must be a timezone-aware datetime"
        bad_number = isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        if key.endswith("_s") and bad_number:
            errors[key] = "must be a non-negative number of seconds"
    if errors:
        raise ValidationFailed("contact data is not valid", details={"fields": errors})
    return dict(data)


def _conditions(f: ContactFilters) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if f.customer_id is not None:
        conds.append(Contact.customer_id == f.customer_id)
    if f.agent_id is not None:
        conds.append(Contact.agent_id == f.agent_id)
    if f.queue is not None:
        conds.append(Contact.queue == f.queue)
    if f.channel is not None:
        conds.append(Contact.channel == f.channel)
    if f.outcome is not None:
        conds.append(Contact.outcome == f.outcome)
    if f.started_from is not None:
        conds.append(Contact.started_at >= f.started_from)
    if f.started_to is not None:
        conds.append(Contact.started_at < f.started_to)
    return conds


class ContactService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, data: Mapping[str, Any]) -> Contact:
        """Insert one contact directly (the runtime uses the outbox instead)."""
        values = validate_contact(data)
        async with self._sessions.begin() as session:
            contact = Contact(**values)
            session.add(contact)
            await session.flush()
            return contact

    async def add_message(self, contact_id: str, data: Mapping[str, Any]) -> Message:
        async with self._sessions.begin() as session:
            if await session.get(Contact, contact_id) is None:
                raise ContactNotFound("no such contact", details={"id": contact_id})
            unknown = [k for k in data if k not in MESSAGE_COLUMNS]
            if unknown or "direction" not in data:
                raise ValidationFailed(
                    "message data is not valid",
                    details={
                        "fields": {k: "unknown field" for k in unknown}
                        | ({} if "direction" in data else {"direction": "required"})
                    },
                )
            message = Message(contact_id=contact_id, **data)
            session.add(message)
            await session.flush()
            return message

    async def get(self, contact_id: str) -> Contact:
        async with self._sessions() as session:
            contact = await session.get(Contact, contact_id)
        if contact is None:
            raise ContactNotFound("no such contact", details={"id": contact_id})
        return contact

    async def messages(self, contact_id: str) -> list[Message]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Message)
                .where(Message.contact_id == contact_id)
                .order_by(Message.created_at, Message.id)
            )
            return list(rows)

    async def list(
        self,
        filters: ContactFilters | None = None,
        *,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> Page[Contact]:
        """Contacts matching every filter, newest first."""
        limit, offset = clamp_page(limit, offset)
        conds = _conditions(filters or ContactFilters())
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(Contact).where(*conds))
            rows = await session.scalars(
                select(Contact)
                .where(*conds)
                .order_by(Contact.started_at.desc(), Contact.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return Page(list(rows), int(total or 0), limit, offset)
