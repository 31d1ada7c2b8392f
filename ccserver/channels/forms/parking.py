"""Written work (emails, web forms, callbacks) waits for its queue's business hours.

Routing applies a queue's after-hours action (voicemail, callback, disconnect) to a task
submitted while the queue is closed: right for a caller on the line, wrong for an email
that arrived at night. Such work is parked here and enqueued when the queue opens, so it
keeps its place in the CRM and reaches an agent in the morning.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from ccserver.domain import InteractionState
from ccserver.logs import get_logger
from ccserver.runtime.contact_center import ContactCenter

log = get_logger(__name__)


@dataclass
class _Parked:
    interaction_id: str
    queue: str
    kwargs: dict[str, Any] = field(default_factory=dict)


class ParkedWork:
    def __init__(self, cc: ContactCenter, tick_s: float = 30.0) -> None:
        self.cc = cc
        self.tick_s = tick_s
        self.parked: list[_Parked] = []
        self._task: asyncio.Task[None] | None = None

    def is_open(self, queue: str, now: float) -> bool:
        return self.cc.queue_open(queue, now)

    async def enqueue(self, interaction_id: str, queue: str, **kwargs: Any) -> bool:
        """Enqueue now if the queue is open (True), else park until it opens (False)."""
        if self.is_open(queue, self.cc.clock()):
            await self.cc.enqueue(interaction_id, queue, **kwargs)
            return True
        i = self.cc.interactions.get(interaction_id)
        if i is not None:
            i.attributes["parked_until_open"] = queue
            await self.cc.durable.keep(i, queue, enqueue=kwargs)  # parked overnight: kept
        self.parked.append(_Parked(interaction_id, queue, kwargs))
        return False

    async def release(self) -> int:
        """Enqueue parked work whose queue is open now; returns how many were released."""
        now = self.cc.clock()
        waiting: list[_Parked] = []
        released = 0
        for p in self.parked:
            i = self.cc.interactions.get(p.interaction_id)
            if i is None or i.state not in (InteractionState.NEW, InteractionState.SELF_SERVICE):
                continue  # gone (e.g. the customer withdrew it)
            if not self.is_open(p.queue, now):
                waiting.append(p)
                continue
            i.attributes.pop("parked_until_open", None)
            await self.cc.enqueue(p.interaction_id, p.queue, **p.kwargs)
            released += 1
        self.parked = waiting
        return released

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="parked-work")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self.release()
            except Exception:
                log.exception("releasing parked work failed")
