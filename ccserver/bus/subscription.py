"""One subscriber's view of the bus: a bounded buffer fed by the implementation's fan-out.

Slow-subscriber policy (the same on every implementation): each subscription buffers at most
``queue_size`` undelivered live messages. When a publish finds the buffer full, the
subscription is *detached* from fan-out (memory stops growing at once); the consumer still
receives everything buffered before the detach, then the iterator raises
:class:`SubscriberLagged` carrying the last id delivered per topic, so it can resume from
the bounded history (``subscribe(from_id=...)`` / ``read_since``). Nothing is skipped
silently and one slow console cannot slow the publishers or the other subscribers.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
from collections import deque
from typing import TYPE_CHECKING, Protocol

from ccserver.bus.errors import SubscriberLagged
from ccserver.bus.interface import BusMessage, id_key, normalize_from_id, parse_id

if TYPE_CHECKING:
    from types import TracebackType


class _Backend(Protocol):
    """What a subscription needs from its bus (implemented by InMemoryBus and RedisBus)."""

    async def _attach(self, sub: Subscription) -> dict[str, str]:
        """Start fanning out to ``sub``; return each topic's newest id at that moment."""
        ...

    def _detach(self, sub: Subscription) -> None: ...

    async def read_since(
        self, topic: str, last_id: str | None, limit: int = 100
    ) -> list[BusMessage]: ...


class _State(enum.Enum):
    NEW = "new"
    ACTIVE = "active"
    LAGGED = "lagged"
    CLOSED = "closed"


_BACKFILL_PAGE = 500


class Subscription:
    """``async with bus.subscribe(topics) as sub: async for msg in sub: ...``

    Cancel-safe: cancelling a task blocked in ``__anext__`` loses no message (it stays
    buffered for the next call). Leaving the ``async with`` block (or :meth:`aclose`)
    detaches it from the bus; :meth:`EventBus.close` ends the iteration of every open one.
    """

    def __init__(
        self,
        backend: _Backend,
        topics: tuple[str, ...],
        from_id: str | None,
        queue_size: int,
    ) -> None:
        self.topics = topics
        self._backend = backend
        self._from_id = normalize_from_id(from_id)
        self._queue_size = queue_size
        self._buffer: deque[BusMessage] = deque()
        self._backlog: deque[BusMessage] = deque()
        self._cursor: dict[str, tuple[int, int]] = {}
        self._last_ids: dict[str, str | None] = {t: None for t in topics}
        self._waiter: asyncio.Future[None] | None = None
        self._state = _State.NEW

    # --- public ---------------------------------------------------------------------------
    @property
    def lagging(self) -> bool:
        """True once detached for falling ``queue_size`` messages behind."""
        return self._state is _State.LAGGED

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    @property
    def last_ids(self) -> dict[str, str | None]:
        """Id of the last message delivered per topic (None: none yet)."""
        return dict(self._last_ids)

    @property
    def pending(self) -> int:
        """Messages buffered but not yet delivered."""
        return len(self._buffer) + len(self._backlog)

    async def __aenter__(self) -> Subscription:
        if self._state is not _State.NEW:
            raise RuntimeError("a Subscription can be entered only once")
        self._state = _State.ACTIVE
        try:
            newest = await self._backend._attach(self)
            if self._from_id is None:
                self._cursor = {t: parse_id(newest[t]) for t in self.topics}
            else:
                start = parse_id(self._from_id)
                self._cursor = dict.fromkeys(self.topics, start)
                await self._load_backlog()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._state in (_State.ACTIVE, _State.NEW):
            self._backend._detach(self)
        self._state = _State.CLOSED
        self._buffer.clear()
        self._backlog.clear()
        self._wake()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> BusMessage:
        if self._state is _State.NEW:
            raise RuntimeError("use 'async with bus.subscribe(...) as sub' before iterating")
        while True:
            if self._backlog:
                msg = self._backlog.popleft()
            elif self._buffer:
                msg = self._buffer.popleft()
            elif self._state is _State.LAGGED:
                raise SubscriberLagged(self._last_ids)
            elif self._state is _State.CLOSED:
                raise StopAsyncIteration
            else:
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
                continue
            key = id_key(msg.id)
            # Backfill and live fan-out overlap by design; the per-topic cursor drops the
            # duplicates (and anything published before a "$" subscription).
            if key <= self._cursor[msg.topic]:
                continue
            self._cursor[msg.topic] = key
            self._last_ids[msg.topic] = msg.id
            return msg

    # --- called by the bus ----------------------------------------------------------------
    def _offer(self, msg: BusMessage) -> None:
        """Fan-out entry point (synchronous, never blocks the publisher)."""
        if self._state is not _State.ACTIVE:
            return
        if len(self._buffer) >= self._queue_size:
            self._state = _State.LAGGED
            self._backend._detach(self)
        else:
            self._buffer.append(msg)
        self._wake()

    def _end(self) -> None:
        """The bus is closing: deliver what is buffered, then stop."""
        if self._state in (_State.ACTIVE, _State.NEW):
            self._state = _State.CLOSED
        self._wake()

    # --- internals ------------------------------------------------------------------------
    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _load_backlog(self) -> None:
        """Retained history after ``from_id`` for every topic, merged in id order."""
        assert self._from_id is not None
        per_topic: list[list[BusMessage]] = []
        for topic in self.topics:
            items: list[BusMessage] = []
            last: str = self._from_id
            while True:
                page = await self._backend.read_since(topic, last, _BACKFILL_PAGE)
                items.extend(page)
                if len(page) < _BACKFILL_PAGE:
                    break
                last = page[-1].id
            per_topic.append(items)
        self._backlog.extend(heapq.merge(*per_topic, key=lambda m: id_key(m.id)))
