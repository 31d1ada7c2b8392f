"""A heap of timers with lazy cancellation.

Each timer carries a ``token``; the engine checks on expiry that the token still describes
the current situation (same offer version, same wrap-up deadline, same config generation)
and drops it silently otherwise. That avoids deleting from the middle of the heap.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from typing import NamedTuple


class Timer(NamedTuple):
    at: float
    seq: int
    kind: str  # offer | wrap | presence | widen | max_wait | announce | sticky
    ident: str  # task id or agent id
    token: tuple[float | int | str, ...]


_Entry = tuple[float, int, str, str, tuple[float | int | str, ...]]


class TimerHeap:
    def __init__(self) -> None:
        # Plain tuples in the heap (same fields and order as Timer): every decision pushes
        # a timer and most are cancelled lazily, so the NamedTuple is built only on firing.
        self._heap: list[_Entry] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, at: float, kind: str, ident: str, *token: float | int | str) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), kind, ident, token))

    def next_at(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> Iterator[Timer]:
        """Pop timers due at ``now`` in time order (including ones pushed while iterating)."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            yield Timer._make(heapq.heappop(heap))
