"""Work the server owes someone outlives the process (``pending_work`` rows).

An email or web form waiting for an agent overnight, a callback scheduled for this
afternoon, a reply waiting for the relay to come back: none of them has a customer on the
line to try again, so a restart must not forget them. Each is kept as a row while it is
pending (upserted through the durable outbox, so a database outage delays the row but
never drops it) and marked ``done`` when it ends; at start the pending rows come back.

Chats and calls are not kept: the customer's socket or call ends with the process.

``PendingWorkStore`` is the table; ``DurableInteractions`` is what the contact center uses
to keep written work (it snapshots an interaction and takes it back after a restart).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.models import PendingWork, utcnow
from ccserver.crm.outbox import Outbox
from ccserver.domain import Channel, Direction, Interaction
from ccserver.logs import get_logger

log = get_logger(__name__)

# Written work: nobody is on the line, so it waits (for hours if need be) and must survive.
DURABLE_CHANNELS = frozenset({Channel.EMAIL, Channel.WEB, Channel.CALLBACK})
INTERACTION = "interaction"
EMAIL_DELIVERY = "email_delivery"
_RECORD = "pending_work.upsert"
# How long start-up waits for the outbox to apply what the last run left in its journal
# before reading pending rows (an item put just before a crash must be seen).
FLUSH_BEFORE_LOAD_S = 30.0


def _at(value: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, dt.UTC) if value is not None else None


@dataclass(frozen=True, slots=True)
class PendingItem:
    id: str
    kind: str
    due_at: float | None
    payload: dict[str, Any]


def _item(r: PendingWork) -> PendingItem:
    return PendingItem(r.id, r.kind, r.due_at.timestamp() if r.due_at else None, dict(r.payload))


class PendingWorkStore:
    def __init__(self, outbox: Outbox, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.outbox = outbox
        self.sessions = sessions

    async def keep(
        self,
        kind: str,
        item_id: str,
        payload: dict[str, Any],
        due_at: float | None = None,
        *,
        state: str = "pending",
    ) -> None:
        """Record (or refresh) an item with its whole payload; the newest payload wins.
        Only ``pending`` items are taken back at start."""
        now = utcnow()
        await self.outbox.put(
            _RECORD,
            {
                "id": item_id,
                "kind": kind,
                "state": state,
                "due_at": _at(due_at),
                "payload": payload,
                "created_at": now,
                "updated_at": now,
            },
        )

    async def done(self, item_id: str, state: str = "done") -> None:
        """The item ended (``done``, or a final state such as ``failed``): not restored."""
        await self.outbox.put(_RECORD, {"id": item_id, "state": state, "updated_at": utcnow()})

    async def get(self, item_id: str) -> PendingItem | None:
        async with self.sessions() as s:
            r = await s.get(PendingWork, item_id)
            return None if r is None else _item(r)

    async def listing(
        self, kind: str, states: tuple[str, ...], limit: int
    ) -> list[tuple[PendingItem, str, dt.datetime]]:
        """Newest first: (item, state, updated_at) of ``kind`` in ``states``."""
        async with self.sessions() as s:
            rows = (
                await s.execute(
                    select(PendingWork)
                    .where(PendingWork.kind == kind, PendingWork.state.in_(states))
                    .order_by(PendingWork.updated_at.desc(), PendingWork.id)
                    .limit(limit)
                )
            ).scalars()
            return [(_item(r), r.state, r.updated_at) for r in rows]

    async def pending(self, kind: str) -> list[PendingItem]:
        """Pending items of ``kind``, oldest first, after the outbox has applied what the
        previous run left in its journal (bounded: an outage returns what the database has)."""
        try:
            async with asyncio.timeout(FLUSH_BEFORE_LOAD_S):
                await self.outbox.flush()
        except TimeoutError:
            log.warning("outbox not drained before loading pending work", kind=kind)
        async with self.sessions() as s:
            rows = (
                await s.execute(
                    select(PendingWork)
                    .where(PendingWork.state == "pending", PendingWork.kind == kind)
                    .order_by(PendingWork.created_at, PendingWork.id)
                )
            ).scalars()
            return [_item(r) for r in rows]


def snapshot(i: Interaction) -> dict[str, Any]:
    """What it takes to bring ``i`` back as the same interaction on the same contact."""
    return {
        "id": i.id,
        "channel": i.channel.value,
        "direction": i.direction.value,
        "customer_id": i.customer_id,
        "contact_id": i.contact_id,
        "priority": i.priority,
        "skills": dict(i.skills),
        "attributes": dict(i.attributes),
        "timestamps": {k: v for k, v in i.timestamps.items() if k in ("new", "first_queued")},
    }


def revive(snap: dict[str, Any]) -> Interaction:
    """The interaction of ``snap`` as new work (its contact row already exists)."""
    i = Interaction(
        id=str(snap["id"]),
        channel=Channel(snap["channel"]),
        direction=Direction(snap.get("direction", Direction.INBOUND.value)),
        customer_id=snap.get("customer_id"),
        priority=int(snap.get("priority", 0)),
        skills={str(k): int(v) for k, v in dict(snap.get("skills") or {}).items()},
        attributes=dict(snap.get("attributes") or {}),
        contact_id=snap.get("contact_id"),
        timestamps={str(k): float(v) for k, v in dict(snap.get("timestamps") or {}).items()},
    )
    i.attributes["restarts"] = int(i.attributes.get("restarts", 0)) + 1
    return i


class DurableInteractions:
    """Keeps written work (``DURABLE_CHANNELS``) from creation or queueing until it ends."""

    def __init__(self, store: PendingWorkStore | None) -> None:
        self.store = store
        self._kept: dict[str, tuple[str, dict[str, Any]]] = {}  # id -> (queue, enqueue)

    async def keep(
        self,
        i: Interaction,
        queue: str,
        *,
        enqueue: dict[str, Any] | None = None,
        due_at: float | None = None,
    ) -> None:
        """``i`` waits for ``queue`` (``enqueue``: the keyword arguments it is routed with)."""
        if self.store is None or i.channel not in DURABLE_CHANNELS:
            return
        kwargs = dict(enqueue or {})
        payload = {**snapshot(i), "queue": queue, "enqueue": kwargs}
        await self.store.keep(INTERACTION, i.id, payload, due_at)
        self._kept[i.id] = (queue, kwargs)

    async def assigned(self, i: Interaction, agent_id: str) -> None:
        """An agent took ``i``: if a restart comes before it ends, it goes back to them."""
        kept = self._kept.get(i.id)
        if kept is not None:
            queue, kwargs = kept
            await self.keep(i, queue, enqueue={**kwargs, "preferred_agent_id": agent_id})

    async def ended(self, i: Interaction) -> None:
        if self.store is not None and self._kept.pop(i.id, None) is not None:
            await self.store.done(i.id)

    async def pending(self) -> list[PendingItem]:
        if self.store is None:
            return []
        items = await self.store.pending(INTERACTION)
        for item in items:
            kwargs = dict(item.payload.get("enqueue") or {})
            self._kept[item.id] = (str(item.payload.get("queue", "")), kwargs)
        return items
