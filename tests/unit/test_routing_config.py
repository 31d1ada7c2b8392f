"""Routing config: the shipped file parses; every mistake names file and key; reload is safe."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from routing_scenarios.helpers import BASE, agent, config, offers, task

from ccserver.errors import ConfigError
from routing import (
    RoutingConfigError,
    RoutingEngine,
    load_routing_config,
    parse_routing_config,
)

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_is_a_small_service_desk() -> None:
    cfg = load_routing_config(ROOT / "config" / "routing.toml")
    assert set(cfg.queues) == {"general", "orders", "billing", "complaints", "technical"}
    assert cfg.offer_timeout == 20
    assert dict(cfg.agents.capacity.limits) == {"voice": 1, "chat": 3, "email": 5}
    assert cfg.agents.not_ready_reasons >= {"break", "lunch", "training", "meeting", "coaching"}
    assert cfg.queues["complaints"].strategy == "sticky"
    assert cfg.queues["billing"].widening[0].lower_skills == {"billing": 1}
    assert cfg.queues["orders"].overflow.target == "general"
    assert str(cfg.queues["general"].hours.tz) == "Asia/Bangkok"


def mutate(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        ("queues.general.strategy", "random", "queues.general.strategy"),
        ("queues.general.priority", "high", "queues.general.priority"),
        ("queues.general.max_wait", -5, "queues.general.max_wait"),
        ("queues.general.calendar", "nope", "queues.general.calendar"),
        (
            "queues.general.overflow",
            {"action": "queue", "target": "ghost"},
            "queues.general.overflow.target",
        ),
        ("queues.general.after_hours", {"action": "dance"}, "queues.general.after_hours.action"),
        ("queues.general.skills", {"billing": "two"}, "queues.general.skills.billing"),
        (
            "queues.general.widening",
            [{"after": 10, "add_queue": "ghost"}],
            "queues.general.widening[0].add_queue",
        ),
        ("queues.general.widening", [{"after": 10}], "queues.general.widening[0].after"),
        (
            "queues.general.widening",
            [{"after": 60, "raise_priority": 1}, {"after": 30, "raise_priority": 1}],
            "queues.general.widening",
        ),
        ("agents.capacity", {"fax": 1}, "agents.capacity.fax"),
        ("agents.voice_exclusive", "yes", "agents.voice_exclusive"),
        ("agents.not_ready_reasons", "break", "agents.not_ready_reasons"),
        ("routing.offer_timeout", 0, "routing.offer_timeout"),
        ("calendars", {"c": {"timezone": "Mars/Olympus"}}, "calendars.c.timezone"),
        ("calendars", {"c": {"hours": {"funday": "09:00-17:00"}}}, "calendars.c.hours.funday"),
        ("calendars", {"c": {"hours": {"mon": "18:00-09:00"}}}, "calendars.c.hours.mon"),
        ("calendars", {"c": {"holidays": ["31/12/2026"]}}, "calendars.c.holidays"),
        ("queues", {}, "queues"),
    ],
)
def test_bad_values_name_file_and_key(path: str, value: Any, key: str) -> None:
    with pytest.raises(RoutingConfigError) as info:
        parse_routing_config(mutate(path, value), "conf/routing.toml")
    err = info.value
    assert isinstance(err, ConfigError)
    assert err.details == {"file": "conf/routing.toml", "key": key}
    assert str(err).startswith(f"conf/routing.toml: {key}: ")


def test_load_reports_syntax_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "r.toml"
    bad.write_text("[queues\n")
    with pytest.raises(RoutingConfigError) as info:
        load_routing_config(bad)
    assert info.value.details["file"] == str(bad)
    with pytest.raises(RoutingConfigError, match="<file>"):
        load_routing_config(tmp_path / "missing.toml")


def test_reload_with_a_bad_config_keeps_the_old_one() -> None:
    engine = RoutingEngine(config())
    with pytest.raises(RoutingConfigError):
        engine.reload_from(mutate("queues.general.strategy", "coin_flip"), "new.toml")
    assert engine.config.source == "test.toml"
    engine.agent_login(agent("a"), 0.0, ready=True)
    assert offers(engine.submit(task("t", at=1.0), 1.0)) == [("t", "a")]


def test_reload_refuses_to_drop_a_queue_in_use_and_names_it() -> None:
    engine = RoutingEngine(config(extra={}))
    engine.submit(task("t", "extra", at=0.0), 0.0)
    with pytest.raises(RoutingConfigError) as info:
        engine.reload(config())
    assert info.value.details == {"file": "test.toml", "key": "queues.extra"}
    assert engine.position_and_ewt("t", 1.0).queue == "extra"


def test_reload_applies_new_requirements_and_routes_at_once() -> None:
    engine = RoutingEngine(config())
    engine.agent_login(agent("a", "general", "billing", skills={"billing": 1}), 0.0, ready=True)
    assert engine.submit(task("b", "billing", at=1.0), 1.0) == []  # billing needs level 2
    decisions = engine.reload(config(billing={"skills": {"billing": 1}, "priority": 5}))
    assert offers(decisions) == [("b", "a")]
    assert engine.snapshot(tasks=True)["tasks"]["b"]["priority"] == 5


def second_offer(strategy: str, *, reload: bool) -> str:
    """x, y, z ready; x takes a call; y toggles not-ready; who gets the next call?"""
    engine = RoutingEngine(config(general={"strategy": "longest_idle" if reload else strategy}))
    if reload:
        engine.reload(config(general={"strategy": strategy}))
    for i, name in enumerate("xyz"):
        engine.agent_login(agent(name), float(i), ready=True)
    assert offers(engine.submit(task("t1", at=5.0), 5.0)) == [("t1", "x")]
    engine.accept("t1", "x", 6.0)
    engine.complete("t1", "x", 7.0)
    engine.agent_not_ready("y", "break", 8.0)
    engine.agent_ready("y", 9.0)
    ((_, who),) = offers(engine.submit(task("t2", at=10.0), 10.0))
    return who


def test_longest_idle_versus_round_robin_and_reload_switches_between_them() -> None:
    assert second_offer("longest_idle", reload=False) == "z"  # y's idle clock restarted
    assert second_offer("round_robin", reload=False) == "y"  # y keeps its turn
    assert second_offer("round_robin", reload=True) == "y"
