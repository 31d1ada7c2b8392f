"""Routing configuration: typed, validated, and parsed from already-loaded TOML.

``parse_routing_config(data, source)`` does no I/O so the core stays sans-I/O;
``load_routing_config(path)`` is the convenience wrapper that reads the file with tomllib.
Every problem raises :class:`RoutingConfigError` naming the file and the dotted key.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agents import AgentPolicy, CapacityRule
from agents.capacity import DEFAULT_CAPACITY
from routing.errors import RoutingConfigError
from routing.hours import ALWAYS_OPEN_UTC, BusinessHours, parse_day_spec, parse_interval

STRATEGIES = frozenset(
    {"longest_idle", "least_occupied", "round_robin", "skill_best_match", "sticky"}
)
EXIT_ACTIONS = frozenset({"queue", "voicemail", "callback", "disconnect"})
CAPACITY_KEYS = frozenset(DEFAULT_CAPACITY)


@dataclass(frozen=True, slots=True)
class ExitAction:
    """Where a task goes when it cannot stay: another queue or out (voicemail…)."""

    action: str
    target: str | None = None


@dataclass(frozen=True, slots=True)
class WideningStep:
    """After ``after`` seconds of waiting, apply every non-empty field."""

    after: float
    lower_skills: Mapping[str, int] = field(default_factory=dict)  # skill -> new min level
    add_queue: str | None = None
    raise_priority: int = 0
    overflow: str | None = None  # move the task to this queue

    def describe(self) -> str:
        parts = []
        if self.lower_skills:
            parts.append("skills " + ",".join(f"{k}>={v}" for k, v in self.lower_skills.items()))
        if self.add_queue:
            parts.append(f"add queue {self.add_queue}")
        if self.raise_priority:
            parts.append(f"priority +{self.raise_priority}")
        if self.overflow:
            parts.append(f"overflow to {self.overflow}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    priority: int = 0
    skills: Mapping[str, int] = field(default_factory=dict)
    sl_percent: float = 80.0
    sl_seconds: float = 20.0
    hours: BusinessHours = ALWAYS_OPEN_UTC
    max_wait: float | None = None
    max_length: int | None = None
    strategy: str = "longest_idle"
    sticky_seconds: float = 0.0
    after_hours: ExitAction = ExitAction("voicemail")
    overflow: ExitAction = ExitAction("voicemail")
    widening: tuple[WideningStep, ...] = ()
    announce_every: float | None = None
    default_aht: float = 300.0


@dataclass(frozen=True, slots=True)
class Boosts:
    """Priority boosts from CRM facts carried on the task."""

    vip_tiers: Mapping[str, int] = field(default_factory=dict)
    repeat_contact_days: int = 7
    repeat_contact: int = 0
    open_complaint: int = 0


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    source: str
    queues: Mapping[str, QueueConfig]
    agents: AgentPolicy = field(default_factory=AgentPolicy)
    offer_timeout: float = 20.0
    short_abandon: float = 5.0
    skill_scan_limit: int = 50  # candidates skill_best_match compares before choosing
    boosts: Boosts = field(default_factory=Boosts)


class _Reader:
    """Typed access to one table with errors that name file and key."""

    def __init__(self, source: str, prefix: str, data: Any) -> None:
        self.source, self.prefix = source, prefix
        if not isinstance(data, Mapping):
            raise RoutingConfigError(source, prefix or "<root>", "must be a table")
        self.data: Mapping[str, Any] = data

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, problem: str) -> RoutingConfigError:
        return RoutingConfigError(self.source, self.key(name), problem)

    def table(self, name: str) -> _Reader:
        return _Reader(self.source, self.key(name), self.data.get(name, {}))

    def number(self, name: str, default: float | None, *, minimum: float = 0.0) -> float | None:
        value = self.data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, f"must be a number, got {value!r}")
        if value < minimum:
            raise self.fail(name, f"must be >= {minimum}, got {value!r}")
        return float(value)

    def req_number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        value = self.number(name, default, minimum=minimum)
        assert value is not None
        return value

    def integer(self, name: str, default: int | None, *, minimum: int = 0) -> int | None:
        value = self.data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(name, f"must be an integer >= {minimum}, got {value!r}")
        return value

    def string(self, name: str, default: str | None, choices: frozenset[str] | None = None) -> Any:
        value = self.data.get(name, default)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(name, f"must be a string, got {value!r}")
        if choices is not None and value not in choices:
            raise self.fail(name, f"must be one of {sorted(choices)}, got {value!r}")
        return value

    def levels(self, name: str) -> dict[str, int]:
        table = self.table(name)
        out: dict[str, int] = {}
        for skill in table.data:
            level = table.integer(skill, None, minimum=0)
            assert level is not None
            out[str(skill)] = level
        return out

    def strings(self, name: str, default: list[str]) -> list[str]:
        value = self.data.get(name, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(name, f"must be a list of strings, got {value!r}")
        return list(value)


def _calendar(r: _Reader) -> BusinessHours:
    tz_name = r.string("timezone", "UTC")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail("timezone", f"unknown time zone {tz_name!r}") from None
    days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    hours = r.table("hours")
    if not hours.data:
        days = [[(0, 1440)] for _ in range(7)]
    for spec, value in hours.data.items():
        texts = value if isinstance(value, list) else [value]
        try:
            indexes = parse_day_spec(str(spec))
            intervals = [parse_interval(str(t)) for t in texts]
        except ValueError as exc:
            raise hours.fail(str(spec), str(exc) or "bad day or interval") from None
        for i in indexes:
            days[i].extend(intervals)
    holidays: set[dt.date] = set()
    for text in r.strings("holidays", []):
        try:
            holidays.add(dt.date.fromisoformat(text))
        except ValueError:
            raise r.fail("holidays", f"bad date {text!r} (want YYYY-MM-DD)") from None
    return BusinessHours(tz, tuple(tuple(sorted(d)) for d in days), frozenset(holidays))


def _exit(r: _Reader, name: str, queues: Mapping[str, Any]) -> ExitAction:
    t = r.table(name)
    action = t.string("action", "voicemail", EXIT_ACTIONS)
    target = t.string("target", None)
    if action == "queue" and target not in queues:
        raise t.fail("target", f"must name a configured queue, got {target!r}")
    return ExitAction(action, target if action == "queue" else None)


def _widening(r: _Reader, index: int, raw: Any, queues: Mapping[str, Any]) -> WideningStep:
    step = _Reader(r.source, f"{r.key('widening')}[{index}]", raw)
    for name in ("add_queue", "overflow"):
        target = step.string(name, None)
        if target is not None and target not in queues:
            raise step.fail(name, f"must name a configured queue, got {target!r}")
    result = WideningStep(
        after=step.req_number("after", 0.0),
        lower_skills=step.levels("lower_skills"),
        add_queue=step.string("add_queue", None),
        raise_priority=step.integer("raise_priority", 0) or 0,
        overflow=step.string("overflow", None),
    )
    if not result.describe():
        raise step.fail("after", "step changes nothing (set lower_skills/add_queue/...)")
    return result


def _queue(r: _Reader, name: str, defaults: _Reader, calendars: Mapping[str, BusinessHours],
           queues: Mapping[str, Any]) -> QueueConfig:  # fmt: skip
    q = r.table(name)
    sl = q.table("service_level")
    cal_name = q.string("calendar", None)
    if cal_name is not None and cal_name not in calendars:
        raise q.fail("calendar", f"unknown calendar {cal_name!r}")
    raw_steps = q.data.get("widening", [])
    if not isinstance(raw_steps, list):
        raise q.fail("widening", "must be an array of tables")
    steps = [_widening(q, i, s, queues) for i, s in enumerate(raw_steps)]
    if [s.after for s in steps] != sorted(s.after for s in steps):
        raise q.fail("widening", "steps must be in increasing 'after' order")
    strategy = q.string("strategy", defaults.string("strategy", "longest_idle", STRATEGIES))
    if strategy not in STRATEGIES:
        raise q.fail("strategy", f"must be one of {sorted(STRATEGIES)}, got {strategy!r}")
    return QueueConfig(
        name=name,
        priority=q.integer("priority", 0, minimum=-1000) or 0,
        skills=q.levels("skills"),
        sl_percent=sl.req_number("percent", 80.0),
        sl_seconds=sl.req_number("seconds", 20.0),
        hours=calendars[cal_name] if cal_name else ALWAYS_OPEN_UTC,
        max_wait=q.number("max_wait", defaults.number("max_wait", None)),
        max_length=q.integer("max_length", defaults.integer("max_length", None)),
        strategy=strategy,
        sticky_seconds=q.req_number("sticky_seconds", defaults.req_number("sticky_seconds", 0.0)),
        after_hours=_exit(q, "after_hours", queues),
        overflow=_exit(q, "overflow", queues),
        widening=tuple(steps),
        announce_every=q.number("announce_every", defaults.number("announce_every", None)),
        default_aht=q.req_number("default_aht", defaults.req_number("default_aht", 300.0)),
    )


def _agent_policy(r: _Reader) -> AgentPolicy:
    cap = r.table("capacity")
    limits = dict(DEFAULT_CAPACITY)
    for key in cap.data:
        if key not in CAPACITY_KEYS:
            raise cap.fail(str(key), f"unknown capacity channel (use {sorted(CAPACITY_KEYS)})")
        limits[str(key)] = cap.integer(str(key), None) or 0
    reasons = r.strings("not_ready_reasons", ["break", "lunch"])
    rona = r.number("rona_ready_after", None)
    exclusive = r.data.get("voice_exclusive", True)
    if not isinstance(exclusive, bool):
        raise r.fail("voice_exclusive", f"must be true or false, got {exclusive!r}")
    return AgentPolicy(
        capacity=CapacityRule(limits, exclusive),
        not_ready_reasons=frozenset(reasons),
        wrap_up_timeout=r.req_number("wrap_up_timeout", 60.0),
        disconnect_grace=r.req_number("disconnect_grace", 30.0),
        rona_ready_after=rona or None,
    )


def parse_routing_config(data: Mapping[str, Any], source: str) -> RoutingConfig:
    """Validate already-parsed TOML; raises RoutingConfigError naming ``source`` and key."""
    root = _Reader(source, "", data)
    routing = root.table("routing")
    cal_table = root.table("calendars")
    calendars = {str(n): _calendar(cal_table.table(str(n))) for n in cal_table.data}
    queue_table = root.table("queues")
    if not queue_table.data:
        raise root.fail("queues", "at least one queue must be configured")
    queues = {
        str(n): _queue(queue_table, str(n), routing, calendars, queue_table.data)
        for n in queue_table.data
    }
    boosts = root.table("boosts")
    tiers = boosts.table("vip_tiers")
    return RoutingConfig(
        source=source,
        queues=queues,
        agents=_agent_policy(root.table("agents")),
        offer_timeout=routing.req_number("offer_timeout", 20.0, minimum=1.0),
        short_abandon=routing.req_number("short_abandon", 5.0),
        skill_scan_limit=routing.integer("skill_scan_limit", 50, minimum=1) or 50,
        boosts=Boosts(
            vip_tiers={str(t): tiers.integer(str(t), 0) or 0 for t in tiers.data},
            repeat_contact_days=boosts.integer("repeat_contact_days", 7) or 0,
            repeat_contact=boosts.integer("repeat_contact", 0) or 0,
            open_complaint=boosts.integer("open_complaint", 0) or 0,
        ),
    )


def load_routing_config(path: str | Path) -> RoutingConfig:
    """Read and parse a routing TOML file (the only I/O in the package)."""
    source = str(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise RoutingConfigError(source, "<syntax>", str(exc)) from None
    except OSError as exc:
        raise RoutingConfigError(source, "<file>", exc.strerror or str(exc)) from None
    return parse_routing_config(data, source)
