"""Queue statistics windows, service level rules, and the Erlang C estimator."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest
from routing_scenarios.helpers import agent, config, task

from routing import RoutingEngine, erlang_c, erlang_c_new_arrival_wait
from routing.estimate import erlang_b, position_wait
from routing.stats import Counters, QueueStats


def test_windows_keep_15_minutes_one_hour_and_today() -> None:
    tz = ZoneInfo("Asia/Tokyo")
    midnight = dt.datetime(2026, 3, 2, 0, 0, tzinfo=tz).timestamp()
    stats = QueueStats(sl_seconds=20, short_abandon=5, tz=tz)
    stats.answered(midnight - 120, wait=5)  # yesterday, local time
    stats.answered(midnight + 60, wait=10)
    stats.answered(midnight + 1200, wait=30)  # outside SL
    stats.abandoned(midnight + 1300, wait=3)  # short abandon: not in SL
    stats.abandoned(midnight + 1400, wait=50)
    now = midnight + 1500
    m15 = stats.window(now, 900)
    assert (m15.answered, m15.abandoned, m15.short_abandoned) == (1, 2, 1)
    assert m15.service_level == 0.0  # 0 in SL out of 1 answered + 1 real abandon
    h1 = stats.window(now, 3600)
    assert h1.answered == 3 and h1.asa == pytest.approx(15.0) and h1.longest_wait == 50
    today = stats.today(now)
    assert today.answered == 2 and today.service_level == pytest.approx(1 / 3)
    assert stats.today(midnight + 86400 + 10).answered == 0  # a new day starts empty


def test_empty_window_reports_none_not_zero() -> None:
    stats = QueueStats(20, 5, ZoneInfo("UTC"))
    w = stats.window(1000.0, 900)
    assert w.service_level is None and w.asa is None and w.aht is None and w.offered == 0


def test_engine_counts_offered_answered_abandoned_and_aht() -> None:
    engine = RoutingEngine(config())
    engine.agent_login(agent("a"), 0.0, ready=True)
    engine.submit(task("t1", at=0.0), 0.0)
    engine.accept("t1", "a", 4.0)
    engine.submit(task("t2", at=10.0), 10.0)
    engine.cancel("t2", 12.0)  # short abandon
    engine.submit(task("t3", at=20.0), 20.0)
    engine.cancel("t3", 60.0)
    engine.submit(task("t4", at=70.0), 70.0)
    engine.cancel("t4", 71.0, reason="callback_requested")  # not an abandon
    engine.complete("t1", "a", 104.0)
    s = engine.queue_stats("general", 110.0)
    w = s.last_15m
    assert (w.offered, w.answered, w.abandoned, w.short_abandoned) == (4, 1, 2, 1)
    assert w.asa == 4.0 and w.aht == 100.0 and w.longest_wait == 40.0
    assert w.service_level == 0.5
    assert s.agents_staffed == 1 and s.agents_available == 1 and s.waiting == 0


def test_erlang_b_and_c_known_values() -> None:
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(10, 8.0) == pytest.approx(0.409, abs=1e-3)  # textbook table
    assert erlang_c(2, 2.0) == 1.0 and erlang_c(3, 0.0) == 0.0


def test_new_arrival_wait_and_when_the_model_does_not_fit() -> None:
    wait = erlang_c_new_arrival_wait(1, arrival_rate=0.5 / 60, aht=60)
    assert wait == pytest.approx(60.0)  # M/M/1 Wq = rho/(mu - lambda)
    assert erlang_c_new_arrival_wait(2, arrival_rate=2 / 60, aht=60) is None


def test_position_wait_prefers_erlang_then_throughput() -> None:
    assert position_wait(2, servers=3, aht=90, offered_load=1.0, answer_rate=None) == (
        90.0,
        "erlang_c",
    )
    ewt, method = position_wait(2, servers=1, aht=90, offered_load=5.0, answer_rate=0.1)
    assert method == "throughput" and math.isclose(ewt or 0, 30.0)
    assert position_wait(0, servers=0, aht=None, offered_load=0, answer_rate=None) == (None, "none")


def test_counters_add_sums_every_field_and_keeps_the_longest_wait() -> None:
    names = [f.name for f in dataclasses.fields(Counters)]
    a = Counters(**{n: i + 1 for i, n in enumerate(names)})
    b = Counters(**{n: 100 * (i + 1) for i, n in enumerate(names)})
    a.add(b)
    for i, n in enumerate(names):
        want = 100 * (i + 1) if n == "longest_wait" else 101 * (i + 1)
        assert getattr(a, n) == want, n
