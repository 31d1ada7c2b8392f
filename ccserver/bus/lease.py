"""The routing lease: one node at a time routes (DESIGN.md §9).

A lease is a lock with a time-to-live and a *fencing token*: every successful acquisition
gets a number strictly greater than every earlier one, so whatever the leader writes can
carry the token and a store can refuse a write from a former leader that did not notice it
lost the lease (a paused process, a partition).

* :class:`RedisLease`: ``SET key owner|token NX PX ttl`` plus ``INCR`` of a fencing counter
  in one Lua script (atomic: a token is never spent without the lock); renew is a Lua
  compare-and-extend, release a compare-and-delete, so a node can never extend or delete a
  lease that another node has since taken.
* :class:`InMemoryLease`: the same contract in one process (single-node default; several
  instances sharing a :class:`MemoryLeaseStore` behave like several nodes, for tests).
* :class:`LeaseKeeper`: a task that acquires when free, renews every ``ttl/3`` and reports
  gaining and losing leadership through callbacks.

``is_held()`` is the node's *local* belief: true only until ``ttl * (1 - drift)`` after the
moment the last successful acquire/renew was *sent*, so a node stops believing it leads
before Redis can hand the lease to someone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ccserver.errors import BusUnavailable, CcserverError

log = logging.getLogger(__name__)

Clock = Callable[[], float]
# Fraction of the TTL a node gives up locally to allow for clock drift and request latency.
DEFAULT_DRIFT = 0.1


@runtime_checkable
class Lease(Protocol):
    name: str
    owner: str
    ttl: float

    @property
    def token(self) -> int | None:
        """Fencing token of the current (or last) holding, None if never held."""
        ...

    def is_held(self) -> bool: ...

    async def acquire(self) -> int | None:
        """Take the lease if free (or already ours): return its fencing token, else None."""
        ...

    async def renew(self) -> bool:
        """Extend our holding by ``ttl``; False if it is no longer ours."""
        ...

    async def release(self) -> bool:
        """Give the lease up if it is still ours; False if it was not."""
        ...


class _LocalValidity:
    """Book-keeping shared by both implementations."""

    def __init__(self, ttl: float, clock: Clock, drift: float) -> None:
        if ttl <= 0:
            raise ValueError("lease ttl must be positive")
        self.ttl = ttl
        self._clock = clock
        self._margin = ttl * (1 - drift)
        self._valid_until = float("-inf")
        self._token: int | None = None

    @property
    def token(self) -> int | None:
        return self._token

    def is_held(self) -> bool:
        return self._token is not None and self._clock() < self._valid_until

    def _granted(self, token: int, sent_at: float) -> None:
        self._token = token
        self._valid_until = sent_at + self._margin

    def _revoke(self) -> None:
        self._valid_until = float("-inf")


# --- Redis ------------------------------------------------------------------------------------
_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then
  local owner, token = string.match(current, '^(.*)|(%d+)$')
  if owner == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(token)
  end
  return false
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'NX', 'PX', ARGV[2])
return token
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLease(_LocalValidity):
    """A lease in Redis shared by every node using the same ``prefix`` and ``name``.

    Connection failures raise ``BusUnavailable`` (after redis-py's retries)."""

    def __init__(
        self,
        url: str,
        name: str = "routing",
        *,
        owner: str | None = None,
        ttl: float = 10.0,
        prefix: str = "ccs:lease:",
        drift: float = DEFAULT_DRIFT,
        clock: Clock = time.monotonic,
        socket_timeout: float = 2.0,
        retries: int = 2,
    ) -> None:
        super().__init__(ttl, clock, drift)
        if owner is not None and "|" in owner:
            raise ValueError("lease owner must not contain '|'")
        self.name = name
        self.owner = owner or uuid.uuid4().hex
        self._key = f"{prefix}{name}"
        self._fence_key = f"{prefix}{name}:fence"
        self._ttl_ms = max(1, int(ttl * 1000))
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.01), retries),
            retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError],
        )
        self._acquire = self._client.register_script(_ACQUIRE)
        self._renew = self._client.register_script(_RENEW)
        self._release = self._client.register_script(_RELEASE)

    @property
    def _value(self) -> str:
        return f"{self.owner}|{self._token}"

    async def acquire(self) -> int | None:
        sent_at = self._clock()
        try:
            result = await self._acquire(
                keys=[self._key, self._fence_key], args=[self.owner, self._ttl_ms]
            )
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc
        if result is None:
            return None
        self._granted(int(result), sent_at)
        return int(result)

    async def renew(self) -> bool:
        if self._token is None:
            return False
        sent_at = self._clock()
        try:
            ok = await self._renew(keys=[self._key], args=[self._value, self._ttl_ms])
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc
        if ok:
            self._granted(self._token, sent_at)
            return True
        self._revoke()
        return False

    async def release(self) -> bool:
        if self._token is None:
            return False
        self._revoke()
        try:
            return bool(await self._release(keys=[self._key], args=[self._value]))
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def holder(self) -> tuple[str, int] | None:
        """(owner, token) of whoever holds the lease now, from Redis."""
        try:
            raw = await self._client.get(self._key)
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else raw
        owner, _, token = text.rpartition("|")
        return owner, int(token)

    async def close(self) -> None:
        await self._client.aclose()


def _unavailable(exc: BaseException) -> BusUnavailable:
    return BusUnavailable(f"Redis lease unavailable: {exc}", details={"reason": type(exc).__name__})


# --- in memory --------------------------------------------------------------------------------
@dataclass
class _Holding:
    owner: str
    token: int
    expires_at: float


class MemoryLeaseStore:
    """What Redis is to :class:`RedisLease`: holdings and fencing counters by name."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._holdings: dict[str, _Holding] = {}
        self._fences: dict[str, int] = {}

    def _current(self, name: str) -> _Holding | None:
        holding = self._holdings.get(name)
        if holding is not None and holding.expires_at <= self.clock():
            del self._holdings[name]
            return None
        return holding

    def acquire(self, name: str, owner: str, ttl: float) -> int | None:
        holding = self._current(name)
        if holding is not None:
            if holding.owner != owner:
                return None
            holding.expires_at = self.clock() + ttl
            return holding.token
        token = self._fences.get(name, 0) + 1
        self._fences[name] = token
        self._holdings[name] = _Holding(owner, token, self.clock() + ttl)
        return token

    def renew(self, name: str, owner: str, token: int, ttl: float) -> bool:
        holding = self._current(name)
        if holding is None or (holding.owner, holding.token) != (owner, token):
            return False
        holding.expires_at = self.clock() + ttl
        return True

    def release(self, name: str, owner: str, token: int) -> bool:
        holding = self._current(name)
        if holding is None or (holding.owner, holding.token) != (owner, token):
            return False
        del self._holdings[name]
        return True

    def holder(self, name: str) -> tuple[str, int] | None:
        holding = self._current(name)
        return None if holding is None else (holding.owner, holding.token)


class InMemoryLease(_LocalValidity):
    """Single-node lease (always acquirable unless another instance on the same store holds
    it). Uses the store's clock so tests can move time without sleeping."""

    def __init__(
        self,
        name: str = "routing",
        *,
        owner: str | None = None,
        ttl: float = 10.0,
        store: MemoryLeaseStore | None = None,
        drift: float = DEFAULT_DRIFT,
    ) -> None:
        self._store = store or MemoryLeaseStore()
        super().__init__(ttl, self._store.clock, drift)
        self.name = name
        self.owner = owner or uuid.uuid4().hex

    async def acquire(self) -> int | None:
        sent_at = self._clock()
        token = self._store.acquire(self.name, self.owner, self.ttl)
        if token is not None:
            self._granted(token, sent_at)
        return token

    async def renew(self) -> bool:
        if self._token is None:
            return False
        sent_at = self._clock()
        if self._store.renew(self.name, self.owner, self._token, self.ttl):
            self._granted(self._token, sent_at)
            return True
        self._revoke()
        return False

    async def release(self) -> bool:
        if self._token is None:
            return False
        self._revoke()
        return self._store.release(self.name, self.owner, self._token)

    async def holder(self) -> tuple[str, int] | None:
        return self._store.holder(self.name)

    async def close(self) -> None:
        return None


# --- keeper -----------------------------------------------------------------------------------
TokenCallback = Callable[[int], None]


class LeaseKeeper:
    """Background task holding a lease for this node.

    Standby: tries to acquire every ``retry_every`` seconds (default ``ttl/3``), so a node
    takes over within about ``ttl + retry_every`` after the leader stops renewing. Leader:
    renews every ``renew_every`` (default ``ttl/3``); a transient error is retried while the
    lease is still locally valid; when renewal is refused or the local validity runs out,
    ``on_lost(token)`` is called and the keeper goes back to standby. ``stop()`` releases
    the lease (unless told not to) so a planned hand-over needs no TTL wait.
    """

    def __init__(
        self,
        lease: Lease,
        *,
        renew_every: float | None = None,
        retry_every: float | None = None,
        on_acquired: TokenCallback | None = None,
        on_lost: TokenCallback | None = None,
    ) -> None:
        self.lease = lease
        self._renew_every = renew_every if renew_every is not None else lease.ttl / 3
        self._retry_every = retry_every if retry_every is not None else lease.ttl / 3
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._task: asyncio.Task[None] | None = None
        self._leading = False
        self._became_leader = asyncio.Event()
        self.losses = 0

    @property
    def is_leader(self) -> bool:
        # Both: the keeper's view and the lease's local validity (the task could be late).
        return self._leading and self.lease.is_held()

    @property
    def token(self) -> int | None:
        return self.lease.token if self.is_leader else None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"lease-keeper-{self.lease.name}")

    async def stop(self, *, release: bool = True) -> None:
        task, self._task = self._task, None
        # redis-py can absorb a cancellation inside a command; cancel until the task is
        # really done instead of awaiting it once and hanging.
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.warning("lease keeper ended with an error", exc_info=task.exception())
        was_leading, self._leading = self._leading, False
        self._became_leader.clear()
        if release and was_leading:
            with contextlib.suppress(CcserverError):
                await self.lease.release()

    async def wait_leader(self) -> int:
        """Wait until this node leads; returns the fencing token."""
        while True:
            await self._became_leader.wait()
            token = self.token
            if token is not None:
                return token
            self._became_leader.clear()

    async def _run(self) -> None:
        while True:
            if not self._leading:
                await self._try_acquire()
                if not self._leading:
                    await asyncio.sleep(self._retry_every)
                continue
            await asyncio.sleep(self._renew_every)
            await self._try_renew()

    async def _try_acquire(self) -> None:
        try:
            token = await self.lease.acquire()
        except CcserverError as exc:
            log.warning("lease %s: acquire failed: %s", self.lease.name, exc)
            return
        if token is None:
            return
        self._leading = True
        self._became_leader.set()
        log.info("lease %s: acquired, token %d", self.lease.name, token)
        if self._on_acquired is not None:
            self._on_acquired(token)

    async def _try_renew(self) -> None:
        token = self.lease.token
        try:
            renewed = await self.lease.renew()
        except CcserverError as exc:
            log.warning("lease %s: renew failed: %s", self.lease.name, exc)
            renewed = False
            if self.lease.is_held():
                return  # still locally valid: try again at the next tick
        if renewed and self.lease.is_held():
            return
        self._leading = False
        self._became_leader.clear()
        self.losses += 1
        log.warning("lease %s: lost (token %s)", self.lease.name, token)
        if self._on_lost is not None and token is not None:
            self._on_lost(token)
