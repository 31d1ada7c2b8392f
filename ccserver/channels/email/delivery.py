"""Outbound delivery bookkeeping (sans-I/O): per-message status as a table-driven state
machine, exponential back-off, and a queue that says what is due when. Time is passed in.

A relay failure never loses a message: it stays here as ``failed_retrying`` with its next
attempt time and last error, and ends as ``failed`` (still kept and visible) only after the
last attempt or a permanent refusal (5xx).
"""

from __future__ import annotations

import enum
import heapq
from dataclasses import dataclass, field

from ccserver.channels.email.errors import UnknownDelivery
from ccserver.errors import IllegalTransition


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED_RETRYING = "failed_retrying"
    FAILED = "failed"


class DeliveryEvent(enum.StrEnum):
    ACCEPTED = "accepted"  # relay took it (2xx)
    TEMPORARY_FAILURE = "temporary_failure"  # 4xx, timeout, connection refused
    PERMANENT_FAILURE = "permanent_failure"  # 5xx
    GIVE_UP = "give_up"  # attempts exhausted
    REQUEUE = "requeue"  # an operator retries a failed message


_S = DeliveryStatus
_E = DeliveryEvent
DELIVERY_TRANSITIONS: dict[tuple[DeliveryStatus, DeliveryEvent], DeliveryStatus] = {
    (_S.QUEUED, _E.ACCEPTED): _S.SENT,
    (_S.QUEUED, _E.TEMPORARY_FAILURE): _S.FAILED_RETRYING,
    (_S.QUEUED, _E.PERMANENT_FAILURE): _S.FAILED,
    (_S.QUEUED, _E.GIVE_UP): _S.FAILED,
    (_S.FAILED_RETRYING, _E.ACCEPTED): _S.SENT,
    (_S.FAILED_RETRYING, _E.TEMPORARY_FAILURE): _S.FAILED_RETRYING,
    (_S.FAILED_RETRYING, _E.PERMANENT_FAILURE): _S.FAILED,
    (_S.FAILED_RETRYING, _E.GIVE_UP): _S.FAILED,
    (_S.FAILED, _E.REQUEUE): _S.QUEUED,
}


def next_delivery_status(status: DeliveryStatus, event: DeliveryEvent) -> DeliveryStatus:
    try:
        return DELIVERY_TRANSITIONS[(status, event)]
    except KeyError:
        raise IllegalTransition("email_delivery", status.value, event.value) from None


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 5.0
    factor: float = 2.0
    maximum: float = 900.0

    def delay(self, failures: int, jitter: float = 0.0) -> float:
        """Delay before the next attempt after ``failures`` failed attempts (>= 1).
        ``jitter`` in [0, 1) spreads retries (up to +25 %); the caller supplies randomness."""
        base = min(self.maximum, self.initial * self.factor ** max(0, failures - 1))
        return base * (1.0 + 0.25 * jitter)


@dataclass
class Delivery:
    id: str  # our Message-ID
    sender: str
    recipients: tuple[str, ...]
    data: bytes
    case_number: str | None = None
    kind: str = "reply"  # "reply" | "ack"
    status: DeliveryStatus = DeliveryStatus.QUEUED
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_error: str | None = None
    history: list[tuple[float, str, str]] = field(default_factory=list)  # (at, status, note)

    def apply(self, event: DeliveryEvent, now: float, note: str = "") -> DeliveryStatus:
        self.status = next_delivery_status(self.status, event)
        self.history.append((now, self.status.value, note))
        return self.status


class DeliveryQueue:
    """Messages awaiting (re)delivery, ordered by due time."""

    def __init__(self, backoff: Backoff, max_attempts: int) -> None:
        self.backoff = backoff
        self.max_attempts = max(1, max_attempts)
        self._all: dict[str, Delivery] = {}
        self._due: list[tuple[float, int, str]] = []
        self._seq = 0

    def _schedule(self, delivery: Delivery) -> None:
        self._seq += 1
        heapq.heappush(self._due, (delivery.next_attempt_at, self._seq, delivery.id))

    def add(self, delivery: Delivery, now: float) -> None:
        delivery.next_attempt_at = now
        delivery.history.append((now, delivery.status.value, "queued"))
        self._all[delivery.id] = delivery
        self._schedule(delivery)

    def get(self, delivery_id: str) -> Delivery:
        try:
            return self._all[delivery_id]
        except KeyError:
            raise UnknownDelivery(f"no outbound message {delivery_id!r}") from None

    def all(self) -> list[Delivery]:
        return list(self._all.values())

    def pop_due(self, now: float) -> list[Delivery]:
        """Deliveries whose attempt time has come (each returned once per schedule)."""
        out: list[Delivery] = []
        while self._due and self._due[0][0] <= now:
            at, _, did = heapq.heappop(self._due)
            d = self._all.get(did)
            if (
                d is not None
                and d.status in (_S.QUEUED, _S.FAILED_RETRYING)
                and d.next_attempt_at == at
            ):
                out.append(d)
        return out

    def next_due(self) -> float | None:
        while self._due:
            at, _, did = self._due[0]
            d = self._all.get(did)
            if (
                d is not None
                and d.status in (_S.QUEUED, _S.FAILED_RETRYING)
                and d.next_attempt_at == at
            ):
                return at
            heapq.heappop(self._due)
        return None

    def succeeded(self, delivery: Delivery, now: float, note: str = "") -> None:
        delivery.attempts += 1
        delivery.last_error = None
        delivery.apply(_E.ACCEPTED, now, note)

    def failed(
        self, delivery: Delivery, now: float, error: str, *, permanent: bool, jitter: float = 0.0
    ) -> None:
        delivery.attempts += 1
        delivery.last_error = error
        if permanent:
            delivery.apply(_E.PERMANENT_FAILURE, now, error)
            return
        if delivery.attempts >= self.max_attempts:
            delivery.apply(
                _E.TEMPORARY_FAILURE, now, error
            ) if delivery.status is _S.QUEUED else None
            delivery.apply(_E.GIVE_UP, now, f"gave up after {delivery.attempts} attempts: {error}")
            return
        delivery.apply(_E.TEMPORARY_FAILURE, now, error)
        delivery.next_attempt_at = now + self.backoff.delay(delivery.attempts, jitter)
        self._schedule(delivery)

    def requeue(self, delivery_id: str, now: float) -> Delivery:
        """An operator's manual retry of a failed message."""
        d = self.get(delivery_id)
        d.apply(_E.REQUEUE, now, "requeued by operator")
        d.attempts = 0
        d.next_attempt_at = now
        self._schedule(d)
        return d

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in DeliveryStatus}
        for d in self._all.values():
            out[d.status.value] += 1
        return out

    def forget_sent(self) -> int:
        """Drop delivered messages from memory (their record lives in the CRM)."""
        sent = [k for k, d in self._all.items() if d.status is _S.SENT]
        for k in sent:
            del self._all[k]
        return len(sent)
