"""Event bus: publish/subscribe with bounded, resumable history (DESIGN.md §8-9).

``InMemoryBus`` is the single-process default; ``RedisBus`` carries events between nodes on
Redis Streams. The routing lease (one node routes at a time) lives in :mod:`.lease`.
"""

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
from ccserver.bus.memory import InMemoryBus
from ccserver.bus.subscription import Subscription

__all__ = [
    "BusClosed",
    "BusMessage",
    "BusPayloadInvalid",
    "BusPayloadTooLarge",
    "BusUnavailable",
    "EventBus",
    "InMemoryBus",
    "InvalidEventId",
    "InvalidTopic",
    "LeaseNotHeld",
    "SubscriberLagged",
    "Subscription",
]
