"""A simulated contact-centre day through the routing engine.

Poisson arrivals whose rate follows a day curve (morning and afternoon peaks), exponential
handle times and exponential caller patience (abandons), agents who take breaks and lunch,
a few rejected offers (RONA). Prints per-queue service level, ASA and abandon rate, and the
error of the engine's estimated wait time (EWT, made when a task had to queue) against the
wait that followed, next to the naive "queue length x AHT / agents" estimate in the same run.

    .venv/bin/python -m bench.routing_day [--quick] [--seed N]
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents import AgentProfile
from ccserver.domain import Channel
from routing import Offer, RoutingEngine, Task, parse_routing_config

DAY_START = 1_767_225_600.0  # 2026-01-01 00:00 UTC; the calendar below is always open
AHT = {Channel.VOICE: 240.0, Channel.CHAT: 420.0}
PATIENCE = {Channel.VOICE: 240.0, Channel.CHAT: 900.0}
MIX = [
    ("general", Channel.VOICE, 0.5),
    ("billing", Channel.VOICE, 0.3),
    ("chat", Channel.CHAT, 0.2),
]

CONFIG: dict[str, Any] = {
    "routing": {"offer_timeout": 15, "short_abandon": 5, "default_aht": 240},
    "agents": {
        "wrap_up_timeout": 30,
        "not_ready_reasons": ["break", "lunch"],
        "capacity": {"voice": 1, "chat": 3, "email": 5},
    },
    "queues": {
        "general": {"service_level": {"percent": 80, "seconds": 20}},
        "billing": {
            "skills": {"billing": 2},
            "service_level": {"percent": 80, "seconds": 30},
            "widening": [{"after": 60, "lower_skills": {"billing": 1}}],
        },
        "chat": {"service_level": {"percent": 80, "seconds": 60}, "default_aht": 420},
    },
}


def rate_per_hour(hour: float, peak: float) -> float:
    """Two peaks (10:00 and 14:30) over a base load, open 08:00-20:00."""
    if not 8 <= hour < 20:
        return 0.0
    return peak * (
        0.35 + 0.65 * math.exp(-((hour - 10) ** 2) / 2) + 0.5 * math.exp(-((hour - 14.5) ** 2) / 3)
    )


@dataclass
class Outcome:
    queue: str
    arrived: float
    ewt: float | None = None  # engine estimate, when the task had to wait
    naive: float | None = None
    offered: float | None = None
    abandoned: bool = False
    methods: set[str] = field(default_factory=set)


def simulate(agents: int, peak: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    engine = RoutingEngine(parse_routing_config(CONFIG, "routing_day"))
    events: list[tuple[float, int, str, tuple[Any, ...]]] = []
    seq = itertools.count()

    def at(t: float, kind: str, *data: Any) -> None:
        heapq.heappush(events, (t, next(seq), kind, data))

    for i in range(agents):  # staggered shifts with a break and a lunch each
        chat = i % 3 == 0
        queues = {"general", "chat"} if chat else {"general", "billing"}
        skills = {"billing": 2 if i % 2 else 1}
        start = DAY_START + 3600 * (7.75 + (i % 4) * 0.5)
        at(start, "login", AgentProfile(f"a{i}", skills=skills, queues=frozenset(queues)))
        at(start + 3600 * rng.uniform(1.5, 2.5), "not_ready", f"a{i}", "break", 900.0)
        at(start + 3600 * rng.uniform(3.5, 4.5), "not_ready", f"a{i}", "lunch", 2700.0)
        at(DAY_START + 3600 * 20.25, "leave", f"a{i}")  # everyone stays until close
    t = DAY_START + 8 * 3600
    n = 0
    while t < DAY_START + 20 * 3600:  # thinning of a non-homogeneous Poisson process
        t += rng.expovariate(peak * 1.5 / 3600)
        if rng.random() < rate_per_hour((t - DAY_START) / 3600, peak) / (peak * 1.5):
            n += 1
            queue, channel = rng.choices([(q, c) for q, c, _ in MIX], [w for *_, w in MIX])[0]
            at(t, "arrive", f"t{n}", queue, channel)

    outcomes: dict[str, Outcome] = {}
    channel_of: dict[str, Channel] = {}

    def apply(decisions: list[Any], now: float) -> None:
        for d in decisions:
            if isinstance(d, Offer):
                o = outcomes[d.task_id]
                if o.offered is None:
                    o.offered = now
                if rng.random() < 0.01:
                    at(now + 5, "reject", d.task_id, d.agent_id)
                else:
                    at(now + rng.uniform(1, 4), "accept", d.task_id, d.agent_id)

    now = DAY_START
    while events:
        nxt = engine.next_timer_at()
        if nxt is not None and nxt < events[0][0]:
            now = nxt
            apply(engine.tick(now), now)
            continue
        now, _, kind, data = heapq.heappop(events)
        apply(engine.tick(now), now)
        if kind == "arrive":
            tid, queue, channel = data
            channel_of[tid] = channel
            waiting_before = engine.queue_stats(queue, now)
            o = outcomes[tid] = Outcome(queue, now)
            apply(engine.submit(Task(tid, channel, queue, now), now), now)
            estimate = engine.position_and_ewt(tid, now)
            if estimate.method != "offered":
                o.ewt, o.methods = estimate.ewt, {estimate.method}
                aht = waiting_before.last_1h.aht or CONFIG["queues"][queue].get("default_aht", 240)
                staffed = max(1, waiting_before.agents_staffed)
                o.naive = waiting_before.waiting * aht / staffed
            at(now + rng.expovariate(1 / PATIENCE[channel]), "abandon", tid)
        elif kind == "abandon":
            state = _state(engine, data[0])
            if state is not None and state[0] in ("waiting", "sticky", "offered"):
                apply(engine.cancel(data[0], now), now)
                outcomes[data[0]].abandoned = True
        elif kind == "accept":
            tid, aid = data
            if _state(engine, tid) == ("offered", aid):
                engine.accept(tid, aid, now)
                at(now + rng.expovariate(1 / AHT[channel_of[tid]]), "end", tid, aid)
        elif kind == "reject":
            tid, aid = data
            if _state(engine, tid) == ("offered", aid):
                apply(engine.reject(tid, aid, now), now)
                at(now + 20, "ready", aid)
        elif kind == "end":
            tid, aid = data
            engine.end(tid, aid, now)
            at(now + rng.uniform(5, 40), "wrap", tid, aid)
        elif kind == "wrap":
            tid, aid = data
            if _state(engine, tid) == ("wrap_up", aid):
                apply(engine.complete(tid, aid, now), now)
        elif kind == "login":
            apply(engine.agent_login(data[0], now, ready=True), now)
        elif kind == "not_ready":
            aid, reason, length = data
            if engine.snapshot()["agents"][aid]["presence"] in ("ready", "rona"):
                apply(engine.agent_not_ready(aid, reason, now), now)
                at(now + length, "ready", aid)
        elif kind == "ready":
            if engine.snapshot()["agents"][data[0]]["presence"] in ("not_ready", "rona"):
                apply(engine.agent_ready(data[0], now), now)
        elif kind == "leave":
            aid = data[0]
            if engine.snapshot()["agents"][aid]["presence"] == "ready":
                apply(engine.agent_not_ready(aid, "break", now), now)  # finishes current work
    return report(engine, outcomes, now)


def _state(engine: RoutingEngine, tid: str) -> tuple[str, str | None] | None:
    t = engine.snapshot(tasks=True)["tasks"].get(tid)
    return (t["state"], t["agent_id"]) if t else None


def report(engine: RoutingEngine, outcomes: dict[str, Outcome], now: float) -> dict[str, Any]:
    result: dict[str, Any] = {"queues": {}}
    for q in CONFIG["queues"]:
        today = engine.queue_stats(q, now - 1).today
        result["queues"][q] = {
            "offered": today.offered,
            "answered": today.answered,
            "abandoned": today.abandoned,
            "short_abandoned": today.short_abandoned,
            "service_level": round(today.service_level or 0.0, 3),
            "asa_s": round(today.asa or 0.0, 1),
            "aht_s": round(today.aht or 0.0, 1),
            "abandon_rate": round(today.abandoned / max(1, today.offered), 3),
            "longest_wait_s": round(today.longest_wait, 1),
        }
    waited: list[tuple[Outcome, float]] = [
        (o, o.offered - o.arrived)
        for o in outcomes.values()
        if o.ewt is not None and o.offered is not None
    ]
    engine_err = [abs(o.ewt - actual) for o, actual in waited if o.ewt is not None]
    naive_err = [abs(o.naive - actual) for o, actual in waited if o.naive is not None]
    methods: dict[str, int] = {}
    for o, _ in waited:
        for m in o.methods:
            methods[m] = methods.get(m, 0) + 1
    result["ewt"] = {
        "tasks_that_queued_and_were_offered": len(waited),
        "mean_actual_wait_s": round(sum(a for _, a in waited) / max(1, len(waited)), 1),
        "engine_mae_s": round(sum(engine_err) / max(1, len(engine_err)), 1),
        "naive_mae_s": round(sum(naive_err) / max(1, len(naive_err)), 1),
        "methods": methods,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small centre (12 agents)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    agents, peak = (12, 130.0) if args.quick else (40, 480.0)
    result = simulate(agents, peak, args.seed)
    result.update({"agents": agents, "peak_calls_per_hour": peak, "seed": args.seed})
    for q, s in result["queues"].items():
        print(f"{q:>8}: " + ", ".join(f"{k}={v}" for k, v in s.items()))
    print("     ewt: " + ", ".join(f"{k}={v}" for k, v in result["ewt"].items()))
    out = Path(__file__).parent / "results" / "routing_day.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
