from __future__ import annotations

from typing import Any

from ccserver.runtime.alerts import AlertEvaluator, AlertRules


def board(
    sl: float | None = 0.9,
    answered: int = 10,
    waiting: int = 0,
    oldest: float = 0.0,
    agent_state: str = "ready",
    in_state: float = 5.0,
) -> dict[str, Any]:
    return {
        "queues": [
            {
                "queue": "support",
                "waiting": waiting,
                "oldest_wait": oldest,
                "last_15m": {"service_level": sl, "answered": answered, "abandoned": 0},
            }
        ],
        "agents": [{"id": "u1", "name": "Alice", "state": agent_state, "time_in_state": in_state}],
    }


def test_service_level_under_target_fires_once_then_rearms() -> None:
    ev = AlertEvaluator(AlertRules(), {"support": 0.8})
    assert ev.evaluate(board(sl=0.9)) == []
    first = ev.evaluate(board(sl=0.6))
    assert [a["kind"] for a in first] == ["service_level"]
    assert first[0]["value"] == 0.6 and "60%" in first[0]["message"]
    assert ev.evaluate(board(sl=0.55)) == []  # still under: no repeat
    assert ev.evaluate(board(sl=0.85)) == []  # cleared
    assert [a["kind"] for a in ev.evaluate(board(sl=0.7))] == ["service_level"]  # re-armed


def test_small_samples_do_not_judge_service_level() -> None:
    ev = AlertEvaluator(AlertRules(sl_min_sample=5), {"support": 0.8})
    assert ev.evaluate(board(sl=0.0, answered=2)) == []


def test_long_wait_and_agent_stuck_in_a_state() -> None:
    ev = AlertEvaluator(AlertRules(long_wait_s=60), {"support": 0.8})
    alerts = ev.evaluate(board(waiting=2, oldest=75, agent_state="wrap_up", in_state=301))
    kinds = sorted(a["kind"] for a in alerts)
    assert kinds == ["agent_state", "long_wait"]
    stuck = next(a for a in alerts if a["kind"] == "agent_state")
    assert stuck["agent_id"] == "u1" and stuck["state"] == "wrap_up"
    assert ev.evaluate(board(waiting=0, oldest=0, agent_state="ready", in_state=1)) == []
