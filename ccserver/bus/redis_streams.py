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
  A retried batch may append a message twice (at-least-once), never zero times silently.

Why Lua for the hot paths: redis-py's pure-Python RESP parser costs a few microseconds per
reply *element*; an XREAD entry is five elements and a pipelined XADD one reply each. The
writer therefore sends a batch as one ``EVALSHA`` (one XADD per message inside Redis) that
answers one string of ids, and the reader drains streams with one script that answers one
string of records (JSON never contains the raw 0x1e/0x1f separators). ``XREAD BLOCK`` is
still what waits for new events, so an idle bus costs nothing and a lone event is delivered
after one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from typing import Any, cast

import redis.asyncio as redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
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
    id_key,
)
from ccserver.bus.redis_support import (
    FIELD,
    FIELD_SEP,
    READ_BATCH,
    RECORD_SEP,
    WAKE_COUNT,
    XADD_BATCH,
    make_retry,
    raise_if_cancelling,
    reraise_if_cancelled,
    sha1,
)
from ccserver.bus.subscription import Subscription

log = logging.getLogger(__name__)

_Pending = tuple[bytes, bytes, "asyncio.Future[str]"]
# Shapes of redis-py's (RESP2, bytes) stream replies; its stubs are too loose to use.
_Entry = tuple[bytes, dict[bytes, bytes]]
_XReadReply = list[tuple[bytes, list[_Entry]]]


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
        # Script digests are content hashes: known without asking Redis.
        self._xadd_sha = sha1(XADD_BATCH)
        self._read_sha = sha1(READ_BATCH)
        self._rotation = 0

    # --- life cycle -----------------------------------------------------------------------
    def _make_client(self, socket_timeout: float) -> redis.Redis:
        return redis.Redis.from_url(
            self.url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=self._socket_timeout,
            retry=make_retry(self._retries, self._backoff_cap, self._backoff_base),
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
        tasks = {t for t in (self._writer_task, self._reader_task) if t is not None}
        while tasks:
            # Cancel again if a library swallowed the first request mid-command.
            for task in tasks:
                task.cancel()
            _, tasks = await asyncio.wait(tasks, timeout=0.5)
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

    async def publish_many(self, items: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
        """Publish several messages (each to its own topic) in order; one round trip for
        the lot. Validation is done first: an invalid item publishes nothing."""
        if self._closed:
            raise BusClosed("the event bus is closed")
        loop = asyncio.get_running_loop()
        prepared = [
            (
                self._prefix_b + check_topic(topic).encode(),
                encode_payload(msg, self.max_payload_bytes),
            )
            for topic, msg in items
        ]
        futures: list[asyncio.Future[str]] = []
        for key, raw in prepared:
            fut: asyncio.Future[str] = loop.create_future()
            self._pending.append((key, raw, fut))
            futures.append(fut)
        self._pending_event.set()
        return list(await asyncio.gather(*futures))

    async def _writer(self) -> None:
        while True:
            raise_if_cancelling()
            await self._pending_event.wait()
            self._pending_event.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    await self._send(batch)
                except Exception as exc:
                    # Whatever went wrong, the callers must hear of it and the writer must
                    # live on: a dead writer would leave every later publish waiting.
                    reraise_if_cancelled(exc)
                    log.exception("bus writer failed on a batch")
                    for _, _, fut in batch:
                        if not fut.done():
                            fut.set_exception(self._unavailable(exc))

    async def _send(self, batch: list[_Pending]) -> None:
        assert self._client is not None
        maxlen = [self.history_maxlen, "~" if self._approximate else "="]
        try:
            reply = await self._client.evalsha(
                self._xadd_sha,
                len(batch),
                *(key for key, _, _ in batch),
                *maxlen,
                *(raw for _, raw, _ in batch),
            )
        except NoScriptError:
            # Redis restarted or flushed its script cache: load it again and retry once.
            self._xadd_sha = await self._client.script_load(XADD_BATCH)
            return await self._send(batch)
        except (RedisError, OSError) as exc:
            reraise_if_cancelled(exc)
            log.warning("bus publish failed: %s", exc)
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(self._unavailable(exc))
            return
        for (_, _, fut), event_id in zip(batch, reply.decode().split(","), strict=True):
            if not fut.done():
                fut.set_result(event_id)

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
        return BusMessage(event_id, topic, decode_payload(fields[FIELD]), int(ms) / 1000)

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
        drain = True
        while True:
            raise_if_cancelling()
            try:
                if not (drain and await self._drain_once()):
                    # redis-py may absorb a cancellation that lands between its awaits;
                    # never start a long blocking read once close() has asked us to stop.
                    raise_if_cancelling()
                    drain = await self._block_once()
            except (RedisError, OSError) as exc:
                reraise_if_cancelled(exc)
                drain = True
                failures += 1
                if self.reader_connected or failures == 1:
                    log.warning("bus reader lost Redis (%s); retrying", exc)
                self.reader_connected = False
                await asyncio.sleep(backoff.compute(failures))
                continue
            except Exception as exc:
                reraise_if_cancelled(exc)
                drain = True
                # A bug or a foreign entry must not end delivery for the whole process.
                failures += 1
                log.exception("bus reader failed; continuing")
                await asyncio.sleep(backoff.compute(failures))
                continue
            failures = 0
            self.reader_connected = True

    async def _drain_once(self) -> bool:
        """Fetch what is already there with the read script; True if anything came."""
        assert self._reader_client is not None
        if not self._cursors:
            return False
        keys = list(self._cursors)
        # Rotate the starting stream so one busy topic cannot starve the others.
        self._rotation = (self._rotation + 1) % len(keys)
        keys = keys[self._rotation :] + keys[: self._rotation]
        cursors = [self._cursors[k] for k in keys]
        try:
            raw = await self._reader_client.evalsha(
                self._read_sha, len(keys), *keys, self._read_count, *cursors
            )
        except NoScriptError:
            self._read_sha = await self._reader_client.script_load(READ_BATCH)
            return True
        if not raw:
            return False
        grouped: dict[int, list[tuple[bytes, bytes]]] = {}
        for record in raw.split(RECORD_SEP):
            index, eid, payload = record.split(FIELD_SEP, 2)
            grouped.setdefault(int(index), []).append((eid, payload))
        for index, entries in grouped.items():
            self._dispatch(keys[index - 1], entries)
        return True

    async def _block_once(self) -> bool:
        """Wait (XREAD BLOCK) until any subscribed stream, or the wake-up stream, grows.

        Returns True when a stream may hold more than was read (time to drain)."""
        assert self._reader_client is not None
        streams: dict[bytes, str] = {self._wake_key: self._wake_cursor}
        streams.update(self._cursors)
        # A small COUNT: at a trickle this one read delivers everything (one round trip per
        # wake-up); a full batch means a backlog, fetched by the read script whose reply
        # costs one parse instead of five per entry.
        response = await self._reader_client.xread(
            streams,  # type: ignore[arg-type]
            count=WAKE_COUNT,
            block=self._block_ms,
        )
        more = False
        for key, entries in cast("_XReadReply", response or []):
            if key == self._wake_key:
                if entries:
                    self._wake_cursor = entries[-1][0].decode()
                continue
            more = more or len(entries) >= WAKE_COUNT
            self._dispatch(key, [(eid, fields.get(FIELD, b"")) for eid, fields in entries])
        return more

    def _dispatch(self, key: bytes, entries: list[tuple[bytes, bytes]]) -> None:
        if not entries or key not in self._cursors:
            return  # nothing, or unsubscribed while the read was in flight
        last = entries[-1][0].decode()
        # Only forward: a topic re-added during the read may already be further on.
        if id_key(last) > id_key(self._cursors[key]):
            self._cursors[key] = last
        topic = key[len(self._prefix_b) :].decode()
        for eid, payload in entries:
            try:
                event_id = eid.decode()
                msg = BusMessage(
                    event_id,
                    topic,
                    decode_payload(payload),
                    int(event_id.partition("-")[0]) / 1000,
                )
            except ValueError:
                log.warning("bus: skipping malformed entry %s on %s", eid, topic)
                continue
            subs = self._subscribers.get(topic)
            if not subs:
                return
            for sub in list(subs):
                sub._offer(msg)
