"""Back-off and retry policy objects in the style of redis-py (``redis.retry.Retry``).

Pure: they compute delays; the caller sleeps. ``Retry(backoff=ExponentialBackoff(cap=10,
base=0.1), retries=-1)`` retries forever with 0.1, 0.2, 0.4 ... capped at 10 s.
"""

from __future__ import annotations

import random
from typing import Protocol

__all__ = [
    "Backoff",
    "ConstantBackoff",
    "EqualJitterBackoff",
    "ExponentialBackoff",
    "NoBackoff",
    "Retry",
]


class Backoff(Protocol):
    def compute(self, failures: int) -> float:
        """Delay in seconds before the attempt following ``failures`` failures (>= 1)."""
        ...


class NoBackoff:
    def compute(self, failures: int) -> float:
        return 0.0


class ConstantBackoff:
    def __init__(self, delay: float) -> None:
        self.delay = delay

    def compute(self, failures: int) -> float:
        return self.delay


class ExponentialBackoff:
    def __init__(self, cap: float = 10.0, base: float = 0.1) -> None:
        self.cap = cap
        self.base = base

    def compute(self, failures: int) -> float:
        # Exponent clamped so huge failure counts cannot overflow the float.
        return float(min(self.cap, self.base * 2.0 ** min(max(failures - 1, 0), 60)))


class EqualJitterBackoff:
    """Half fixed, half random: spreads reconnect storms of many nodes."""

    def __init__(self, cap: float = 10.0, base: float = 0.1, rng: random.Random | None = None):
        self._exp = ExponentialBackoff(cap, base)
        self._rng = rng or random.Random()

    def compute(self, failures: int) -> float:
        delay = self._exp.compute(failures)
        return delay / 2 + self._rng.uniform(0, delay / 2)


class Retry:
    """How many attempts after the first failure (``retries=-1``: forever) and how long apart."""

    def __init__(self, backoff: Backoff | None = None, retries: int = -1) -> None:
        self.backoff: Backoff = backoff or ExponentialBackoff()
        self.retries = retries

    def allows(self, failures: int) -> bool:
        """May we try again after ``failures`` consecutive failures?"""
        return self.retries < 0 or failures <= self.retries

    def delay(self, failures: int) -> float:
        return self.backoff.compute(failures)
