"""Redis Streams event bus: events cross nodes (DESIGN.md §9).

One stream per topic (``<prefix><topic>``), trimmed with ``XADD MAXLEN ~ history_maxlen``.

* Publishing goes through one writer task: ``publish`` queues the message and the writer
  sends everything queued so far as one pipeline (no transaction) while the previous
  pipeline is in flight. Under load that batches hundreds of XADDs per round trip; with a
  single caller it costs one round trip, as a plain XADD would. Publish order within a
  process is call order.
* Subscribing is one reader task per bus multiplexing every subscribed topic in one
  ``XREAD BLOCK``. A private wake-up stream (``<prefix>~wake:<node>``) is part of every
  XREAD so adding a topic interrupts the block at once, without cancelling a command
  mid-flight (which would cost the connection).
* Connection failures are retried with redis-py's ``Retry(ExponentialBackoff)``; when that
  gives up, ``publish`` raises ``BusUnavailable`` and the reader keeps retrying with back-off,
  resuming from its per-topic cursors so a Redis blip loses nothing still in the history.
  A retried pipeline may append a message twice (at-least-once), never zero times silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from typing import Any, cast

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ccserver.bus.errors import BusClosed, BusUnavailable
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
)
from ccserver.bus.subscription import Subscription

log = logging.getLogger(__name__)

_FIELD = b"d"
_Pending = tuple[bytes, bytes, "asyncio.Future[str]"]
# Shapes of redis-py's (RESP2, bytes) stream replies; its stubs are too loose to use.
_Entry = tuple[bytes, dict[bytes, bytes]]
_XReadReply = list[tuple[bytes, list[_Entry]]]


def _retry(retries: int, cap: float, base: float) -> Retry:
    return Retry(ExponentialBackoff(cap=cap, base=base), retries)


class RedisBus:
    """An :class:`~ccserver.bus.interface.EventBus` on Redis Streams."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "ccs:bus:",
        history_maxlen: int = DEFAULT_HISTORY_MAXLEN,
        exact_trim: bool = False,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        block_ms: int = 2000,
        read_count: int = 1000,
        max_batch: int = 1000,
        socket_timeout: float = 5.0,
        retries: int = 3,
        backoff_cap: float = 0.5,
        backoff_base: float = 0.01,
        ping_timeout: float = 1.0,
    ) -> None:
        if history_maxlen < 1 or queue_size < 1 or max_payload_bytes < 2:
            raise ValueError("history_maxlen, queue_size and max_payload_bytes must be >= 1")
        self.url = url
        self.prefix = prefix
        self.history_maxlen = history_maxlen
        self.queue_size = queue_size
        self.max_payload_bytes = max_payload_bytes
        self.node_id = uuid.uuid4().hex
        self._approximate = not exact_trim
        self._block_ms = block_ms
        self._read_count = read_count
        self._max_batch = max_batch
        self._socket_timeout = socket_timeout
        self._retries = retries
        self._backoff_cap = backoff_cap
        self._backoff_base = backoff_base
        self._ping_timeout = ping_timeout
        self._prefix_b = prefix.encode()
        self._wake_key = f"{prefix}~wake:{self.node_id}".encode()
        self._wake_cursor = BEGINNING
        self._client: redis.Redis | None = None
        self._reader_client: redis.Redis | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: list[_Pending] = []
        self._pending_event = asyncio.Event()
        self._subscribers: dict[str, dict[Subscription, None]] = {}
        self._all_subs: dict[Subscription, None] = {}
        # Next XREAD position per subscribed topic (bytes key -> last id read).
        self._cursors: dict[bytes, str] = {}
        self._closed = True
        self.reader_connected = False

    # --- life cycle -----------------------------------------------------------------------
    def _make_client(self, socket_timeout: float) -> redis.Redis:
        return redis.Redis.from_url(
            self.url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=self._socket_timeout,
            retry=_retry(self._retries, self._backoff_cap, self._backoff_base),
            retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError],
        )

    async def start(self) -> None:
        if not self._closed:
            return
        self._closed = False
        self._client = self._make_client(self._socket_timeout)
        # The reader blocks up to block_ms by design, so its timeout must exceed that.
        self._reader_client = self._make_client(self._block_ms / 1000 + self._socket_timeout)
        self._writer_task = asyncio.create_task(self._writer(), name="bus-redis-writer")
        self._reader_task = asyncio.create_task(self._reader(), name="bus-redis-reader")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in (self._writer_task, self._reader_task):
            if task is not None:
                task.cancel()
        for task in (self._writer_task, self._reader_task):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._writer_task = self._reader_task = None
        pending, self._pending = self._pending, []
        for _, _, fut in pending:
            if not fut.done():
                fut.set_exception(BusClosed("the event bus closed before the publish was sent"))
        for sub in list(self._all_subs):
            sub._end()
        self._all_subs.clear()
        self._subscribers.clear()
        self._cursors.clear()
        if self._client is not None:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(self._ping_timeout):
                    await self._client.delete(self._wake_key)
        for client in (self._client, self._reader_client):
            if client is not None:
                await client.aclose()
        self._client = self._reader_client = None
        self.reader_connected = False

    async def ping(self) -> bool:
        if self._closed or self._client is None:
            return False
        try:
            async with asyncio.timeout(self._ping_timeout):
                return bool(await self._client.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    # --- publishing -----------------------------------------------------------------------
    async def publish(self, topic: str, message: dict[str, Any]) -> str:
        """Queue for the writer and wait for Redis's id. If the caller is cancelled while
        waiting, the message may still be published."""
        if self._closed:
            raise BusClosed("the event bus is closed")
        check_topic(topic)
        raw = encode_payload(message, self.max_payload_bytes)
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending.append((self._prefix_b + topic.encode(), raw, fut))
        self._pending_event.set()
        return await fut

    async def _writer(self) -> None:
        while True:
            await self._pending_event.wait()
            self._pending_event.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._send(batch)

    async def _send(self, batch: list[_Pending]) -> None:
        assert self._client is not None
        pipe = self._client.pipeline(transaction=False)
        for key, raw, _ in batch:
            pipe.xadd(key, {_FIELD: raw}, maxlen=self.history_maxlen, approximate=self._approximate)
        try:
            ids = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("bus publish failed: %s", exc)
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(self._unavailable(exc))
            return
        for (_, _, fut), event_id in zip(batch, ids, strict=True):
            if not fut.done():
                fut.set_result(event_id.decode())

    def _unavailable(self, exc: BaseException) -> BusUnavailable:
        err = BusUnavailable(
            f"Redis bus unavailable: {exc}", details={"reason": type(exc).__name__}
        )
        err.__cause__ = exc
        return err

    # --- history --------------------------------------------------------------------------
    async def read_since(
        self, topic: str, last_id: str | None, limit: int = 100
    ) -> list[BusMessage]:
        check_topic(topic)
        if self._closed or self._client is None:
            raise BusClosed("the event bus is closed")
        if limit < 1:
            return []
        start = "-" if last_id is None else f"({last_id}"
        try:
            entries = cast(
                "list[_Entry]",
                await self._client.xrange(self._prefix_b + topic.encode(), start, "+", count=limit),
            )
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return [self._message(topic, eid, fields) for eid, fields in entries]

    @staticmethod
    def _message(topic: str, eid: bytes, fields: dict[bytes, bytes]) -> BusMessage:
        event_id = eid.decode()
        ms = event_id.partition("-")[0]
        return BusMessage(event_id, topic, decode_payload(fields[_FIELD]), int(ms) / 1000)

    # --- subscribing ----------------------------------------------------------------------
    def subscribe(self, topics: Iterable[str], *, from_id: str | None = None) -> Subscription:
        return Subscription(self, check_topics(topics), from_id, self.queue_size)

    async def _attach(self, sub: Subscription) -> dict[str, str]:
        if self._closed or self._client is None:
            raise BusClosed("the event bus is closed")
        # Register before asking for the newest ids: anything the reader fans out meanwhile
        # is buffered, and the subscription's cursor drops what predates its start.
        self._all_subs[sub] = None
        for topic in sub.topics:
            self._subscribers.setdefault(topic, {})[sub] = None
        pipe = self._client.pipeline(transaction=False)
        keys = [self._prefix_b + t.encode() for t in sub.topics]
        for key in keys:
            pipe.xrevrange(key, "+", "-", count=1)
        try:
            results = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        newest: dict[str, str] = {}
        added = False
        for topic, key, entries in zip(sub.topics, keys, results, strict=True):
            newest[topic] = entries[0][0].decode() if entries else BEGINNING
            if key not in self._cursors and topic in self._subscribers:
                self._cursors[key] = newest[topic]
                added = True
        if added:
            await self._wake_reader()
        return newest

    def _detach(self, sub: Subscription) -> None:
        self._all_subs.pop(sub, None)
        for topic in sub.topics:
            subs = self._subscribers.get(topic)
            if subs is not None:
                subs.pop(sub, None)
                if not subs:
                    del self._subscribers[topic]
                    self._cursors.pop(self._prefix_b + topic.encode(), None)

    async def _wake_reader(self) -> None:
        assert self._client is not None
        pipe = self._client.pipeline(transaction=False)
        pipe.xadd(self._wake_key, {b"w": b"1"}, maxlen=1)
        # A crashed node must not leave its wake-up stream behind for ever.
        pipe.expire(self._wake_key, 86400)
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def _reader(self) -> None:
        assert self._reader_client is not None
        backoff = ExponentialBackoff(cap=self._backoff_cap * 4, base=self._backoff_base)
        failures = 0
        while True:
            streams: dict[bytes, str] = {self._wake_key: self._wake_cursor}
            streams.update(self._cursors)
            try:
                response = await self._reader_client.xread(
                    streams,  # type: ignore[arg-type]
                    count=self._read_count,
                    block=self._block_ms,
                )
            except (RedisError, OSError) as exc:
                failures += 1
                if self.reader_connected or failures == 1:
                    log.warning("bus reader lost Redis (%s); retrying", exc)
                self.reader_connected = False
                await asyncio.sleep(backoff.compute(failures))
                continue
            failures = 0
            self.reader_connected = True
            for key, entries in cast("_XReadReply", response or []):
                self._dispatch(key, entries)

    def _dispatch(self, key: bytes, entries: list[_Entry]) -> None:
        if not entries:
            return
        last = entries[-1][0].decode()
        if key == self._wake_key:
            self._wake_cursor = last
            return
        if key not in self._cursors:
            return  # unsubscribed while the read was in flight
        self._cursors[key] = last
        topic = key[len(self._prefix_b) :].decode()
        for eid, fields in entries:
            try:
                msg = self._message(topic, eid, fields)
            except (ValueError, KeyError):
                log.warning("bus: skipping malformed entry %s on %s", eid, topic)
                continue
            subs = self._subscribers.get(topic)
            if not subs:
                return
            for sub in list(subs):
                sub._offer(msg)
