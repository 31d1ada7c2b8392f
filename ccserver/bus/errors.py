"""Errors raised by the event bus and the routing lease.

Each one subclasses the shared tree in :mod:`ccserver.errors` so the web layer maps it to a
stable code and status without knowing the bus exists.
"""

from __future__ import annotations

from ccserver.errors import (
    BusUnavailable,
    CcserverError,
    Conflict,
    PayloadTooLarge,
    ValidationFailed,
)

__all__ = [
    "BusClosed",
    "BusPayloadInvalid",
    "BusPayloadTooLarge",
    "BusUnavailable",
    "InvalidEventId",
    "InvalidTopic",
    "LeaseNotHeld",
    "SubscriberLagged",
]


class BusPayloadTooLarge(PayloadTooLarge):
    """The JSON encoding of a message is larger than the bus's ``max_payload_bytes``."""

    code = "bus_payload_too_large"


class BusPayloadInvalid(ValidationFailed):
    """A message is not a JSON object of JSON-encodable values."""

    code = "bus_payload_invalid"


class InvalidTopic(ValidationFailed):
    code = "bus_invalid_topic"


class InvalidEventId(ValidationFailed):
    code = "bus_invalid_event_id"


class BusClosed(BusUnavailable):
    """The bus (or the subscription) was closed; nothing more will be delivered."""

    code = "bus_closed"


class SubscriberLagged(CcserverError):
    """A subscriber fell ``queue_size`` messages behind and was detached from live fan-out.

    Raised by the subscription's iterator once every message queued before the detach has
    been delivered, so nothing is skipped silently. ``last_id`` (also in ``details``) is
    the id of the last message delivered per topic: resume with
    ``bus.subscribe(topics, from_id=...)`` or ``bus.read_since(topic, last_id, limit)``
    while the history still holds it.
    """

    code = "bus_subscriber_lagged"
    http_status = 503

    def __init__(self, last_ids: dict[str, str | None]) -> None:
        super().__init__(
            "subscriber fell too far behind and was detached; resume from last_ids",
            details={"last_ids": dict(last_ids)},
        )
        self.last_ids = dict(last_ids)


class LeaseNotHeld(Conflict):
    """An operation needed the lease but this node does not hold it (any more)."""

    code = "lease_not_held"
