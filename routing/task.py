"""The task handed to the routing engine, and the decisions it hands back.

Decisions are frozen facts; the runtime turns each into I/O (an offer pushed to a console,
a caller sent to voicemail, an announcement played). Times are the caller's clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ccserver.domain import Channel


@dataclass(frozen=True, slots=True)
class Task:
    """One interaction waiting for an agent.

    ``skills`` are extra requirements on top of the queue's (``{"lang.ja": 2}``).
    CRM-sourced boosts come in ``attributes``: ``repeat_contact_days`` (days since the last
    contact, int) and ``open_complaint`` (bool); ``customer_tier`` is matched against the
    configured VIP tiers. ``preferred_agent_id`` (last agent / account owner) drives sticky
    routing.
    """

    id: str
    channel: Channel
    queue: str
    arrived_at: float
    priority: int = 0
    skills: Mapping[str, int] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    customer_id: str | None = None
    customer_tier: str | None = None
    preferred_agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Base of every engine decision."""


@dataclass(frozen=True, slots=True)
class Offer(Decision):
    """Reserve ``agent_id`` for ``task_id`` until ``expires_at``; push the offer."""

    task_id: str
    agent_id: str
    queue: str
    channel: Channel
    expires_at: float
    attempt: int  # 1 for the first offer, 2 after one RONA, …
    waited: float  # seconds the task had waited when offered


@dataclass(frozen=True, slots=True)
class OfferRevoked(Decision):
    """Withdraw an outstanding offer (customer left, agent logged out / disconnected)."""

    task_id: str
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Requeue(Decision):
    """The task is waiting again, at the head of its queue (after reject / timeout)."""

    task_id: str
    queue: str
    reason: str  # "rejected" | "offer_timeout" | "agent_logged_out" | "agent_lost"


@dataclass(frozen=True, slots=True)
class AgentTimeout(Decision):
    """An offer ran out (RONA): the agent is not offered anything until ready again."""

    agent_id: str
    task_id: str


@dataclass(frozen=True, slots=True)
class AgentStateChanged(Decision):
    """A timer changed an agent's state (wrap-up ended, grace ran out, RONA auto-ready)."""

    agent_id: str
    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class WorkDropped(Decision):
    """The agent was logged out by the grace timer while holding this task."""

    task_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class Overflow(Decision):
    """The task leaves ``from_queue``: to ``to_queue``, or out of the engine by ``action``.

    ``action`` is ``"queue"`` (still routed, now in ``to_queue``), ``"voicemail"``,
    ``"callback"`` or ``"disconnect"`` (the task has left the engine).
    """

    task_id: str
    from_queue: str
    action: str
    to_queue: str | None
    reason: str  # "max_wait" | "widening"


@dataclass(frozen=True, slots=True)
class QueueFull(Decision):
    """Submission refused by ``max_length``; ``action``/``to_queue`` as in Overflow."""

    task_id: str
    queue: str
    action: str
    to_queue: str | None


@dataclass(frozen=True, slots=True)
class AfterHours(Decision):
    """Submission outside business hours; ``action``/``to_queue`` as in Overflow."""

    task_id: str
    queue: str
    action: str
    to_queue: str | None


@dataclass(frozen=True, slots=True)
class Widened(Decision):
    """A timed widening step was applied to a waiting task."""

    task_id: str
    queue: str
    step: int
    description: str


@dataclass(frozen=True, slots=True)
class Announce(Decision):
    """Tell the waiting customer their position and estimated wait (IVR, chat widget)."""

    task_id: str
    queue: str
    position: int
    ewt: float | None


@dataclass(frozen=True, slots=True)
class PositionEstimate:
    """Answer of ``position_and_ewt``: 1-based position, EWT seconds and how it was made."""

    task_id: str
    queue: str
    position: int
    ewt: float | None
    method: str  # "erlang_c" | "throughput" | "offered" | "none"
