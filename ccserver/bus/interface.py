"""The event bus contract shared by every implementation (DESIGN.md §2, §8, §9).

Parts talk through topics (``agent.<id>``, ``queue.stats``, ``interaction.<id>``,
``supervisor.alerts``); a message is a JSON object. Two implementations satisfy
:class:`EventBus`: :class:`~ccserver.bus.memory.InMemoryBus` (one process, the default) and
:class:`~ccserver.bus.redis_streams.RedisBus` (several nodes sharing Redis Streams).

Event ids are Redis stream ids (``"<ms>-<seq>"``) in both implementations, so they compare
the same way everywhere and a console can resume with the last id it saw.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ccserver.bus.errors import (
    BusPayloadInvalid,
    BusPayloadTooLarge,
    InvalidEventId,
    InvalidTopic,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ccserver.bus.subscription import Subscription

# Defaults chosen for a console-facing bus: a message is a small JSON event, a topic keeps
# enough history for a browser to resume after a short network drop.
DEFAULT_HISTORY_MAXLEN = 1000
DEFAULT_QUEUE_SIZE = 1024
DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024

# "$" and None both mean "only messages published after subscribing"; "0" means the whole
# retained history.
LIVE = "$"
BEGINNING = "0-0"

_TOPIC_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}")
_ID_RE = re.compile(r"(\d{1,20})(?:-(\d{1,20}))?")


@dataclass(frozen=True, slots=True)
class BusMessage:
    """One delivered event. ``data`` is shared by every local subscriber: treat it as
    read-only. ``published_at`` is wall-clock seconds (from the id's millisecond part on
    Redis, so the same value on every node)."""

    id: str
    topic: str
    data: dict[str, Any]
    published_at: float


@runtime_checkable
class EventBus(Protocol):
    """Publish/subscribe with a bounded, resumable history per topic."""

    async def start(self) -> None:
        """Open connections / background tasks. Never raises because a server is down:
        :meth:`ping` reports that, :meth:`publish` raises ``BusUnavailable``."""

    async def close(self) -> None:
        """Stop background tasks, end every open subscription, release connections.
        Idempotent."""

    async def publish(self, topic: str, message: dict[str, Any]) -> str:
        """Append ``message`` to ``topic`` and return its event id.

        Raises ``InvalidTopic``, ``BusPayloadInvalid``, ``BusPayloadTooLarge`` (payload over
        ``max_payload_bytes``), ``BusClosed`` or ``BusUnavailable``."""
        ...

    async def publish_many(self, items: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
        """Publish ``(topic, message)`` pairs in order, in one round trip where the
        implementation has one; every item is validated before any is published."""
        ...

    def subscribe(self, topics: Iterable[str], *, from_id: str | None = None) -> Subscription:
        """A subscription to use as ``async with bus.subscribe([...]) as sub: async for m
        in sub``. ``from_id`` None or ``"$"``: only new messages; ``"0"``: all retained
        history first; any other id: retained messages after it first (per topic), then
        live ones, without gaps or duplicates. Messages of one topic arrive in publish
        order; across topics the order is by time only (Redis numbers each stream on its
        own)."""
        ...

    async def read_since(
        self, topic: str, last_id: str | None, limit: int = 100
    ) -> list[BusMessage]:
        """Up to ``limit`` retained messages of ``topic`` with id > ``last_id`` (None: from
        the oldest retained), oldest first."""
        ...

    async def ping(self) -> bool:
        """True when the bus can publish right now (for ``/readyz``). Never raises."""
        ...


# --- helpers shared by the implementations -------------------------------------------------
def check_topic(topic: str) -> str:
    if not isinstance(topic, str) or _TOPIC_RE.fullmatch(topic) is None:
        raise InvalidTopic(
            f"invalid bus topic {topic!r}: letters, digits and '_.:-', 1-200 characters",
            details={"topic": str(topic)[:200]},
        )
    return topic


def check_topics(topics: Iterable[str]) -> tuple[str, ...]:
    if isinstance(topics, str):
        # A bare string is a classic slip ("agent.1" iterated as characters).
        topics = (topics,)
    result = tuple(dict.fromkeys(check_topic(t) for t in topics))
    if not result:
        raise InvalidTopic("subscribe needs at least one topic")
    return result


def encode_payload(message: dict[str, Any], max_bytes: int) -> bytes:
    """Compact JSON bytes of ``message``; enforces the object shape and the size bound."""
    if not isinstance(message, dict):
        raise BusPayloadInvalid(
            "a bus message must be a JSON object", details={"type": type(message).__name__}
        )
    try:
        raw = json.dumps(
            message, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()
    except (TypeError, ValueError) as exc:
        raise BusPayloadInvalid(
            f"bus message is not JSON-encodable: {exc}", details={"reason": str(exc)}
        ) from exc
    if len(raw) > max_bytes:
        raise BusPayloadTooLarge(
            f"bus message is {len(raw)} bytes, the limit is {max_bytes}",
            details={"size": len(raw), "limit": max_bytes},
        )
    return raw


def decode_payload(raw: bytes | str) -> dict[str, Any]:
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise BusPayloadInvalid("stored bus message is not a JSON object")
    return data


def parse_id(event_id: str) -> tuple[int, int]:
    """``"<ms>-<seq>"`` (or ``"<ms>"``) as a comparable tuple."""
    match = _ID_RE.fullmatch(event_id)
    if match is None:
        raise InvalidEventId(f"invalid event id {event_id!r}", details={"id": event_id})
    return int(match.group(1)), int(match.group(2) or 0)


def id_key(event_id: str) -> tuple[int, int]:
    """Fast :func:`parse_id` for ids that came from a bus (already well-formed)."""
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def normalize_from_id(from_id: str | None) -> str | None:
    """None for "live only", else a full ``ms-seq`` id (validated)."""
    if from_id is None or from_id == LIVE:
        return None
    ms, seq = parse_id(from_id)
    return f"{ms}-{seq}"
