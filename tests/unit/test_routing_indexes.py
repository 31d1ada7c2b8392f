"""The engine's speed-up indexes must never change who gets what.

Each test builds the situation where a stale index would give a wrong answer: an agent's
cached candidate heaps built before a new kind of task (a new heap) appeared, an agent's
cached open capacity keys across every change of presence, load or profile.
"""

from __future__ import annotations

from routing_scenarios.helpers import agent, busy_agent, config, offers, task

from agents import Agent, AgentPolicy, AgentProfile, CapacityRule
from ccserver.domain import Channel
from routing import RoutingEngine


def test_agent_gets_a_task_whose_kind_appeared_after_its_cache_was_built() -> None:
    engine = RoutingEngine(config())
    # a is busy on a call; its candidate cache is built at login (voice, no skills)
    busy_agent(engine, "a", "filler", 0.0, "general", skills={"lang.ja": 2})
    # new signatures in the queue while a is busy: chat needing lang.ja, email needing
    # lang.th (which a lacks) -> two new heaps, only one of which a qualifies for
    assert engine.submit(task("ja", at=1.0, channel=Channel.CHAT, skills={"lang.ja": 1}), 1.0) == []
    assert (
        engine.submit(task("th", at=0.5, channel=Channel.EMAIL, skills={"lang.th": 1}), 1.0) == []
    )
    assert offers(engine.complete("filler", "a", 2.0)) == [("ja", "a")]


def test_new_heap_in_a_second_queue_reaches_agents_of_that_queue_only() -> None:
    engine = RoutingEngine(config())
    busy_agent(engine, "a", "f1", 0.0, "general", "orders", skills={"orders": 1})
    busy_agent(engine, "b", "f2", 0.0, "general")
    engine.submit(task("o1", "orders", at=1.0, channel=Channel.EMAIL), 1.0)
    engine.submit(task("g1", "general", at=2.0, channel=Channel.EMAIL), 2.0)
    assert offers(engine.complete("f2", "b", 3.0)) == [("g1", "b")]
    assert offers(engine.complete("f1", "a", 3.0)) == [("o1", "a")]


def test_profile_change_rebuilds_candidates() -> None:
    engine = RoutingEngine(config())
    busy_agent(engine, "a", "f", 0.0, "general")
    engine.submit(task("bill", "billing", at=1.0), 1.0)
    engine.submit(task("gen", "general", at=2.0), 2.0)
    engine.agent_changed(agent("a", "general", "billing", skills={"billing": 2}), 2.5)
    assert offers(engine.complete("f", "a", 3.0)) == [("bill", "a")]  # older, now served


def test_open_keys_follow_load_presence_and_profile() -> None:
    a = Agent(AgentProfile("a"), AgentPolicy(), 0.0)
    assert a.open_keys() == []
    a.login(0.0)
    assert a.open_keys() == []  # not ready yet
    a.go_ready(1.0)
    assert sorted(a.open_keys()) == ["chat", "email", "voice"]
    a.reserve("c1", "chat", 2.0, 22.0)
    assert sorted(a.open_keys()) == ["chat", "email"]  # voice is exclusive
    a.accept("c1", 3.0)
    a.reserve("c2", "chat", 3.0, 23.0)
    a.reserve("c3", "chat", 3.0, 23.0)
    assert a.open_keys() == ["email"]
    a.revoke("c3", 4.0)
    assert sorted(a.open_keys()) == ["chat", "email"]
    a.profile = AgentProfile("a", capacity=CapacityRule({"chat": 2}, voice_exclusive=False))
    assert a.open_keys() == []  # new profile: two chats fill it, no email allowed
    a.policy = AgentPolicy(capacity=CapacityRule({"voice": 1}))
    assert a.open_keys() == []  # profile capacity still wins over the policy
    a.profile = AgentProfile("a")
    assert a.open_keys() == []  # policy: voice only, and chats are held
    a.go_not_ready("break", 5.0)
    assert a.open_keys() == []


def test_positions_follow_priority_arrival_cancels_and_offers() -> None:
    engine = RoutingEngine(config())
    for i in range(5):
        engine.submit(task(f"t{i}", at=float(i)), float(i))
    engine.submit(task("vip", at=9.0, customer_tier="gold"), 9.0)
    assert engine.position_and_ewt("vip", 9.0).position == 1  # boosted ahead of all
    assert engine.position_and_ewt("t4", 9.0).position == 6
    engine.cancel("t1", 10.0)
    assert engine.position_and_ewt("t4", 10.0).position == 5
    assert offers(engine.agent_login(agent("a"), 11.0, ready=True)) == [("vip", "a")]
    assert engine.position_and_ewt("t0", 11.0).position == 1
    assert engine.position_and_ewt("t4", 11.0).position == 4
    assert engine.position_and_ewt("vip", 11.0).method == "offered"


def test_timer_heap_fires_in_time_then_push_order_as_timers() -> None:
    from routing.timers import Timer, TimerHeap

    timers = TimerHeap()
    assert timers.next_at() is None
    timers.push(5.0, "wrap", "t2", 5.0)
    timers.push(3.0, "offer", "t1", 1)
    timers.push(5.0, "sticky", "t3", 5.0)  # same time: fires after t2 (pushed earlier)
    assert timers.next_at() == 3.0 and len(timers) == 3
    fired: list[Timer] = []
    for timer in timers.due(5.0):
        fired.append(timer)
        if timer.kind == "offer":
            timers.push(4.0, "announce", "t1", 3.0, 0)  # pushed while firing, already due
    assert [(t.at, t.kind, t.ident, t.token) for t in fired] == [
        (3.0, "offer", "t1", (1,)),
        (4.0, "announce", "t1", (3.0, 0)),
        (5.0, "wrap", "t2", (5.0,)),
        (5.0, "sticky", "t3", (5.0,)),
    ]
    assert all(isinstance(t, Timer) for t in fired) and len(timers) == 0
    timers.push(9.0, "presence", "a1", 9.0)
    assert list(timers.due(8.9)) == [] and timers.next_at() == 9.0


def test_cached_signature_agrees_with_signature_and_stays_bounded() -> None:
    from routing import waiting

    cases = [
        ("voice", {"b": 2, "a": 1}),
        ("voice", {"a": 1, "b": 2}),  # other dict order: same signature
        ("chat", {"a": 1, "b": 2}),
        ("voice", {"a": 0, "b": 2}),  # level 0 is no requirement
        ("email", {}),
    ]
    for _ in range(2):  # second round answers from the cache
        for key, skills in cases:
            assert waiting.cached_signature(key, skills) == waiting.signature(key, skills)
    assert waiting.cached_signature("voice", {"b": 2, "a": 1}) == ("voice", (("a", 1), ("b", 2)))
    for i in range(waiting._SIGNATURES_MAX + 10):
        waiting.cached_signature("voice", {f"s{i}": 1})
    assert len(waiting._SIGNATURES) <= waiting._SIGNATURES_MAX
