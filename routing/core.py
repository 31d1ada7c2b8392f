"""State and internal moves of the routing engine (see :mod:`routing.engine`).

The engine is split for size only: :class:`EngineCore` holds the indexes and the moves
that keep them consistent, :class:`routing.timed.TimerHandlers` reacts to timers and
:class:`routing.engine.RoutingEngine` is the public API the runtime calls.
"""

from __future__ import annotations

import heapq
import itertools

from agents import Agent, WorkPhase
from routing.config import QueueConfig, RoutingConfig, WideningStep
from routing.errors import NotConnected, NotOffered, UnknownAgent, UnknownQueue, UnknownTask
from routing.pools import Pool, has_skills, make_pool
from routing.reporting import ReportingMixin
from routing.stats import QueueStats
from routing.task import Decision, Offer, OfferRevoked, Overflow, Requeue, Task, WorkDropped
from routing.timers import TimerHeap
from routing.waiting import HeapItem, QueueWaiting, TaskEntry, head

WAITING_STATES = frozenset({"waiting", "sticky"})


class EngineCore(ReportingMixin):
    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self._agents: dict[str, Agent] = {}
        self._tasks: dict[str, TaskEntry] = {}
        self._waiting: dict[str, QueueWaiting] = {q: QueueWaiting() for q in config.queues}
        self._count: dict[str, int] = dict.fromkeys(config.queues, 0)  # waiting, by home queue
        self._pools: dict[tuple[str, str], Pool] = {}
        self._member: dict[str, set[tuple[str, str]]] = {}
        self._queue_agents: dict[str, set[str]] = {}
        self._sticky: dict[str, dict[str, TaskEntry]] = {}
        # agent id -> capacity key -> every heap the agent qualifies for, across all its
        # queues: one flat list per key, so a search for the open keys touches only heaps
        # it can take from (see _best_task_for). Extended in place when a queue grows a
        # new heap (_new_heap); dropped on profile change, re-login and reload.
        self._candidates: dict[str, dict[str, list[list[HeapItem]]]] = {}
        self._timers = TimerHeap()
        self._seq = itertools.count()
        self._gen = 0  # config generation: timers from an older config are ignored
        self._stats: dict[str, QueueStats] = {
            q: self._new_stats(c) for q, c in config.queues.items()
        }

    # === internals: tasks ===============================================================
    _last_now = 0.0

    def _new_stats(self, cfg: QueueConfig) -> QueueStats:
        return QueueStats(cfg.sl_seconds, self.config.short_abandon, cfg.hours.tz)

    def _queue(self, name: str) -> QueueConfig:
        try:
            return self.config.queues[name]
        except KeyError:
            raise UnknownQueue(f"unknown queue {name!r}", details={"queue": name}) from None

    def _task(self, task_id: str) -> TaskEntry:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise UnknownTask(f"unknown task {task_id}", details={"task_id": task_id}) from None

    def _agent(self, agent_id: str) -> Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise UnknownAgent(
                f"unknown agent {agent_id}", details={"agent_id": agent_id}
            ) from None

    def _offered(self, task_id: str, agent_id: str) -> tuple[TaskEntry, Agent]:
        entry = self._task(task_id)
        if entry.state != "offered" or entry.agent_id != agent_id:
            raise NotOffered(
                f"task {task_id} is not offered to agent {agent_id}",
                details={"task_id": task_id, "agent_id": agent_id, "state": entry.state},
            )
        return entry, self._agent(agent_id)

    def _held(
        self, task_id: str, agent_id: str, states: tuple[str, ...]
    ) -> tuple[TaskEntry, Agent]:
        entry = self._task(task_id)
        if entry.state not in states or entry.agent_id != agent_id:
            raise NotConnected(
                f"task {task_id} is not {'/'.join(states)} with agent {agent_id}",
                details={"task_id": task_id, "agent_id": agent_id, "state": entry.state},
            )
        return entry, self._agent(agent_id)

    def _boost(self, task: Task) -> int:
        b = self.config.boosts
        boost = b.vip_tiers.get(task.customer_tier or "", 0)
        days = task.attributes.get("repeat_contact_days")
        if (
            isinstance(days, int | float)
            and not isinstance(days, bool)
            and days <= b.repeat_contact_days
        ):
            boost += b.repeat_contact
        if task.attributes.get("open_complaint") is True:
            boost += b.open_complaint
        return boost

    def _enter_queue(self, entry: TaskEntry, cfg: QueueConfig, now: float) -> None:
        """(Re)home ``entry`` in ``cfg``'s queue: requirements, priority and timers."""
        self._set_requirements(entry, cfg)
        entry.enqueued_at = now
        self._stats[cfg.name].offered(now)
        self._push_queue_timers(entry, cfg)

    def _push_queue_timers(self, entry: TaskEntry, cfg: QueueConfig) -> None:
        tid, t0, gen = entry.task.id, entry.enqueued_at, self._gen
        if entry.widen_next < len(cfg.widening):
            step = cfg.widening[entry.widen_next]
            self._timers.push(t0 + step.after, "widen", tid, t0, gen, entry.widen_next)
        if cfg.max_wait is not None:
            self._timers.push(t0 + cfg.max_wait, "max_wait", tid, t0, gen)
        if cfg.announce_every:
            self._timers.push(t0 + cfg.announce_every, "announce", tid, t0, gen)

    def _apply_step(self, entry: TaskEntry, step: WideningStep) -> None:
        for name, level in step.lower_skills.items():
            if name in entry.skills:
                entry.skills[name] = min(entry.skills[name], level)
        if step.add_queue and step.add_queue not in entry.queues:
            entry.queues.append(step.add_queue)
        entry.priority += step.raise_priority
        entry.rekey()

    def _reapply_config(self, entry: TaskEntry) -> None:
        """After a reload: requirements from the new queue config, steps already passed."""
        cfg = self.config.queues[entry.queue]
        done = min(entry.widen_next, len(cfg.widening))
        self._set_requirements(entry, cfg)
        for step in cfg.widening[:done]:
            if not step.overflow:
                self._apply_step(entry, step)
        entry.widen_next = done
        if entry.state in (*WAITING_STATES, "offered"):
            self._push_queue_timers(entry, cfg)
        if entry.state in WAITING_STATES:
            self._count[entry.queue] += 1
        if entry.state == "waiting":
            entry.version += 1
            self._push(entry)

    def _set_requirements(self, entry: TaskEntry, cfg: QueueConfig) -> None:
        entry.queue, entry.queues = cfg.name, [cfg.name]
        entry.skills = dict(cfg.skills)
        for name, level in entry.task.skills.items():
            entry.skills[name] = max(level, entry.skills.get(name, 0))
        entry.priority = cfg.priority + entry.task.priority + self._boost(entry.task)
        entry.rekey()
        entry.widen_next, entry.pending_overflow = 0, None

    def _push(self, entry: TaskEntry) -> None:
        entry.indexed_key = entry.key
        for q in entry.queues:
            if self._waiting[q].push(entry):
                self._new_heap(q, entry.sig)

    def _new_heap(self, queue: str, sig: tuple[str, tuple[tuple[str, int], ...]]) -> None:
        """A queue grew a heap: add it to the cached candidates of the agents who serve
        the queue and qualify (an update in place, instead of rebuilding their caches)."""
        capacity_key, required = sig
        heap = self._waiting[queue].heaps[capacity_key][required]
        candidates, agents = self._candidates, self._agents
        for agent_id in self._queue_agents.get(queue, ()):
            by_key = candidates.get(agent_id)
            if by_key is None:
                continue
            skills = agents[agent_id].profile.skills
            if all(skills.get(n, 0) >= lv for n, lv in required):
                by_key.setdefault(capacity_key, []).append(heap)

    def _make_routable(self, entry: TaskEntry, now: float) -> list[Decision]:
        """Entry just (re)entered waiting: offer it now or put it in the indexes."""
        self._count[entry.queue] += 1
        entry.version += 1
        if entry.sticky_agent and now < entry.sticky_until:
            entry.state = "sticky"
            self._sticky.setdefault(entry.sticky_agent, {})[entry.task.id] = entry
        else:
            entry.state = "waiting"
            self._push(entry)
        agent = self._route_task(entry)
        return [self._offer(entry, agent, now)] if agent else []

    def _route_task(self, entry: TaskEntry) -> Agent | None:
        key = entry.capacity_key
        if entry.state == "sticky":
            agent = self._agents.get(entry.sticky_agent or "")
            if agent and agent.can_take(key) and has_skills(agent, entry.skills):
                return agent
            return None
        for q in entry.queues:
            pool = self._pools.get((q, key))
            if pool:
                found = pool.pick(entry.skills, _always)
                if found is not None:
                    return found
        return None

    def _offer(self, entry: TaskEntry, agent: Agent, now: float, *, refresh: bool = True) -> Offer:
        expires = now + self.config.offer_timeout
        agent.reserve(entry.task.id, entry.capacity_key, now, expires)
        self._leave_waiting(entry)
        entry.state, entry.agent_id, entry.offer_expires = "offered", agent.id, expires
        entry.attempts += 1
        self._timers.push(expires, "offer", entry.task.id, entry.version)
        pool = self._pools.get((entry.queue, entry.capacity_key))
        if pool is not None:
            pool.offered_from_here(agent)
        if refresh:
            self._refresh(agent, assigned=True)
        task = entry.task
        return Offer(task.id, agent.id, entry.queue, task.channel, expires, entry.attempts,
                     now - entry.enqueued_at)  # fmt: skip

    def _leave_waiting(self, entry: TaskEntry) -> None:
        if entry.state in WAITING_STATES:
            self._count[entry.queue] -= 1
        if entry.state == "sticky" and entry.sticky_agent:
            self._sticky.get(entry.sticky_agent, {}).pop(entry.task.id, None)
        elif entry.state == "waiting":
            # Tasks mostly leave from the head (offered as the oldest): pop them now so
            # heads stay live and agents' searches rarely meet a stale head.
            capacity_key, required = entry.sig
            for q in entry.queues:
                waiting = self._waiting[q]
                waiting.discard(entry.indexed_key)
                by_skills = waiting.heaps.get(capacity_key)
                heap = by_skills.get(required) if by_skills else None
                if heap and heap[0][2] is entry:
                    heapq.heappop(heap)
        entry.version += 1  # every heap entry of the old version is now stale

    def _forget(self, entry: TaskEntry) -> None:
        self._leave_waiting(entry)
        entry.state = "gone"
        del self._tasks[entry.task.id]

    def _requeue(self, entry: TaskEntry, now: float, reason: str) -> list[Decision]:
        entry.agent_id = entry.offer_expires = None
        out: list[Decision] = [Requeue(entry.task.id, entry.queue, reason)]
        if entry.pending_overflow is not None:
            reason, target = entry.pending_overflow
            return out + self._overflow(entry, now, reason, target)
        return out + self._make_routable(entry, now)

    def _overflow(
        self, entry: TaskEntry, now: float, reason: str, target: str | None = None
    ) -> list[Decision]:
        cfg = self.config.queues[entry.queue]
        action = "queue" if target else cfg.overflow.action
        target = target or cfg.overflow.target
        self._stats[entry.queue].overflowed(now)
        decision = Overflow(entry.task.id, entry.queue, action, target, reason)
        if action != "queue" or target is None:
            self._forget(entry)
            return [decision]
        self._leave_waiting(entry)
        self._enter_queue(entry, self.config.queues[target], now)
        return [decision, *self._make_routable(entry, now)]

    def _finish(
        self, entry: TaskEntry, agent: Agent, now: float, *, timed_out: bool
    ) -> list[Decision]:
        agent.finish_wrap_up(entry.task.id, now, timed_out=timed_out)
        return self._finished(entry, agent, now)

    def _finished(self, entry: TaskEntry, agent: Agent, now: float) -> list[Decision]:
        """The agent has just finished ``entry``'s work: stats, forget, feed the agent."""
        if entry.answered_at is not None:
            self._stats[entry.queue].handled(now, now - entry.answered_at)
        self._forget(entry)
        return self._agent_moved(agent, now)

    def _release(
        self, agent: Agent, held: dict[str, WorkPhase | None], now: float, reason: str
    ) -> list[Decision]:
        """Work an agent lost by logout/grace: offers go back, live work is dropped."""
        out: list[Decision] = []
        for tid, phase in held.items():
            entry = self._tasks[tid]
            if phase is WorkPhase.RESERVED:
                out.append(OfferRevoked(tid, agent.id, reason))
                out.extend(self._requeue(entry, now, reason))
            else:
                if phase is WorkPhase.BUSY:
                    out.append(WorkDropped(tid, agent.id))
                elif entry.answered_at is not None:
                    self._stats[entry.queue].handled(now, now - entry.answered_at)
                self._forget(entry)
        return out

    # === internals: agents ==============================================================
    def _index_queues(self, agent: Agent, old: set[str], new: set[str]) -> None:
        for q in old - new:
            self._queue_agents.get(q, set()).discard(agent.id)
        for q in new - old:
            self._queue_agents.setdefault(q, set()).add(agent.id)

    def _refresh(self, agent: Agent, *, assigned: bool) -> None:
        """Make pool membership match ``can_take`` for every (queue, capacity key)."""
        keys = agent.open_keys()
        have = self._member.get(agent.id)
        if not keys and not have:
            return  # busy before and after (the common case once an agent is fed)
        if have is None:
            have = set()
        queues = self.config.queues
        want = {(q, k) for k in keys for q in agent.profile.queues if q in queues}
        for m in have - want:
            self._pools[m].remove(agent.id)
        for m in want - have:
            pool = self._pools.get(m)
            if pool is None:
                cfg = self.config.queues[m[0]]
                pool = self._pools[m] = make_pool(cfg.strategy, self.config.skill_scan_limit)
            pool.add(agent)
        for m in want & have:
            if assigned:
                self._pools[m].assigned(agent)
            else:
                self._pools[m].load_changed(agent)
        self._member[agent.id] = want

    def _agent_moved(self, agent: Agent, now: float) -> list[Decision]:
        self._last_now = max(self._last_now, now)
        return self._feed_agent(agent, now)

    def _feed_agent(self, agent: Agent, now: float) -> list[Decision]:
        """Offer the agent tasks while it has room, then fix its pool membership once
        (feeding does not read the pools, so one refresh at the end is enough)."""
        out: list[Decision] = []
        while (entry := self._best_task_for(agent)) is not None:
            out.append(self._offer(entry, agent, now, refresh=False))
        self._refresh(agent, assigned=bool(out))
        return out

    def _best_task_for(self, agent: Agent) -> TaskEntry | None:
        """The waiting task this agent should get next: smallest key over every heap head
        it qualifies for, in every queue it serves (fair order across queues)."""
        keys = agent.open_keys()
        if not keys:
            return None
        by_key = self._candidates.get(agent.id)
        if by_key is None:
            by_key = self._candidates[agent.id] = self._qualified_heaps(agent)
        best: TaskEntry | None = None
        while True:
            # Compare the heads' stored keys only (no look at the entries: this loop is
            # the hot path and memory-bound); then check the winner is still live.
            top_key: tuple[float, ...] = _NO_KEY
            top_heap: list[HeapItem] | None = None
            for capacity_key in keys:
                for heap in by_key.get(capacity_key, ()):
                    if heap and heap[0][0] < top_key:
                        top_key, top_heap = heap[0][0], heap
            if top_heap is None:
                break
            _, version, entry = top_heap[0]
            if entry.version == version and entry.state == "waiting":
                best = entry
                break
            head(top_heap)  # drop the stale head(s) and look again
        sticky = self._sticky.get(agent.id)
        if sticky:
            for entry in sticky.values():
                fits = entry.capacity_key in keys and has_skills(agent, entry.skills)
                if fits and (best is None or entry.key < best.key):
                    best = entry
        return best

    def _qualified_heaps(self, agent: Agent) -> dict[str, list[list[HeapItem]]]:
        """Per capacity key, the heaps (of every queue the agent serves) whose required
        skills the agent has. Rebuilt only when a queue grows a new heap."""
        skills = agent.profile.skills
        out: dict[str, list[list[HeapItem]]] = {}
        for q in agent.profile.queues:
            waiting = self._waiting.get(q)
            if waiting is None:
                continue
            for capacity_key, by_skills in waiting.heaps.items():
                for required, heap in by_skills.items():
                    if all(skills.get(n, 0) >= lv for n, lv in required):
                        out.setdefault(capacity_key, []).append(heap)
        return out

    def _push_presence_timer(self, agent: Agent) -> None:
        if agent.presence_deadline is not None:
            at = agent.presence_deadline
            self._timers.push(at, "presence", agent.id, at)


# Greater than every sort key (-priority, arrival, seq): the search's starting "best".
_NO_KEY: tuple[float, ...] = (float("inf"),)


def _always(agent: Agent) -> bool:
    return True
