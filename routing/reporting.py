"""Read side of the engine: position and EWT, queue statistics, wallboard snapshot.

Kept apart from the decision code in :mod:`routing.engine`; it only reads engine state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents import Agent, Presence
from routing.errors import UnknownAgent, UnknownQueue, UnknownTask
from routing.estimate import erlang_c_new_arrival_wait, position_wait
from routing.stats import QueueStats, WindowStats
from routing.task import Announce, PositionEstimate
from routing.waiting import QueueWaiting, TaskEntry

if TYPE_CHECKING:
    from routing.config import RoutingConfig

WINDOW_15M = 900.0
WINDOW_1H = 3600.0
MIN_ANSWERS_FOR_RATE = 3  # fewer answers than this in 15 min say nothing about throughput


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    queue: str
    waiting: int
    oldest_wait: float
    agents_staffed: int  # logged in, ready (busy or not) and serving this queue
    agents_available: int  # ready with room for at least one more task here
    ewt_new_arrival: float | None  # Erlang C mean wait for a task arriving now
    last_15m: WindowStats
    last_1h: WindowStats
    today: WindowStats


@dataclass(frozen=True, slots=True)
class AgentReport:
    agent_id: str
    state: str
    reason: str | None
    in_state_for: float
    occupancy: float
    seconds_by_state: dict[str, float]
    seconds_by_reason: dict[str, float]


class ReportingMixin:
    config: RoutingConfig
    _agents: dict[str, Agent]
    _tasks: dict[str, TaskEntry]
    _waiting: dict[str, QueueWaiting]
    _stats: dict[str, QueueStats]
    _queue_agents: dict[str, set[str]]
    _count: dict[str, int]

    def position_and_ewt(self, task_id: str, now: float) -> PositionEstimate:
        """1-based position in its home queue and estimated seconds until offered."""
        entry = self._tasks.get(task_id)
        if entry is None:
            raise UnknownTask(f"unknown task {task_id}", details={"task_id": task_id})
        if entry.state not in ("waiting", "sticky"):
            return PositionEstimate(task_id, entry.queue, 0, 0.0, "offered")
        ahead = self._waiting[entry.queue].ahead_of(entry.key)
        ewt, method = self._estimate(entry.queue, ahead, now)
        return PositionEstimate(task_id, entry.queue, ahead + 1, ewt, method)

    def _estimate(self, queue: str, ahead: int, now: float) -> tuple[float | None, str]:
        servers = self._servers(queue)
        stats = self._stats[queue]
        recent = stats.window(now, WINDOW_15M)
        aht = stats.window(now, WINDOW_1H).aht or self.config.queues[queue].default_aht
        load = recent.offered / WINDOW_15M * aht
        rate = recent.answered / WINDOW_15M if recent.answered >= MIN_ANSWERS_FOR_RATE else None
        return position_wait(ahead, servers, aht, load, rate)

    def _servers(self, queue: str) -> float:
        """Ready agents serving the queue (busy or not), each counted fully.

        Counting an agent shared by k queues as 1/k was tried and overestimated waits
        badly in ``bench.routing_day``: shared agents serve whichever queue has the older
        task, so a waiting task sees close to all of them.
        """
        agents = self._agents
        return float(
            sum(
                1 for a in self._queue_agents.get(queue, ()) if agents[a].presence is Presence.READY
            )
        )

    def _announce(self, entry: TaskEntry, now: float) -> Announce:
        estimate = self.position_and_ewt(entry.task.id, now)
        return Announce(entry.task.id, entry.queue, estimate.position, estimate.ewt)

    def agent_report(self, agent_id: str, now: float) -> AgentReport:
        """Time per state and per not-ready reason since login (current stint included)."""
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(f"unknown agent {agent_id}", details={"agent_id": agent_id})
        states, reasons = agent.totals(now)
        return AgentReport(
            agent_id=agent.id,
            state=agent.state.value,
            reason=agent.reason,
            in_state_for=now - agent.state_since,
            occupancy=agent.occupancy(),
            seconds_by_state=states,
            seconds_by_reason=reasons,
        )

    def queue_stats(self, queue: str, now: float) -> QueueSnapshot:
        if queue not in self.config.queues:
            raise UnknownQueue(f"unknown queue {queue!r}", details={"queue": queue})
        stats = self._stats[queue]
        oldest = min((e.enqueued_at for e in self._waiting[queue].live()), default=now)
        staffed = available = 0
        for agent_id in self._queue_agents.get(queue, ()):
            agent = self._agents[agent_id]
            if agent.presence is Presence.READY:
                staffed += 1
                available += any(agent.can_take(k) for k in agent.capacity.limits)
        recent = stats.window(now, WINDOW_15M)
        aht = stats.window(now, WINDOW_1H).aht or self.config.queues[queue].default_aht
        return QueueSnapshot(
            queue=queue,
            waiting=self._count[queue],
            oldest_wait=now - oldest,
            agents_staffed=staffed,
            agents_available=available,
            ewt_new_arrival=erlang_c_new_arrival_wait(
                int(self._servers(queue)), recent.offered / WINDOW_15M, aht
            ),
            last_15m=recent,
            last_1h=stats.window(now, WINDOW_1H),
            today=stats.today(now),
        )

    def snapshot(self, *, tasks: bool = False) -> dict[str, Any]:
        """JSON-ready view for wallboards (``tasks=True`` adds every task; for debugging)."""
        out: dict[str, Any] = {
            "queues": {q: {"waiting": n} for q, n in self._count.items()},
            "agents": {
                a.id: {
                    "state": a.state.value,
                    "presence": a.presence.value,
                    "reason": a.reason,
                    "since": a.state_since,
                    "load": {k: n for k, n in a.load.items() if n},
                    "occupancy": a.occupancy(),
                    "queues": sorted(a.profile.queues),
                    "teams": sorted(a.profile.teams),
                    "skills": dict(a.profile.skills),
                    "work": {t: w.phase.value for t, w in a.work.items()},
                }
                for a in self._agents.values()
            },
        }
        if tasks:
            out["tasks"] = {
                e.task.id: {
                    "state": e.state,
                    "queue": e.queue,
                    "queues": list(e.queues),
                    "skills": dict(e.skills),
                    "priority": e.priority,
                    "capacity_key": e.capacity_key,
                    "arrived_at": e.task.arrived_at,
                    "seq": e.seq,
                    "agent_id": e.agent_id,
                    "sticky_agent": e.sticky_agent if e.state == "sticky" else None,
                }
                for e in self._tasks.values()
            }
        return out
