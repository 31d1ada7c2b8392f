"""Waiting tasks, indexed so an agent finds its next task without scanning the queue.

Per queue, tasks are split by *signature* — (capacity key, required skills) — and each
signature has a heap ordered by (-priority, arrival, seq). An agent looks only at the heads
of the signatures it can serve, in the queues it serves, and takes the smallest key: that
is the fair order across queues (priority first, then who waited longest).

Entries are never removed from the middle of a heap; an entry is stale when the task is no
longer waiting or its ``version`` moved on (re-prioritised, widened, offered), and stale
heads are popped lazily.

For position announcements each queue also keeps the sorted keys of its live entries
(``order``): a position is one binary search instead of a walk over every heap. The list
is built on the first position asked in the queue and maintained from then on, so queues
nobody asks about (no announcements, no widget) pay nothing per decision.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from routing.task import Task

Skills = tuple[tuple[str, int], ...]
Signature = tuple[str, Skills]
SortKey = tuple[int, float, int]


def signature(capacity_key: str, skills: Mapping[str, int]) -> Signature:
    return capacity_key, tuple(sorted((k, v) for k, v in skills.items() if v > 0))


# Signatures already computed, by (capacity key, skills in their dict order): a site has
# few distinct requirement sets, and sorting them again cost more than the rest of a
# task's requirement setup. Bounded: cleared when full (only a cache, never stale).
_SIGNATURES: dict[tuple[str, tuple[tuple[str, int], ...]], Signature] = {}
_SIGNATURES_MAX = 4096


def cached_signature(capacity_key: str, skills: Mapping[str, int]) -> Signature:
    """Same answer as :func:`signature`, memoised."""
    k = (capacity_key, tuple(skills.items()))
    sig = _SIGNATURES.get(k)
    if sig is None:
        if len(_SIGNATURES) >= _SIGNATURES_MAX:
            _SIGNATURES.clear()
        sig = _SIGNATURES[k] = signature(capacity_key, skills)
    return sig


@dataclass(slots=True)
class TaskEntry:
    """The engine's mutable record of one task (waiting, offered or being handled)."""

    task: Task
    queue: str  # current home queue (changes on overflow)
    queues: list[str]  # home queue first, then queues added by widening
    skills: dict[str, int]  # effective requirement: queue's + task's, after widening
    priority: int  # effective, with boosts and widening
    capacity_key: str
    seq: int
    enqueued_at: float  # entered the current home queue (stats, widening, max wait)
    state: str = "waiting"  # waiting | sticky | offered | connected | wrap_up
    version: int = 0
    agent_id: str | None = None
    offer_expires: float | None = None
    attempts: int = 0
    widen_next: int = 0
    pending_overflow: tuple[str, str | None] | None = None  # due while offered
    sticky_agent: str | None = None
    sticky_until: float = 0.0
    answered_at: float | None = None

    key: SortKey = (0, 0.0, 0)  # set by rekey() whenever priority or skills change
    sig: Signature = ("", ())
    indexed_key: SortKey = (0, 0.0, 0)  # the key it has in its queues' ``order`` lists

    def rekey(self) -> None:
        self.key = (-self.priority, self.task.arrived_at, self.seq)
        self.sig = cached_signature(self.capacity_key, self.skills)


HeapItem = tuple[SortKey, int, TaskEntry]  # (key, version, entry)


def head(heap: list[HeapItem]) -> TaskEntry | None:
    """The first live entry of one heap, dropping stale ones on the way."""
    while heap:
        _, version, entry = heap[0]
        if entry.state == "waiting" and entry.version == version:
            return entry
        heapq.heappop(heap)
    return None


class QueueWaiting:
    """One queue's waiting tasks: capacity key -> required skills -> heap.

    Heaps are kept when empty so the set of heaps only grows; ``generation`` counts new
    heaps, which lets the engine cache, per agent, the heaps that agent qualifies for.
    """

    __slots__ = ("generation", "heaps", "order")

    def __init__(self) -> None:
        self.heaps: dict[str, dict[Skills, list[HeapItem]]] = {}
        self.generation = 0
        # keys of the live entries, sorted (keys are unique); None until a position is asked
        self.order: list[SortKey] | None = None

    def push(self, entry: TaskEntry) -> bool:
        """Index ``entry`` under its signature; True if that made a new heap."""
        capacity_key, skills = entry.sig
        by_skills = self.heaps.get(capacity_key)
        if by_skills is None:
            by_skills = self.heaps[capacity_key] = {}
        heap = by_skills.get(skills)
        created = heap is None
        if heap is None:
            heap = by_skills[skills] = []
            self.generation += 1
        heapq.heappush(heap, (entry.key, entry.version, entry))
        if self.order is not None:
            bisect.insort(self.order, entry.key)
        return created

    def discard(self, key: SortKey) -> None:
        """An entry pushed with ``key`` left waiting (absent keys are ignored)."""
        order = self.order
        if order is None:
            return
        i = bisect.bisect_left(order, key)
        if i < len(order) and order[i] == key:
            del order[i]

    def ahead_of(self, key: SortKey) -> int:
        """How many live entries come before ``key`` (O(log n); the first call builds the
        index in O(n log n))."""
        if self.order is None:
            self.order = sorted(e.indexed_key for e in self.live())
        return bisect.bisect_left(self.order, key)

    def live(self) -> Iterator[TaskEntry]:
        """Every waiting entry (O(size); for position, snapshots and tests)."""
        for by_skills in self.heaps.values():
            for heap in by_skills.values():
                for _, version, entry in heap:
                    if entry.state == "waiting" and entry.version == version:
                        yield entry
