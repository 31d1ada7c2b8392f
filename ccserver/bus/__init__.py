"""Event bus: publish/subscribe with bounded, resumable history (DESIGN.md §8-9).

``InMemoryBus`` is the single-process default; ``RedisBus`` carries events between nodes on
Redis Streams. The routing lease (one node routes at a time) lives in :mod:`.lease`.
``create_bus`` / ``create_lease`` pick the implementation from a settings URL.
"""

from __future__ import annotations

from typing import Any

from ccserver.bus.errors import (
    BusClosed,
    BusPayloadInvalid,
    BusPayloadTooLarge,
    BusUnavailable,
    InvalidEventId,
    InvalidTopic,
    LeaseNotHeld,
    SubscriberLagged,
)
from ccserver.bus.interface import BusMessage, EventBus
from ccserver.bus.lease import InMemoryLease, Lease, LeaseKeeper, MemoryLeaseStore, RedisLease
from ccserver.bus.memory import InMemoryBus
from ccserver.bus.redis_streams import RedisBus
from ccserver.bus.subscription import Subscription
from ccserver.errors import ConfigError

__all__ = [
    "BusClosed",
    "BusMessage",
    "BusPayloadInvalid",
    "BusPayloadTooLarge",
    "BusUnavailable",
    "EventBus",
    "InMemoryBus",
    "InMemoryLease",
    "InvalidEventId",
    "InvalidTopic",
    "Lease",
    "LeaseKeeper",
    "LeaseNotHeld",
    "MemoryLeaseStore",
    "RedisBus",
    "RedisLease",
    "SubscriberLagged",
    "Subscription",
    "create_bus",
    "create_lease",
]


def _kind(url: str | None) -> str:
    if url is None or url in ("", "memory", "memory://"):
        return "memory"
    if url.startswith(("redis://", "rediss://", "unix://")):
        return "redis"
    raise ConfigError(
        f"bus url must be 'memory' or a redis:// URL, not {url.split('@')[-1]!r}",
        details={"key": "bus.url"},
    )


def create_bus(url: str | None = None, **options: Any) -> EventBus:
    """``memory`` (or None) -> :class:`InMemoryBus`; ``redis://...`` -> :class:`RedisBus`.
    ``options`` are passed to the constructor (history_maxlen, queue_size, ...)."""
    if _kind(url) == "memory":
        return InMemoryBus(**options)
    assert url is not None
    return RedisBus(url, **options)


def create_lease(url: str | None = None, name: str = "routing", **options: Any) -> Lease:
    """The routing lease matching :func:`create_bus` (in-memory for a single node)."""
    if _kind(url) == "memory":
        return InMemoryLease(name, **options)
    assert url is not None
    return RedisLease(url, name, **options)
