"""Per-channel capacity and the voice-exclusivity rule.

Capacity keys are the values of :data:`ccserver.domain.CAPACITY_CHANNEL` (``voice``,
``chat``, ``email``): callbacks use the voice capacity, web forms the email one. An item
counts against capacity from the moment it is reserved until its wrap-up ends, because an
agent writing notes after a call is not free for the next call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

VOICE = "voice"

DEFAULT_CAPACITY: Mapping[str, int] = MappingProxyType({"voice": 1, "chat": 3, "email": 5})


@dataclass(frozen=True, slots=True)
class CapacityRule:
    """How much of each kind of work one agent may hold at once."""

    limits: Mapping[str, int] = field(default_factory=lambda: DEFAULT_CAPACITY)
    # Voice blocks every other kind of work and vice versa: a caller should not wait
    # while the agent types in a chat. Blended desks switch this off.
    voice_exclusive: bool = True

    def can_take(self, load: Mapping[str, int], key: str) -> bool:
        """Would one more item of capacity ``key`` fit next to ``load``?"""
        if load.get(key, 0) >= self.limits.get(key, 0):
            return False
        if self.voice_exclusive:
            if key == VOICE:
                return all(n == 0 for k, n in load.items() if k != VOICE)
            return load.get(VOICE, 0) == 0
        return True

    def open_keys(self, load: Mapping[str, int]) -> list[str]:
        """Every capacity key with room for one more item (one pass; the router's hot path)."""
        limits = self.limits
        if self.voice_exclusive:
            other_work = False
            for k, n in load.items():  # a plain loop: any(<genexpr>) costs a frame
                if n and k != VOICE:
                    other_work = True
                    break
            if load.get(VOICE, 0):
                room = load[VOICE] < limits.get(VOICE, 0) and not other_work
                return [VOICE] if room else []
            return [
                k
                for k, limit in limits.items()
                if load.get(k, 0) < limit and not (k == VOICE and other_work)
            ]
        return [k for k, limit in limits.items() if load.get(k, 0) < limit]

    def occupancy(self, load: Mapping[str, int]) -> float:
        """Current load over capacity, 0.0 to 1.0: the busiest channel decides.

        With voice exclusivity, a live call makes the agent fully occupied.
        """
        if self.voice_exclusive and load.get(VOICE, 0) > 0:
            return 1.0
        best = 0.0
        for key, n in load.items():
            limit = self.limits.get(key, 0)
            if n and limit:
                best = max(best, n / limit)
        return min(best, 1.0)
