"""Waiting tasks, indexed so an agent finds its next task without scanning the queue.

Per queue, tasks are split by *signature* — (capacity key, required skills) — and each
signature has a heap ordered by (-priority, arrival, seq). An agent looks only at the heads
of the signatures it can serve, in the queues it serves, and takes the smallest key: that
is the fair order across queues (priority first, then who waited longest).

Entries are never removed from the middle of a heap; an entry is stale when the task is no
longer waiting or its ``version`` moved on (re-prioritised, widened, offered), and stale
heads are popped lazily.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from routing.task import Task

Signature = tuple[str, tuple[tuple[str, int], ...]]
SortKey = tuple[int, float, int]


def signature(capacity_key: str, skills: Mapping[str, int]) -> Signature:
    return capacity_key, tuple(sorted((k, v) for k, v in skills.items() if v > 0))


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

    @property
    def key(self) -> SortKey:
        return (-self.priority, self.task.arrived_at, self.seq)

    @property
    def sig(self) -> Signature:
        return signature(self.capacity_key, self.skills)


HeapItem = tuple[SortKey, int, TaskEntry]  # (key, version, entry)


class QueueWaiting:
    """One queue's waiting tasks, heap per signature."""

    __slots__ = ("count", "heaps")

    def __init__(self) -> None:
        self.heaps: dict[Signature, list[HeapItem]] = {}
        self.count = 0  # live waiting entries whose home is this queue or added here

    def push(self, entry: TaskEntry) -> None:
        heap = self.heaps.setdefault(entry.sig, [])
        heapq.heappush(heap, (entry.key, entry.version, entry))

    def head(self, sig: Signature) -> TaskEntry | None:
        heap = self.heaps.get(sig)
        while heap:
            _, version, entry = heap[0]
            if entry.state == "waiting" and entry.version == version:
                return entry
            heapq.heappop(heap)
        if heap is not None and not heap:
            del self.heaps[sig]
        return None

    def live(self) -> Iterator[TaskEntry]:
        """Every waiting entry (O(size); for position, snapshots and tests)."""
        for heap in self.heaps.values():
            for _, version, entry in heap:
                if entry.state == "waiting" and entry.version == version:
                    yield entry
