"""In-memory event bus: the single-process default.

Same contract and ids as the Redis implementation so the shared test suite runs on both.
Messages are JSON-encoded on publish (size bound, shape check, and a private copy so the
publisher mutating its dict later changes nothing), decoded once and shared by every
subscriber. History per topic is an exact ``history_maxlen`` ring.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from ccserver.bus.errors import BusClosed
from ccserver.bus.interface import (
    BEGINNING,
    DEFAULT_HISTORY_MAXLEN,
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_QUEUE_SIZE,
    BusMessage,
    check_topic,
    check_topics,
    decode_payload,
    encode_payload,
    id_key,
    parse_id,
)
from ccserver.bus.subscription import Subscription


class InMemoryBus:
    """An :class:`~ccserver.bus.interface.EventBus` living in this process only."""

    def __init__(
        self,
        *,
        history_maxlen: int = DEFAULT_HISTORY_MAXLEN,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        if history_maxlen < 1 or queue_size < 1 or max_payload_bytes < 2:
            raise ValueError("history_maxlen, queue_size and max_payload_bytes must be >= 1")
        self.history_maxlen = history_maxlen
        self.queue_size = queue_size
        self.max_payload_bytes = max_payload_bytes
        self._history: dict[str, deque[BusMessage]] = {}
        self._subscribers: dict[str, dict[Subscription, None]] = {}
        self._all_subs: dict[Subscription, None] = {}
        self._last_ms = 0
        self._seq = 0
        self._closed = False

    async def start(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        for sub in list(self._all_subs):
            sub._end()
        self._all_subs.clear()
        self._subscribers.clear()

    async def ping(self) -> bool:
        return not self._closed

    async def publish(self, topic: str, message: dict[str, Any]) -> str:
        return self.publish_nowait(topic, message)

    async def publish_many(self, items: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
        """Publish several messages in order; validation first, so an invalid item
        publishes nothing."""
        prepared = [(check_topic(t), encode_payload(m, self.max_payload_bytes)) for t, m in items]
        return [self._append(topic, raw) for topic, raw in prepared]

    def publish_nowait(self, topic: str, message: dict[str, Any]) -> str:
        """Synchronous publish (in-memory only), for callers outside a coroutine."""
        if self._closed:
            raise BusClosed("the event bus is closed")
        check_topic(topic)
        return self._append(topic, encode_payload(message, self.max_payload_bytes))

    def _append(self, topic: str, raw: bytes) -> str:
        if self._closed:
            raise BusClosed("the event bus is closed")
        data = decode_payload(raw)
        now = time.time()
        event_id = self._next_id(int(now * 1000))
        msg = BusMessage(event_id, topic, data, now)
        history = self._history.get(topic)
        if history is None:
            history = self._history[topic] = deque(maxlen=self.history_maxlen)
        history.append(msg)
        subs = self._subscribers.get(topic)
        if subs:
            # list(): _offer may detach a lagging subscriber while we iterate.
            for sub in list(subs):
                sub._offer(msg)
        return event_id

    def subscribe(self, topics: Iterable[str], *, from_id: str | None = None) -> Subscription:
        return Subscription(self, check_topics(topics), from_id, self.queue_size)

    async def read_since(
        self, topic: str, last_id: str | None, limit: int = 100
    ) -> list[BusMessage]:
        check_topic(topic)
        if limit < 1:
            return []
        history = self._history.get(topic)
        if not history:
            return []
        after = parse_id(last_id) if last_id is not None else (-1, -1)
        newer: list[BusMessage] = []
        # Walk back from the newest entry: resuming consoles are usually near the end.
        for msg in reversed(history):
            if id_key(msg.id) <= after:
                break
            newer.append(msg)
        newer.reverse()
        return newer[:limit]

    # --- Subscription backend -------------------------------------------------------------
    async def _attach(self, sub: Subscription) -> dict[str, str]:
        if self._closed:
            raise BusClosed("the event bus is closed")
        self._all_subs[sub] = None
        newest: dict[str, str] = {}
        for topic in sub.topics:
            self._subscribers.setdefault(topic, {})[sub] = None
            history = self._history.get(topic)
            newest[topic] = history[-1].id if history else BEGINNING
        return newest

    def _detach(self, sub: Subscription) -> None:
        self._all_subs.pop(sub, None)
        for topic in sub.topics:
            subs = self._subscribers.get(topic)
            if subs is not None:
                subs.pop(sub, None)
                if not subs:
                    del self._subscribers[topic]

    def _next_id(self, now_ms: int) -> str:
        # Redis stream id rules: milliseconds, then a sequence within the same (or an
        # earlier, if the clock stepped back) millisecond, so ids never go backwards.
        if now_ms > self._last_ms:
            self._last_ms = now_ms
            self._seq = 0
        else:
            self._seq += 1
        return f"{self._last_ms}-{self._seq}"
