"""Supervisor alerts, evaluated from the wallboard state (pure: no I/O, time passed in).

Three conditions a floor supervisor acts on: a queue's service level (last 15 min) under its
target, a customer waiting longer than a limit, and an agent too long in one state (not
ready, wrap-up, RONA). Each alert fires once when its condition starts and re-arms when the
condition clears, so a screen is not flooded by the same fact twice a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AlertRules:
    long_wait_s: float = 60.0
    # Minimum answered+abandoned in the window before SL is judged (a 1-call sample says little).
    sl_min_sample: int = 5
    state_limits_s: Mapping[str, float] = field(
        default_factory=lambda: {"not_ready": 1800.0, "wrap_up": 300.0, "rona": 60.0}
    )


class AlertEvaluator:
    def __init__(self, rules: AlertRules, sl_targets: Mapping[str, float]) -> None:
        """``sl_targets``: queue → target share (0..1), e.g. 0.8 for "80 % in 20 s"."""
        self.rules = rules
        self.sl_targets = dict(sl_targets)
        self._active: set[str] = set()

    def evaluate(self, wallboard: Mapping[str, Any]) -> list[dict[str, Any]]:
        firing: dict[str, dict[str, Any]] = {}
        for q in wallboard.get("queues", []):
            name = q["queue"]
            window = q.get("last_15m") or {}
            sl = window.get("service_level")
            sample = int(window.get("answered", 0)) + int(window.get("abandoned", 0))
            target = self.sl_targets.get(name)
            if (
                sl is not None
                and target is not None
                and sample >= self.rules.sl_min_sample
                and sl < target
            ):
                firing[f"sl:{name}"] = {
                    "kind": "service_level",
                    "queue": name,
                    "value": round(sl, 3),
                    "target": target,
                    "message": f"{name}: service level {sl:.0%} is under the {target:.0%} target",
                }
            if q.get("waiting", 0) and q.get("oldest_wait", 0.0) > self.rules.long_wait_s:
                firing[f"wait:{name}"] = {
                    "kind": "long_wait",
                    "queue": name,
                    "waited_s": round(q["oldest_wait"]),
                    "message": f"{name}: a customer has waited {round(q['oldest_wait'])} s",
                }
        for a in wallboard.get("agents", []):
            limit = self.rules.state_limits_s.get(a.get("state", ""))
            if limit is not None and a.get("time_in_state", 0.0) > limit:
                firing[f"state:{a['id']}:{a['state']}"] = {
                    "kind": "agent_state",
                    "agent_id": a["id"],
                    "state": a["state"],
                    "seconds": round(a["time_in_state"]),
                    "message": f"{a.get('name', a['id'])} has been {a['state']} for "
                    f"{round(a['time_in_state'] / 60)} min",
                }
        new = [alert | {"key": key} for key, alert in firing.items() if key not in self._active]
        self._active = set(firing)
        return new
