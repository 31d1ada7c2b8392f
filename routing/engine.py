"""The routing engine: who gets which task, when. Sans-I/O: every call takes ``now``.

Decision rounds keep one invariant after every public call: no task waits while an agent
who serves one of its queues, has its skills and has free capacity for its channel is
ready (sticky tasks wait for their agent until the sticky window ends). Two moves restore
it: a task that becomes routable looks for an agent (:meth:`_route_task`), and an agent
who gains capacity looks for the best task across its queues (:meth:`_feed_agent`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents import Agent, AgentProfile, Presence, WorkPhase
from ccserver.domain import CAPACITY_CHANNEL
from routing.config import RoutingConfig, parse_routing_config
from routing.errors import DuplicateAgent, DuplicateTask, NotOffered, RoutingConfigError
from routing.task import AfterHours, Decision, OfferRevoked, Overflow, QueueFull, Task
from routing.timed import TimerHandlers
from routing.waiting import QueueWaiting, TaskEntry


class RoutingEngine(TimerHandlers):
    """The public engine API (documented in :mod:`routing`)."""

    # === tasks ==========================================================================
    def submit(self, task: Task, now: float) -> list[Decision]:
        """A task enters its queue. Returns an Offer, AfterHours, QueueFull… or nothing."""
        if task.id in self._tasks:
            raise DuplicateTask(f"task {task.id} is already routed", details={"task_id": task.id})
        cfg = self._queue(task.queue)
        out: list[Decision] = []
        queue, visited = task.queue, {task.queue}
        while True:  # follow after-hours / queue-full redirects to another queue
            cfg = self.config.queues[queue]
            if not cfg.hours.is_open(now):
                act = cfg.after_hours
                out.append(AfterHours(task.id, queue, act.action, act.target))
            elif cfg.max_length is not None and self._count[queue] >= cfg.max_length:
                act = cfg.overflow
                out.append(QueueFull(task.id, queue, act.action, act.target))
            else:
                break
            if act.action != "queue" or act.target is None:
                return out
            if act.target in visited:  # every queue in the chain is closed or full
                out.append(Overflow(task.id, queue, "voicemail", None, "redirect_loop"))
                return out
            queue = act.target
            visited.add(queue)
        entry = TaskEntry(
            task=task, queue=queue, queues=[queue], skills={}, priority=0,
            capacity_key=CAPACITY_CHANNEL[task.channel], seq=next(self._seq), enqueued_at=now,
        )  # fmt: skip
        self._tasks[task.id] = entry
        self._enter_queue(entry, cfg, now)
        if task.preferred_agent_id and cfg.sticky_seconds > 0:
            entry.sticky_agent = task.preferred_agent_id
            entry.sticky_until = now + cfg.sticky_seconds
            self._timers.push(entry.sticky_until, "sticky", task.id, entry.sticky_until)
        out.extend(self._make_routable(entry, now))
        return out

    def cancel(self, task_id: str, now: float, reason: str = "abandoned") -> list[Decision]:
        """The task leaves before being answered (caller hung up, took a callback…)."""
        entry = self._task(task_id)
        if entry.state in ("connected", "wrap_up"):
            raise NotOffered(f"task {task_id} is already answered; use end/complete")
        stats = self._stats[entry.queue]
        if reason == "abandoned":
            stats.abandoned(now, now - entry.enqueued_at)
        out: list[Decision] = []
        agent = self._agents.get(entry.agent_id or "")
        if entry.state == "offered" and agent is not None:
            agent.revoke(task_id, now)
            out.append(OfferRevoked(task_id, agent.id, reason))
        self._forget(entry)
        if agent is not None:
            out.extend(self._agent_moved(agent, now))
        return out

    def accept(self, task_id: str, agent_id: str, now: float) -> list[Decision]:
        entry, agent = self._offered(task_id, agent_id)
        agent.accept(task_id, now)
        entry.state, entry.answered_at = "connected", now
        self._stats[entry.queue].answered(now, now - entry.enqueued_at)
        return []

    def reject(self, task_id: str, agent_id: str, now: float) -> list[Decision]:
        """The agent declined: agent goes RONA, the task goes back to the head of its queue."""
        entry, agent = self._offered(task_id, agent_id)
        agent.reject(task_id, now)
        out = self._agent_moved(agent, now)
        return out + self._requeue(entry, now, "rejected")

    def end(self, task_id: str, agent_id: str, now: float) -> list[Decision]:
        """Conversation over; the agent's wrap-up timer starts."""
        entry, agent = self._held(task_id, agent_id, ("connected",))
        deadline = agent.end(task_id, now)
        entry.state = "wrap_up"
        self._timers.push(deadline, "wrap", task_id, deadline)
        return []

    def complete(self, task_id: str, agent_id: str, now: float) -> list[Decision]:
        """Wrap-up done (ends the conversation first if still connected)."""
        entry, agent = self._held(task_id, agent_id, ("connected", "wrap_up"))
        # straight through wrap-up if still connected (no wrap-up timer needed): one
        # agent call ends and finishes the work together
        agent.complete(task_id, now)
        entry.state = "wrap_up"
        return self._finished(entry, agent, now)

    # === agents =========================================================================
    def agent_login(
        self, profile: AgentProfile, now: float, *, ready: bool = False
    ) -> list[Decision]:
        old = self._agents.get(profile.id)
        if old is not None and old.presence is not Presence.LOGGED_OUT:
            raise DuplicateAgent(f"agent {profile.id} is already logged in")
        agent = Agent(profile, self.config.agents, now)
        self._agents[profile.id] = agent
        self._candidates.pop(profile.id, None)
        self._index_queues(agent, set(old.profile.queues) if old else set(), set(profile.queues))
        agent.login(now)
        if ready:
            agent.go_ready(now)
        return self._agent_moved(agent, now)

    def agent_ready(self, agent_id: str, now: float) -> list[Decision]:
        agent = self._agent(agent_id)
        agent.go_ready(now)
        return self._agent_moved(agent, now)

    def agent_not_ready(self, agent_id: str, reason: str, now: float) -> list[Decision]:
        agent = self._agent(agent_id)
        agent.go_not_ready(reason, now)
        return self._agent_moved(agent, now)

    def agent_changed(self, profile: AgentProfile, now: float) -> list[Decision]:
        """New skills, queues or capacity for a logged-in agent (takes effect at once)."""
        agent = self._agent(profile.id)
        self._index_queues(agent, set(agent.profile.queues), set(profile.queues))
        agent.profile = profile
        self._candidates.pop(profile.id, None)
        return self._agent_moved(agent, now)

    def agent_logout(self, agent_id: str, now: float) -> list[Decision]:
        agent = self._agent(agent_id)
        held = {tid: agent.phase_of(tid) for tid in agent.work}
        agent.logout(now)  # raises AgentBusy while connected
        self._refresh(agent, assigned=False)
        out = self._release(agent, held, now, "agent_logged_out")
        self._agent_moved(agent, now)
        return out

    def agent_disconnected(self, agent_id: str, now: float) -> list[Decision]:
        """Console gone: outstanding offers go back; live work stays through the grace."""
        agent = self._agent(agent_id)
        reserved = [t for t, w in agent.work.items() if w.phase is WorkPhase.RESERVED]
        agent.disconnect(now)
        self._push_presence_timer(agent)
        out: list[Decision] = []
        for tid in reserved:
            agent.revoke(tid, now)
            self._refresh(agent, assigned=False)
            out.append(OfferRevoked(tid, agent.id, "agent_disconnected"))
            out.extend(self._requeue(self._tasks[tid], now, "agent_disconnected"))
        return out + self._agent_moved(agent, now)

    def agent_reconnected(self, agent_id: str, now: float) -> list[Decision]:
        agent = self._agent(agent_id)
        agent.reconnect(now)
        return self._agent_moved(agent, now)

    # === time ===========================================================================
    def tick(self, now: float) -> list[Decision]:
        """Fire every timer due at ``now``: offer timeouts, wrap-up ends, widening…"""
        out: list[Decision] = []
        for timer in self._timers.due(now):
            out.extend(self._fire(timer, now))
        return out

    def next_timer_at(self) -> float | None:
        """When the runtime should call :meth:`tick` next (None: nothing scheduled)."""
        return self._timers.next_at()

    # === configuration ==================================================================
    def reload(self, config: RoutingConfig) -> list[Decision]:
        """Swap in a new config; refuse (old config stays) if a removed queue is in use."""
        for name in self.config.queues.keys() - config.queues.keys():
            used = sum(1 for e in self._tasks.values() if name in e.queues)
            if used:
                raise RoutingConfigError(
                    config.source, f"queues.{name}", f"removed while {used} task(s) use it"
                )
        old_stats = self._stats
        self.config, self._gen = config, self._gen + 1
        self._stats = {q: old_stats.get(q) or self._new_stats(c) for q, c in config.queues.items()}
        for q, c in config.queues.items():
            self._stats[q].sl_seconds = c.sl_seconds
            self._stats[q].short_abandon = config.short_abandon
        self._waiting = {q: QueueWaiting() for q in config.queues}
        self._count = dict.fromkeys(config.queues, 0)
        self._candidates = {}
        for entry in self._tasks.values():
            self._reapply_config(entry)
        self._pools, self._member = {}, {}
        out: list[Decision] = []
        for agent in self._agents.values():
            agent.policy = config.agents
            self._refresh(agent, assigned=False)
        for agent in list(self._agents.values()):
            out.extend(self._feed_agent(agent, self._last_now))
        return out

    def reload_from(self, data: Mapping[str, Any], source: str) -> list[Decision]:
        """Parse then reload; any error leaves the running config untouched."""
        return self.reload(parse_routing_config(data, source))
