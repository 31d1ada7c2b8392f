"""Hypothesis stateful test: random days of arrivals, cancels, agent moves and timers.

After every step the engine must satisfy the routing invariants: no task lost or
duplicated, no task offered to two agents, no agent over capacity, no task waiting while a
qualified ready agent has room for it, and FIFO within equal priority for every offer.
"""

from __future__ import annotations

import copy
from typing import Any

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from agents import AgentBusy, AgentProfile, CapacityRule
from ccserver.domain import Channel
from routing import (
    Decision,
    Offer,
    Overflow,
    RoutingEngine,
    Task,
    WorkDropped,
    parse_routing_config,
)

CONFIG: dict[str, Any] = {
    "routing": {"offer_timeout": 20},
    "agents": {
        "capacity": {"voice": 1, "chat": 2, "email": 2},
        "wrap_up_timeout": 25,
        "disconnect_grace": 15,
        "rona_ready_after": 30,
        "not_ready_reasons": ["break"],
    },
    "boosts": {"vip_tiers": {"gold": 5}},
    "queues": {
        "general": {"strategy": "longest_idle"},
        "orders": {
            "skills": {"orders": 1},
            "strategy": "round_robin",
            "widening": [{"after": 40, "add_queue": "general", "lower_skills": {"orders": 0}}],
        },
        "billing": {
            "skills": {"billing": 2},
            "strategy": "least_occupied",
            "widening": [{"after": 30, "lower_skills": {"billing": 1}}],
        },
        "tech": {
            "strategy": "skill_best_match",
            "max_wait": 90,
            "overflow": {"action": "queue", "target": "general"},
        },
        "vip": {"strategy": "sticky", "sticky_seconds": 15, "priority": 2},
    },
}
QUEUES = sorted(CONFIG["queues"])
AGENT_IDS = ["a0", "a1", "a2"]
CHANNELS = [Channel.VOICE, Channel.CHAT, Channel.EMAIL, Channel.CALLBACK]
LIMITS = CONFIG["agents"]["capacity"]

profiles = st.builds(
    lambda queues, orders, billing, lang, blended: (queues, orders, billing, lang, blended),
    st.sets(st.sampled_from(QUEUES), min_size=1, max_size=3),
    st.integers(0, 2),
    st.integers(0, 3),
    st.integers(0, 2),
    st.booleans(),
)


def can_take(load: dict[str, int], key: str, exclusive: bool) -> bool:
    if load.get(key, 0) >= LIMITS[key]:
        return False
    if exclusive:
        if key == "voice":
            return all(n == 0 for k, n in load.items() if k != "voice")
        return load.get("voice", 0) == 0
    return True


class RoutingDay(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = RoutingEngine(parse_routing_config(CONFIG, "stateful.toml"))
        self.now = 0.0
        self.n = 0
        self.live: set[str] = set()  # tasks the engine must still know
        self.ended: set[str] = set()  # in wrap-up: may vanish when the timer fires
        self.exclusive: dict[str, bool] = {}
        self.last: list[Decision] = []
        self.last_from_tick = False

    # --- helpers ------------------------------------------------------------------------
    def apply(self, decisions: list[Decision], *, tick: bool = False) -> None:
        self.last, self.last_from_tick = decisions, tick
        for d in decisions:
            if isinstance(d, Overflow) and d.action != "queue":
                self.live.discard(d.task_id)
            if isinstance(d, WorkDropped):
                self.live.discard(d.task_id)
                self.ended.discard(d.task_id)

    def snap(self) -> dict[str, Any]:
        return self.engine.snapshot(tasks=True)

    def tasks_in(self, *states: str) -> list[str]:
        return sorted(t for t, v in self.snap()["tasks"].items() if v["state"] in states)

    # --- rules --------------------------------------------------------------------------
    @rule(
        queue=st.sampled_from(QUEUES),
        channel=st.sampled_from(CHANNELS),
        priority=st.sampled_from([0, 0, 0, 1]),
        lang=st.sampled_from([0, 0, 1, 2]),
        gold=st.sampled_from([False, False, False, True]),
        preferred=st.sampled_from([None, *AGENT_IDS]),
    )
    def submit(self, queue: str, channel: Channel, priority: int, lang: int, gold: bool,
               preferred: str | None) -> None:  # fmt: skip
        self.n += 1
        tid = f"t{self.n}"
        task = Task(
            tid, channel, queue, self.now, priority=priority,
            skills={"lang.ja": lang} if lang else {}, customer_tier="gold" if gold else None,
            preferred_agent_id=preferred,
        )  # fmt: skip
        self.live.add(tid)
        self.apply(self.engine.submit(task, self.now))

    @rule(queue=st.sampled_from(QUEUES), channel=st.sampled_from(CHANNELS))
    def submit_plain(self, queue: str, channel: Channel) -> None:
        """Extra plain arrivals, so queues build up and ordering is exercised."""
        self.submit(queue, channel, 0, 0, False, None)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        candidates = self.tasks_in("waiting", "sticky", "offered")
        if candidates:
            tid = data.draw(st.sampled_from(candidates))
            self.live.discard(tid)
            self.apply(self.engine.cancel(tid, self.now))

    @rule(aid=st.sampled_from(AGENT_IDS), profile=profiles, ready=st.booleans())
    def login(self, aid: str, profile: tuple[Any, ...], ready: bool) -> None:
        agents = self.snap()["agents"]
        if aid in agents and agents[aid]["state"] != "logged_out":
            return
        queues, orders, billing, lang, blended = profile
        self.exclusive[aid] = not blended
        cap = CapacityRule(LIMITS, voice_exclusive=not blended)
        skills = {"orders": orders, "billing": billing, "lang.ja": lang}
        p = AgentProfile(aid, skills=skills, queues=frozenset(queues), capacity=cap)
        self.apply(self.engine.agent_login(p, self.now, ready=ready))

    @rule(data=st.data(), profile=profiles)
    def change_skills(self, data: st.DataObject, profile: tuple[Any, ...]) -> None:
        agents = self.snap()["agents"]
        ids = sorted(a for a, v in agents.items() if v["presence"] != "logged_out")
        if not ids:
            return
        aid = data.draw(st.sampled_from(ids))
        queues, orders, billing, lang, _ = profile
        cap = CapacityRule(LIMITS, voice_exclusive=self.exclusive[aid])
        skills = {"orders": orders, "billing": billing, "lang.ja": lang}
        p = AgentProfile(aid, skills=skills, queues=frozenset(queues), capacity=cap)
        self.apply(self.engine.agent_changed(p, self.now))

    @rule(strategy=st.sampled_from(["longest_idle", "round_robin", "least_occupied"]))
    def reload(self, strategy: str) -> None:
        data = copy.deepcopy(CONFIG)
        data["queues"]["general"]["strategy"] = strategy
        self.apply(self.engine.reload(parse_routing_config(data, "reload.toml")))

    @rule(data=st.data(), ready=st.booleans())
    def presence(self, data: st.DataObject, ready: bool) -> None:
        agents = self.snap()["agents"]
        ids = [a for a, v in agents.items() if v["presence"] in ("ready", "not_ready", "rona")]
        if not ids:
            return
        aid = data.draw(st.sampled_from(sorted(ids)))
        if ready and agents[aid]["presence"] != "ready":
            self.apply(self.engine.agent_ready(aid, self.now))
        elif not ready:
            self.apply(self.engine.agent_not_ready(aid, "break", self.now))

    @rule(data=st.data())
    def logout(self, data: st.DataObject) -> None:
        agents = self.snap()["agents"]
        ids = sorted(a for a, v in agents.items() if v["presence"] != "logged_out")
        if not ids:
            return
        aid = data.draw(st.sampled_from(ids))
        busy = "busy" in agents[aid]["work"].values()
        try:
            decisions = self.engine.agent_logout(aid, self.now)
        except AgentBusy:
            assert busy
            return
        assert not busy
        for tid, phase in agents[aid]["work"].items():
            if phase == "wrap_up":
                self.live.discard(tid)
                self.ended.discard(tid)
        self.apply(decisions)

    @rule(data=st.data(), back=st.booleans())
    def connection(self, data: st.DataObject, back: bool) -> None:
        agents = self.snap()["agents"]
        want = "disconnected" if back else None
        ids = sorted(
            a for a, v in agents.items()
            if (v["presence"] == want if back else v["presence"] in ("ready", "not_ready", "rona"))
        )  # fmt: skip
        if ids:
            aid = data.draw(st.sampled_from(ids))
            call = self.engine.agent_reconnected if back else self.engine.agent_disconnected
            self.apply(call(aid, self.now))

    @rule(data=st.data(), take=st.booleans())
    def answer(self, data: st.DataObject, take: bool) -> None:
        offered = self.tasks_in("offered")
        if offered:
            tid = data.draw(st.sampled_from(offered))
            aid = self.snap()["tasks"][tid]["agent_id"]
            call = self.engine.accept if take else self.engine.reject
            self.apply(call(tid, aid, self.now))

    @rule(data=st.data(), finish=st.booleans())
    def hang_up(self, data: st.DataObject, finish: bool) -> None:
        held = self.tasks_in("connected", "wrap_up")
        if held:
            tid = data.draw(st.sampled_from(held))
            aid = self.snap()["tasks"][tid]["agent_id"]
            if finish:
                self.live.discard(tid)
                self.ended.discard(tid)
                self.apply(self.engine.complete(tid, aid, self.now))
            elif self.snap()["tasks"][tid]["state"] == "connected":
                self.ended.add(tid)
                self.apply(self.engine.end(tid, aid, self.now))

    @rule(dt=st.sampled_from([0.5, 5.0, 14.0, 20.0, 31.0]))
    def tick(self, dt: float) -> None:
        self.now += dt
        self.apply(self.engine.tick(self.now), tick=True)

    # --- invariants ---------------------------------------------------------------------
    @invariant()
    def no_task_lost_or_invented(self) -> None:
        known = set(self.snap()["tasks"])
        vanished = self.live - known
        assert vanished <= self.ended, f"lost {vanished - self.ended}"
        self.live -= vanished
        self.ended -= vanished
        assert known <= self.live, f"unknown tasks {known - self.live}"

    @invariant()
    def each_held_task_is_held_by_exactly_its_agent(self) -> None:
        snap = self.snap()
        holders: dict[str, list[str]] = {}
        for aid, a in snap["agents"].items():
            for tid in a["work"]:
                holders.setdefault(tid, []).append(aid)
        phase = {"offered": "reserved", "connected": "busy", "wrap_up": "wrap_up"}
        for tid, t in snap["tasks"].items():
            if t["state"] in phase:
                assert holders.get(tid) == [t["agent_id"]]
                assert snap["agents"][t["agent_id"]]["work"][tid] == phase[t["state"]]
            else:
                assert tid not in holders
        assert set(holders) <= set(snap["tasks"])

    @invariant()
    def no_agent_over_capacity(self) -> None:
        for aid, a in self.snap()["agents"].items():
            load = a["load"]
            for key, n in load.items():
                assert n <= LIMITS[key]
            if self.exclusive.get(aid, True) and load.get("voice"):
                assert set(load) == {"voice"}

    def qualified(self, a: dict[str, Any], t: dict[str, Any]) -> bool:
        return bool(set(a["queues"]) & set(t["queues"])) and all(
            a["skills"].get(s, 0) >= lv for s, lv in t["skills"].items()
        )

    @invariant()
    def nobody_idles_while_a_task_waits(self) -> None:
        snap = self.snap()
        for tid, t in snap["tasks"].items():
            if t["state"] != "waiting":
                continue
            for aid, a in snap["agents"].items():
                if a["presence"] != "ready":
                    continue
                room = can_take(a["load"], t["capacity_key"], self.exclusive.get(aid, True))
                assert not (room and self.qualified(a, t)), f"{tid} waits while {aid} idles"

    @invariant()
    def offers_respect_fifo_within_priority(self) -> None:
        if self.last_from_tick:
            return  # widening in the same tick may qualify an agent after its offer
        snap = self.snap()
        for d in self.last:
            if not isinstance(d, Offer) or d.task_id not in snap["tasks"]:
                continue
            offered = snap["tasks"][d.task_id]
            agent = snap["agents"][d.agent_id]
            for tid, t in snap["tasks"].items():
                if t["state"] != "waiting" or t["capacity_key"] != offered["capacity_key"]:
                    continue
                if self.qualified(agent, t) and t["priority"] == offered["priority"]:
                    assert (t["arrived_at"], t["seq"]) > (offered["arrived_at"], offered["seq"]), (
                        f"{d.task_id} offered before older {tid}"
                    )

    @invariant()
    def positions_count_the_waiting_tasks_ahead(self) -> None:
        """Position (from the engine's sorted index) = 1 + tasks routable from the same
        queue with a smaller (priority, arrival, seq) key, counted from the snapshot."""
        tasks = self.snap()["tasks"]

        def key(t: dict[str, Any]) -> tuple[int, float, int]:
            return (-t["priority"], t["arrived_at"], t["seq"])

        for tid, t in tasks.items():
            if t["state"] not in ("waiting", "sticky"):
                continue
            ahead = sum(
                1
                for u in tasks.values()
                if u["state"] == "waiting" and t["queue"] in u["queues"] and key(u) < key(t)
            )
            assert self.engine.position_and_ewt(tid, self.now).position == ahead + 1, tid


RoutingDay.TestCase.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)
TestRoutingDay = RoutingDay.TestCase
