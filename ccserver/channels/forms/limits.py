"""Per-client rate limits for the public endpoints (forms, chat starts).

A sliding window per key (the client IP), bounded in memory: the oldest keys are dropped
first when too many clients are tracked, so a spray of addresses cannot exhaust memory.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from ccserver.errors import RateLimited


class SlidingWindowLimiter:
    def __init__(self, max_hits: int, window_s: float, max_keys: int = 100_000) -> None:
        self.max_hits = max_hits
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str, now: float) -> None:
        """Count one request; raise :class:`RateLimited` (429) when over the limit."""
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        self._hits.move_to_end(key)
        while hits and now - hits[0] >= self.window_s:
            hits.popleft()
        if len(hits) >= self.max_hits:
            retry = max(1, int(self.window_s - (now - hits[0])) + 1)
            raise RateLimited(
                f"too many requests; try again in {retry} s", details={"retry_after_s": retry}
            )
        hits.append(now)
