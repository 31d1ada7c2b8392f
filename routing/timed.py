"""Timer handling of the routing engine: offer timeouts, wrap-up ends, presence timers
(grace, RONA auto-ready), sticky windows, widening steps, max wait and announcements.

Each timer carries a token; a handler first checks the token still describes the current
situation and otherwise does nothing (lazy cancellation, see :mod:`routing.timers`).
"""

from __future__ import annotations

from typing import Any

from agents import Presence
from routing.core import WAITING_STATES, EngineCore
from routing.task import AgentStateChanged, AgentTimeout, Decision, Widened
from routing.timers import Timer
from routing.waiting import TaskEntry


class TimerHandlers(EngineCore):
    def _fire(self, timer: Timer, now: float) -> list[Decision]:
        self._last_now = max(self._last_now, now)
        kind, ident, token = timer.kind, timer.ident, timer.token
        if kind == "presence":
            return self._presence_timer(ident, token[0], now)
        entry = self._tasks.get(ident)
        if entry is None:
            return []
        if kind == "offer":
            if entry.state != "offered" or entry.version != token[0]:
                return []
            agent = self._agents[entry.agent_id or ""]
            agent.offer_timeout(ident, now)
            self._push_presence_timer(agent)
            out: list[Decision] = [AgentTimeout(agent.id, ident)]
            out.extend(self._agent_moved(agent, now))
            return out + self._requeue(entry, now, "offer_timeout")
        if kind == "wrap":
            holder = self._agents.get(entry.agent_id or "")
            item = holder.work.get(ident) if holder else None
            if holder is None or item is None or item.deadline != token[0]:
                return []
            out = self._finish(entry, holder, now, timed_out=True)
            return [AgentStateChanged(holder.id, holder.state.value, "wrap_up_timeout"), *out]
        if kind == "sticky":
            if entry.state != "sticky" or entry.sticky_until != token[0]:
                return []
            self._leave_waiting(entry)
            entry.sticky_agent = None
            return self._make_routable(entry, now)
        if (token[0], token[1]) != (entry.enqueued_at, self._gen):
            return []  # the task changed queue, or the config was reloaded
        return self._queue_timer(kind, entry, token, now)

    def _queue_timer(
        self, kind: str, entry: TaskEntry, token: tuple[Any, ...], now: float
    ) -> list[Decision]:
        cfg = self.config.queues[entry.queue]
        waiting = entry.state in WAITING_STATES
        if kind == "max_wait":
            if entry.state == "offered":
                entry.pending_overflow = ("max_wait", None)  # decide if the offer comes back
                return []
            return self._overflow(entry, now, "max_wait") if waiting else []
        if kind == "announce":
            if not waiting:
                return []
            assert cfg.announce_every
            self._timers.push(now + cfg.announce_every, "announce", entry.task.id, *token)
            return [self._announce(entry, now)]
        # widen
        if entry.widen_next != token[2] or entry.state not in (*WAITING_STATES, "offered"):
            return []
        step = cfg.widening[entry.widen_next]
        entry.widen_next += 1
        out: list[Decision] = [Widened(entry.task.id, entry.queue, token[2], step.describe())]
        if step.overflow:
            if entry.state == "offered":
                entry.pending_overflow = ("widening", step.overflow)
                return out
            return out + self._overflow(entry, now, "widening", step.overflow)
        if entry.widen_next < len(cfg.widening):
            nxt = cfg.widening[entry.widen_next]
            self._timers.push(entry.enqueued_at + nxt.after, "widen", entry.task.id,
                              entry.enqueued_at, self._gen, entry.widen_next)  # fmt: skip
        self._apply_step(entry, step)
        if entry.state == "waiting":
            self._leave_waiting(entry)
            out.extend(self._make_routable(entry, now))
        return out

    def _presence_timer(self, agent_id: str, at: Any, now: float) -> list[Decision]:
        agent = self._agents.get(agent_id)
        if agent is None or agent.presence_deadline != at:
            return []
        if agent.presence is Presence.DISCONNECTED:
            held = {tid: agent.phase_of(tid) for tid in agent.work}
            agent.grace_expired(now)
            self._refresh(agent, assigned=False)
            out = self._release(agent, held, now, "agent_lost")
            self._agent_moved(agent, now)
            return [AgentStateChanged(agent.id, agent.state.value, "disconnect_grace"), *out]
        if agent.presence is Presence.RONA:
            agent.rona_expired(now)
            return [AgentStateChanged(agent.id, agent.state.value, "rona_timeout"),
                    *self._agent_moved(agent, now)]  # fmt: skip
        return []
