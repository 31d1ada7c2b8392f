"""Domain vocabulary shared by every part: channels, the interaction and its life cycle.

Pure standard library (cores import this module). The interaction life cycle is the table
in DESIGN.md §3; an illegal transition raises :class:`IllegalTransition`, it is never ignored.
"""

from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass, field
from typing import Any

from ccserver.errors import IllegalTransition


class Channel(enum.StrEnum):
    VOICE = "voice"
    EMAIL = "email"
    CHAT = "chat"
    WEB = "web"
    CALLBACK = "callback"
    FOLLOW_UP = "follow_up"


# Channels that count against an agent's capacity of the same name; callbacks and
# follow-up calls are phone calls once dialled, so they use the voice capacity.
CAPACITY_CHANNEL: dict[Channel, str] = {
    Channel.VOICE: "voice",
    Channel.CALLBACK: "voice",
    Channel.FOLLOW_UP: "voice",
    Channel.CHAT: "chat",
    Channel.EMAIL: "email",
    Channel.WEB: "email",
}


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class InteractionState(enum.StrEnum):
    NEW = "new"
    SELF_SERVICE = "self_service"
    QUEUED = "queued"
    OFFERED = "offered"
    CONNECTED = "connected"
    WRAP_UP = "wrap_up"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    TRANSFERRED = "transferred"


class InteractionEvent(enum.StrEnum):
    START_SELF_SERVICE = "start_self_service"
    ENQUEUE = "enqueue"
    OFFER = "offer"
    ACCEPT = "accept"
    REJECT = "reject"
    OFFER_TIMEOUT = "offer_timeout"
    TRANSFER = "transfer"
    END = "end"  # customer or agent ended the conversation
    ABANDON = "abandon"  # customer left before an agent connected
    COMPLETE = "complete"  # wrap-up finished (or self-service resolved it)


_S = InteractionState
_E = InteractionEvent

# (state, event) -> next state. Anything not listed is illegal.
INTERACTION_TRANSITIONS: dict[tuple[InteractionState, InteractionEvent], InteractionState] = {
    (_S.NEW, _E.START_SELF_SERVICE): _S.SELF_SERVICE,
    (_S.NEW, _E.ENQUEUE): _S.QUEUED,
    (_S.NEW, _E.ABANDON): _S.ABANDONED,
    (_S.NEW, _E.COMPLETE): _S.COMPLETED,
    (_S.SELF_SERVICE, _E.ENQUEUE): _S.QUEUED,
    (_S.SELF_SERVICE, _E.ABANDON): _S.ABANDONED,
    (_S.SELF_SERVICE, _E.COMPLETE): _S.COMPLETED,  # resolved by self-service
    (_S.QUEUED, _E.OFFER): _S.OFFERED,
    (_S.QUEUED, _E.ABANDON): _S.ABANDONED,
    (_S.QUEUED, _E.TRANSFER): _S.QUEUED,  # moved to another queue while waiting
    (_S.QUEUED, _E.COMPLETE): _S.COMPLETED,  # e.g. left a message / took a callback
    (_S.OFFERED, _E.ACCEPT): _S.CONNECTED,
    (_S.OFFERED, _E.REJECT): _S.QUEUED,
    (_S.OFFERED, _E.OFFER_TIMEOUT): _S.QUEUED,
    (_S.OFFERED, _E.ABANDON): _S.ABANDONED,
    (_S.CONNECTED, _E.TRANSFER): _S.TRANSFERRED,
    (_S.CONNECTED, _E.END): _S.WRAP_UP,
    (_S.TRANSFERRED, _E.ENQUEUE): _S.QUEUED,
    (_S.TRANSFERRED, _E.OFFER): _S.OFFERED,
    (_S.TRANSFERRED, _E.ABANDON): _S.ABANDONED,
    (_S.WRAP_UP, _E.COMPLETE): _S.COMPLETED,
}

TERMINAL_STATES = frozenset({_S.COMPLETED, _S.ABANDONED})


def next_interaction_state(state: InteractionState, event: InteractionEvent) -> InteractionState:
    try:
        return INTERACTION_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition("interaction", state.value, event.value) from None


_last_uuid7_ms = 0
_last_uuid7_seq = 0


def new_id(now: float | None = None) -> str:
    """A time-sortable id (UUIDv7 layout, RFC 9562) as 32 lower-case hex digits with dashes.

    Monotonic within a process: ids made in the same millisecond keep increasing.
    """
    global _last_uuid7_ms, _last_uuid7_seq
    ms = int((time.time() if now is None else now) * 1000)
    if ms <= _last_uuid7_ms:
        ms = _last_uuid7_ms
        _last_uuid7_seq += 1
    else:
        _last_uuid7_seq = int.from_bytes(os.urandom(2), "big") & 0x3FF
    _last_uuid7_ms = ms
    rand_a = _last_uuid7_seq & 0xFFF
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass
class Interaction:
    """One customer interaction (a task to be handled), whatever the channel."""

    id: str
    channel: Channel
    direction: Direction = Direction.INBOUND
    state: InteractionState = InteractionState.NEW
    customer_id: str | None = None
    queue: str | None = None
    priority: int = 0
    skills: dict[str, int] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    agent_id: str | None = None
    disposition: str | None = None
    contact_id: str | None = None
    timestamps: dict[str, float] = field(default_factory=dict)

    def apply(self, event: InteractionEvent, now: float) -> InteractionState:
        """Move along the life-cycle table and stamp the time of the new state."""
        self.state = next_interaction_state(self.state, event)
        self.timestamps.setdefault(f"first_{self.state.value}", now)
        self.timestamps[self.state.value] = now
        return self.state

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES


# --- events published on the bus (frozen: they are facts) ----------------------------------
@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Base of the facts parts publish to each other; ``topic`` names the bus stream."""

    topic: str
    data: dict[str, Any]
    at: float
