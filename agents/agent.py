"""One agent: presence, the work it holds, capacity, skills and time accounting.

See :mod:`agents.states` for the model. All methods take ``now`` (seconds, any epoch the
caller uses consistently) and never read a clock. Methods that change the summary state
keep time-in-state and per-reason totals for reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agents.capacity import CapacityRule
from agents.errors import AgentBusy, CapacityExceeded, UnknownReason, UnknownWork
from agents.states import (
    LIVE_PHASES,
    AgentState,
    Presence,
    PresenceEvent,
    WorkEvent,
    WorkPhase,
    next_presence,
    next_work_phase,
    summarise,
)


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """Who the agent is for routing: skills with levels, teams, queues served."""

    id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    queues: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    capacity: CapacityRule | None = None  # None: the configured default


@dataclass(frozen=True, slots=True)
class AgentPolicy:
    """Site-wide agent rules from config (``[agents]`` in routing.toml)."""

    capacity: CapacityRule = field(default_factory=CapacityRule)
    not_ready_reasons: frozenset[str] = frozenset({"break", "lunch"})
    wrap_up_timeout: float = 60.0
    disconnect_grace: float = 30.0
    rona_ready_after: float | None = None  # None: agent must go ready again by hand


@dataclass(slots=True)
class WorkItem:
    task_id: str
    capacity_key: str
    phase: WorkPhase
    since: float
    deadline: float | None  # offer expiry or wrap-up end


class Agent:
    """Mutable agent record owned by the routing engine (or used alone in tests)."""

    __slots__ = (
        "_open",
        "_was_ready",
        "id",
        "load",
        "policy",
        "presence",
        "presence_deadline",
        "profile",
        "reason",
        "reason_totals",
        "state",
        "state_since",
        "time_in_state",
        "work",
    )

    def __init__(self, profile: AgentProfile, policy: AgentPolicy, now: float) -> None:
        # A plain attribute, not a property over profile.id: the router reads it on every
        # decision. Profiles may be replaced (new skills, queues) but never change the id.
        self.id = profile.id
        self.profile = profile
        self.policy = policy
        self.presence = Presence.LOGGED_OUT
        self.reason: str | None = None
        self.presence_deadline: float | None = None  # grace or rona auto-ready
        self.work: dict[str, WorkItem] = {}
        self.load: dict[str, int] = {}
        self.state = AgentState.LOGGED_OUT
        self.state_since = now
        self.time_in_state: dict[AgentState, float] = {}
        self.reason_totals: dict[str, float] = {}
        self._was_ready = False
        # open_keys() answer, valid while presence/work are unchanged (every change goes
        # through _resummarise, which drops it) and for this very profile and policy
        self._open: tuple[AgentProfile, AgentPolicy, list[str]] | None = None

    # --- read side ---------------------------------------------------------------------
    @property
    def capacity(self) -> CapacityRule:
        return self.profile.capacity or self.policy.capacity

    def can_take(self, key: str) -> bool:
        """Ready and with room for one more item of capacity ``key``."""
        return self.presence is Presence.READY and self.capacity.can_take(self.load, key)

    def open_keys(self) -> list[str]:
        """Capacity keys this agent can take one more item of right now."""
        cached = self._open
        if cached is not None and cached[0] is self.profile and cached[1] is self.policy:
            return cached[2]
        if self.presence is not Presence.READY:
            keys: list[str] = []
        else:
            keys = self.capacity.open_keys(self.load)
        self._open = (self.profile, self.policy, keys)
        return keys

    def occupancy(self) -> float:
        return self.capacity.occupancy(self.load)

    def skill(self, name: str) -> int:
        return self.profile.skills.get(name, 0)

    def totals(self, now: float) -> tuple[dict[str, float], dict[str, float]]:
        """(seconds per summary state, seconds per not-ready reason), current stint included."""
        states = {s.value: t for s, t in self.time_in_state.items()}
        reasons = dict(self.reason_totals)
        elapsed = now - self.state_since
        states[self.state.value] = states.get(self.state.value, 0.0) + elapsed
        if self.state is AgentState.NOT_READY and self.reason:
            reasons[self.reason] = reasons.get(self.reason, 0.0) + elapsed
        return states, reasons

    # --- presence ----------------------------------------------------------------------
    def login(self, now: float, reason: str = "login") -> None:
        self._presence(PresenceEvent.LOGIN, now, reason=reason)

    def go_ready(self, now: float) -> None:
        self._presence(PresenceEvent.GO_READY, now, reason=None)

    def go_not_ready(self, reason: str, now: float) -> None:
        if reason not in self.policy.not_ready_reasons:
            raise UnknownReason(
                f"not-ready reason {reason!r} is not configured",
                details={"reason": reason, "known": sorted(self.policy.not_ready_reasons)},
            )
        self._presence(PresenceEvent.GO_NOT_READY, now, reason=reason)

    def rona_expired(self, now: float) -> None:
        self._presence(PresenceEvent.RONA_EXPIRED, now, reason=None)

    def disconnect(self, now: float) -> None:
        self._was_ready = self.presence is Presence.READY
        self._presence(PresenceEvent.DISCONNECT, now, reason=self.reason)
        self.presence_deadline = now + self.policy.disconnect_grace

    def reconnect(self, now: float) -> None:
        if self._was_ready:
            self._presence(PresenceEvent.RECONNECT_READY, now, reason=None)
        else:
            self._presence(PresenceEvent.RECONNECT_NOT_READY, now, reason=self.reason or "login")

    def logout(self, now: float) -> list[str]:
        """Log out; returns the task ids of revoked offers. Refused during a conversation."""
        busy = [w.task_id for w in self.work.values() if w.phase is WorkPhase.BUSY]
        if busy:
            raise AgentBusy(f"agent {self.id} is connected to {busy}", details={"tasks": busy})
        revoked = self._drop_all(now)
        self._presence(PresenceEvent.LOGOUT, now, reason=None)
        return revoked

    def grace_expired(self, now: float) -> list[str]:
        """The console never came back: log out, dropping all work. Returns dropped ids."""
        dropped = self._drop_all(now)
        self._presence(PresenceEvent.GRACE_EXPIRED, now, reason=None)
        return dropped

    # --- work --------------------------------------------------------------------------
    def reserve(self, task_id: str, key: str, now: float, expires_at: float) -> None:
        if key not in self.open_keys():  # same answer as can_take(key), cached
            raise CapacityExceeded(
                f"agent {self.id} cannot take more {key!r} work",
                details={"agent_id": self.id, "capacity_key": key, "load": dict(self.load)},
            )
        if task_id in self.work:
            raise CapacityExceeded(f"agent {self.id} already holds {task_id}")
        self.work[task_id] = WorkItem(task_id, key, WorkPhase.RESERVED, now, expires_at)
        self.load[key] = self.load.get(key, 0) + 1
        self._resummarise(now)

    def accept(self, task_id: str, now: float) -> None:
        self._work(task_id, WorkEvent.ACCEPT, now, deadline=None)

    def reject(self, task_id: str, now: float) -> None:
        self._work(task_id, WorkEvent.REJECT, now, deadline=None)
        self._missed(now)

    def offer_timeout(self, task_id: str, now: float) -> None:
        self._work(task_id, WorkEvent.OFFER_TIMEOUT, now, deadline=None)
        self._missed(now)

    def revoke(self, task_id: str, now: float) -> None:
        self._work(task_id, WorkEvent.REVOKE, now, deadline=None)

    def end(self, task_id: str, now: float) -> float:
        """Conversation over; wrap-up starts. Returns the wrap-up deadline."""
        deadline = now + self.policy.wrap_up_timeout
        self._work(task_id, WorkEvent.END, now, deadline=deadline)
        return deadline

    def finish_wrap_up(self, task_id: str, now: float, *, timed_out: bool = False) -> None:
        event = WorkEvent.WRAP_UP_TIMEOUT if timed_out else WorkEvent.WRAP_UP_DONE
        self._work(task_id, event, now, deadline=None)

    def complete(self, task_id: str, now: float) -> None:
        """Work done now: ``end`` then ``finish_wrap_up`` at the same instant if the item
        is still connected, else ``finish_wrap_up``. One summary update instead of two
        (the zero-length wrap-up stint would not be recorded anyway)."""
        item = self.work.get(task_id)
        if item is not None and item.phase is WorkPhase.BUSY:
            # validates BUSY -(end)-> WRAP_UP; the _work call below checks the rest
            item.phase = next_work_phase(item.phase, WorkEvent.END)
        self._work(task_id, WorkEvent.WRAP_UP_DONE, now, deadline=None)

    def phase_of(self, task_id: str) -> WorkPhase | None:
        item = self.work.get(task_id)
        return item.phase if item else None

    # --- internals ---------------------------------------------------------------------
    def _missed(self, now: float) -> None:
        self._presence(PresenceEvent.OFFER_MISSED, now, reason=self.reason)
        if self.presence is Presence.RONA and self.policy.rona_ready_after is not None:
            self.presence_deadline = now + self.policy.rona_ready_after

    def _drop_all(self, now: float) -> list[str]:
        ids = list(self.work)
        for task_id in ids:
            self._work(task_id, WorkEvent.DROP, now, deadline=None)
        return ids

    def _presence(self, event: PresenceEvent, now: float, *, reason: str | None) -> None:
        new = next_presence(self.presence, event)
        if self.state is AgentState.NOT_READY and self.reason != reason:
            # A change of reason inside not_ready closes the old reason's stint.
            self._account(now)
        self.presence = new
        self.reason = reason if new in (Presence.NOT_READY, Presence.DISCONNECTED) else None
        self.presence_deadline = None
        self._resummarise(now)

    def _work(self, task_id: str, event: WorkEvent, now: float, *, deadline: float | None) -> None:
        item = self.work.get(task_id)
        if item is None:
            raise UnknownWork(
                f"agent {self.id} holds no work for task {task_id}",
                details={"agent_id": self.id, "task_id": task_id, "event": event.value},
            )
        item.phase = next_work_phase(item.phase, event)
        item.since = now
        item.deadline = deadline
        if item.phase not in LIVE_PHASES:
            del self.work[task_id]
            self.load[item.capacity_key] -= 1
        self._resummarise(now)

    def _resummarise(self, now: float) -> None:
        self._open = None  # presence or load may have moved
        new = summarise(self.presence, (w.phase for w in self.work.values()))
        if new is not self.state:
            self._account(now)
            self.state = new

    def _account(self, now: float) -> None:
        elapsed = now - self.state_since
        if elapsed <= 0:
            return  # zero-length stints would only clutter the report
        self.time_in_state[self.state] = self.time_in_state.get(self.state, 0.0) + elapsed
        if self.state is AgentState.NOT_READY and self.reason:
            self.reason_totals[self.reason] = self.reason_totals.get(self.reason, 0.0) + elapsed
        self.state_since = now
