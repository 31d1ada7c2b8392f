"""Available-agent pools, one per (queue, capacity key), ordered by the queue's strategy.

An agent is a member of pool (q, k) exactly while it serves q and ``agent.can_take(k)``;
the engine keeps that true on every change. Picking an agent walks the pool in strategy
order and stops at the first one with the task's skills, so a decision touches only the
agents it has to look at (not every agent). ``skill_best_match`` compares a bounded number
of qualified candidates (``skill_scan_limit``) and takes the best score.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping

from agents import Agent

Qualifies = Callable[[Agent], bool]


def has_skills(agent: Agent, skills: Mapping[str, int]) -> bool:
    agent_skills = agent.profile.skills
    return all(agent_skills.get(name, 0) >= level for name, level in skills.items())


class Pool:
    """Longest-idle order: insertion order of a dict (O(1) add/remove/move-to-back)."""

    def __init__(self) -> None:
        self._order: dict[str, Agent] = {}

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._order

    def add(self, agent: Agent) -> None:
        self._order[agent.id] = agent

    def remove(self, agent_id: str) -> None:
        self._order.pop(agent_id, None)

    def assigned(self, agent: Agent) -> None:
        """The agent just got work but still has room: it has now idled least."""
        if agent.id in self._order:
            del self._order[agent.id]
            self._order[agent.id] = agent

    def load_changed(self, agent: Agent) -> None:
        """Load went down while the agent stayed a member (ordering unaffected here)."""

    def offered_from_here(self, agent: Agent) -> None:
        """The agent was just offered a task from this pool's queue (member or not)."""

    def pick(self, skills: Mapping[str, int], qualifies: Qualifies) -> Agent | None:
        for agent in self._order.values():
            if has_skills(agent, skills) and qualifies(agent):
                return agent
        return None


class LeastOccupiedPool(Pool):
    """Lowest occupancy first; longest idle within the same occupancy."""

    def __init__(self) -> None:
        super().__init__()
        self._buckets: dict[float, dict[str, Agent]] = {}
        self._level: dict[str, float] = {}

    def add(self, agent: Agent) -> None:
        super().add(agent)
        self._put(agent)

    def remove(self, agent_id: str) -> None:
        super().remove(agent_id)
        level = self._level.pop(agent_id, None)
        if level is not None:
            bucket = self._buckets[level]
            del bucket[agent_id]
            if not bucket:
                del self._buckets[level]

    def assigned(self, agent: Agent) -> None:
        if agent.id in self._order:
            self.remove(agent.id)
            self.add(agent)

    def load_changed(self, agent: Agent) -> None:
        self.assigned(agent)

    def _put(self, agent: Agent) -> None:
        level = round(agent.occupancy(), 6)
        self._level[agent.id] = level
        self._buckets.setdefault(level, {})[agent.id] = agent

    def pick(self, skills: Mapping[str, int], qualifies: Qualifies) -> Agent | None:
        for level in sorted(self._buckets):
            for agent in self._buckets[level].values():
                if has_skills(agent, skills) and qualifies(agent):
                    return agent
        return None


class RoundRobinPool(Pool):
    """The agent whose last offer from this queue is oldest goes next (lazy-deletion heap)."""

    _counter = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        self._heap: list[tuple[int, str]] = []
        self._turn: dict[str, int] = {}  # survives removal: an agent keeps its place in line

    def add(self, agent: Agent) -> None:
        super().add(agent)
        turn = self._turn.setdefault(agent.id, -1)
        heapq.heappush(self._heap, (turn, agent.id))

    def assigned(self, agent: Agent) -> None:
        """Turns move only on offers from this queue (see offered_from_here)."""

    def offered_from_here(self, agent: Agent) -> None:
        self._turn[agent.id] = next(self._counter)
        if agent.id in self._order:
            heapq.heappush(self._heap, (self._turn[agent.id], agent.id))

    def pick(self, skills: Mapping[str, int], qualifies: Qualifies) -> Agent | None:
        skipped: list[tuple[int, str]] = []
        found: Agent | None = None
        seen: set[str] = set()
        while self._heap:
            turn, agent_id = self._heap[0]
            agent = self._order.get(agent_id)
            if agent is None or self._turn.get(agent_id) != turn or agent_id in seen:
                heapq.heappop(self._heap)  # stale entry
                continue
            if has_skills(agent, skills) and qualifies(agent):
                found = agent
                break
            seen.add(agent_id)
            skipped.append(heapq.heappop(self._heap))
        for entry in skipped:
            heapq.heappush(self._heap, entry)
        return found


class SkillBestMatchPool(Pool):
    """Highest total level in the task's skills among the first N qualified (idle order)."""

    def __init__(self, scan_limit: int) -> None:
        super().__init__()
        self.scan_limit = scan_limit

    def pick(self, skills: Mapping[str, int], qualifies: Qualifies) -> Agent | None:
        best: Agent | None = None
        best_score = -1
        seen = 0
        for agent in self._order.values():
            if not (has_skills(agent, skills) and qualifies(agent)):
                continue
            score = sum(agent.profile.skills.get(name, 0) for name in skills)
            if score > best_score:
                best, best_score = agent, score
            seen += 1
            if seen >= self.scan_limit:
                break
        return best


def make_pool(strategy: str, scan_limit: int) -> Pool:
    if strategy == "least_occupied":
        return LeastOccupiedPool()
    if strategy == "round_robin":
        return RoundRobinPool()
    if strategy == "skill_best_match":
        return SkillBestMatchPool(scan_limit)
    return Pool()  # longest_idle, and sticky (longest idle after the sticky window)
