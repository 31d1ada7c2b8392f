"""Login throttling per client IP and per user name (sliding window of failures)."""

from __future__ import annotations

from collections import deque

from ccserver.errors import RateLimited


class LoginThrottle:
    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def check(self, ip: str, username: str, now: float) -> None:
        """Raise RateLimited when either the IP or the user name has too many recent failures."""
        for key in (f"ip:{ip}", f"user:{username.lower()}"):
            q = self._recent(key, now)
            if len(q) >= self.max_failures:
                retry = max(1, int(q[0] + self.window_s - now) + 1)
                raise RateLimited(
                    "too many failed logins; try again later",
                    details={"retry_after": retry},
                )

    def failed(self, ip: str, username: str, now: float) -> None:
        for key in (f"ip:{ip}", f"user:{username.lower()}"):
            self._recent(key, now).append(now)

    def succeeded(self, username: str) -> None:
        self._failures.pop(f"user:{username.lower()}", None)

    def prune(self, now: float) -> None:
        for key in [k for k, q in self._failures.items() if not q or q[-1] <= now - self.window_s]:
            del self._failures[key]
