"""Builders shared by the routing tests: configs from dicts, tasks and agents by name."""

from __future__ import annotations

import copy
from typing import Any

from agents import AgentProfile
from ccserver.domain import Channel
from routing import Decision, Offer, RoutingConfig, RoutingEngine, Task, parse_routing_config

BASE: dict[str, Any] = {
    "routing": {"offer_timeout": 20, "short_abandon": 5, "default_aht": 120},
    "agents": {
        "capacity": {"voice": 1, "chat": 3, "email": 5},
        "wrap_up_timeout": 30,
        "disconnect_grace": 15,
        "not_ready_reasons": ["break", "lunch", "training"],
    },
    "boosts": {
        "vip_tiers": {"gold": 10},
        "repeat_contact_days": 7,
        "repeat_contact": 3,
        "open_complaint": 5,
    },
    "queues": {
        "general": {},
        "orders": {"skills": {"orders": 1}},
        "billing": {"skills": {"billing": 2}},
    },
}


def config(**queues: dict[str, Any]) -> RoutingConfig:
    data = copy.deepcopy(BASE)
    data["queues"].update(queues)
    return parse_routing_config(data, "test.toml")


def task(
    tid: str,
    queue: str = "general",
    at: float = 0.0,
    channel: Channel = Channel.VOICE,
    **kw: Any,
) -> Task:
    return Task(id=tid, channel=channel, queue=queue, arrived_at=at, **kw)


def agent(
    aid: str, *queues: str, skills: dict[str, int] | None = None, teams: tuple[str, ...] = ()
) -> AgentProfile:
    return AgentProfile(
        aid, skills=skills or {}, queues=frozenset(queues or ("general",)), teams=frozenset(teams)
    )


def offers(decisions: list[Decision]) -> list[tuple[str, str]]:
    return [(d.task_id, d.agent_id) for d in decisions if isinstance(d, Offer)]


def of_type(decisions: list[Decision], kind: type[Decision]) -> list[Any]:
    return [d for d in decisions if isinstance(d, kind)]


def busy_agent(
    engine: RoutingEngine,
    aid: str,
    tid: str,
    now: float,
    *queues: str,
    skills: dict[str, int] | None = None,
) -> None:
    """Log ``aid`` in and connect it to a filler call so it is not available."""
    engine.submit(task(tid, queues[0] if queues else "general", now), now)
    profile = agent(aid, *queues, skills=skills)
    assert offers(engine.agent_login(profile, now, ready=True)) == [(tid, aid)]
    engine.accept(tid, aid, now)
