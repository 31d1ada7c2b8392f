"""A contact-centre day, one story per test, through the engine's public API."""

from __future__ import annotations

import copy
import datetime as dt

from routing_scenarios.helpers import BASE, agent, busy_agent, config, of_type, offers, task

from agents import AgentState
from ccserver.domain import Channel
from routing import (
    AfterHours,
    AgentTimeout,
    Announce,
    Offer,
    OfferRevoked,
    Overflow,
    QueueFull,
    Requeue,
    RoutingEngine,
    Widened,
    parse_routing_config,
)


def test_first_call_of_the_day_goes_straight_to_the_ready_agent() -> None:
    engine = RoutingEngine(config())
    assert engine.agent_login(agent("alice"), 0.0, ready=True) == []
    decisions = engine.submit(task("c1", at=5.0), 5.0)
    assert decisions == [
        Offer("c1", "alice", "general", Channel.VOICE, expires_at=25.0, attempt=1, waited=0.0)
    ]
    engine.accept("c1", "alice", 8.0)
    assert engine.snapshot()["agents"]["alice"]["state"] == "busy"


def test_vip_jumps_the_queue() -> None:
    engine = RoutingEngine(config())
    busy_agent(engine, "alice", "filler", 0.0)
    engine.submit(task("regular", at=10.0), 10.0)
    engine.submit(task("vip", at=20.0, customer_tier="gold"), 20.0)
    assert engine.position_and_ewt("vip", 21.0).position == 1
    assert engine.position_and_ewt("regular", 21.0).position == 2
    engine.end("filler", "alice", 30.0)
    assert offers(engine.complete("filler", "alice", 35.0)) == [("vip", "alice")]


def test_repeat_contact_and_open_complaint_boosts() -> None:
    engine = RoutingEngine(config())
    busy_agent(engine, "alice", "filler", 0.0)
    engine.submit(task("plain", at=1.0), 1.0)
    engine.submit(task("repeat", at=2.0, attributes={"repeat_contact_days": 30}), 2.0)  # too old
    engine.submit(task("complaint", at=3.0, attributes={"open_complaint": True}), 3.0)
    engine.submit(task("recent", at=4.0, attributes={"repeat_contact_days": 2}), 4.0)
    order = []
    for tid in ("filler", "complaint", "recent", "plain"):
        engine.end(tid, "alice", 10.0)
        (nxt,) = offers(engine.complete(tid, "alice", 10.0))
        order.append(nxt[0])
        engine.accept(nxt[0], "alice", 10.0)
    assert order == ["complaint", "recent", "plain", "repeat"]


def test_widening_after_60_seconds_lowers_the_skill_level() -> None:
    cfg = config(
        billing={
            "skills": {"billing": 2},
            "widening": [{"after": 60, "lower_skills": {"billing": 1}}],
        }
    )
    engine = RoutingEngine(cfg)
    engine.agent_login(agent("junior", "billing", skills={"billing": 1}), 0.0, ready=True)
    assert engine.submit(task("b1", "billing", at=0.0), 0.0) == []
    assert engine.tick(59.0) == []
    decisions = engine.tick(60.0)
    assert of_type(decisions, Widened) == [Widened("b1", "billing", 0, "skills billing>=1")]
    assert offers(decisions) == [("b1", "junior")]


def test_widening_adds_a_queue_then_overflows() -> None:
    cfg = config(
        orders={
            "skills": {"orders": 1},
            "widening": [
                {"after": 30, "add_queue": "general", "lower_skills": {"orders": 0}},
                {"after": 90, "overflow": "billing"},
            ],
        }
    )
    engine = RoutingEngine(cfg)
    busy_agent(engine, "gina", "filler", 0.0, "general")
    engine.submit(task("o1", "orders", at=0.0), 0.0)
    assert offers(engine.tick(30.0)) == []  # gina now qualifies but is busy
    engine.end("filler", "gina", 40.0)
    assert offers(engine.complete("filler", "gina", 40.0)) == [("o1", "gina")]
    engine.reject("o1", "gina", 41.0)  # back to waiting in orders + general
    decisions = engine.tick(90.0)
    assert of_type(decisions, Overflow) == [
        Overflow("o1", "orders", "queue", "billing", "widening")
    ]
    assert engine.position_and_ewt("o1", 91.0).queue == "billing"


def test_agent_on_two_queues_takes_the_older_call() -> None:
    engine = RoutingEngine(config())
    skills = {"orders": 1, "billing": 2}
    busy_agent(engine, "bob", "filler", 0.0, "orders", "billing", skills=skills)
    engine.submit(task("bill-new", "billing", at=50.0), 50.0)
    engine.submit(task("order-old", "orders", at=10.0), 10.0)
    engine.end("filler", "bob", 70.0)
    assert offers(engine.complete("filler", "bob", 70.0)) == [("order-old", "bob")]


def test_rona_puts_the_call_back_at_the_head() -> None:
    engine = RoutingEngine(config())
    busy_agent(engine, "alice", "filler", 0.0)
    engine.submit(task("first", at=1.0), 1.0)
    engine.submit(task("second", at=2.0), 2.0)
    engine.end("filler", "alice", 10.0)
    assert offers(engine.complete("filler", "alice", 10.0)) == [("first", "alice")]
    decisions = engine.tick(30.0)  # offer expires unanswered
    assert of_type(decisions, AgentTimeout) == [AgentTimeout("alice", "first")]
    assert of_type(decisions, Requeue) == [Requeue("first", "general", "offer_timeout")]
    assert engine.snapshot()["agents"]["alice"]["state"] == AgentState.RONA
    assert engine.position_and_ewt("first", 30.0).position == 1
    assert offers(engine.agent_login(agent("bert"), 31.0, ready=True)) == [("first", "bert")]
    assert offers(engine.agent_ready("alice", 32.0)) == [("second", "alice")]


def test_reject_goes_rona_and_next_agent_gets_it_at_once() -> None:
    engine = RoutingEngine(config())
    engine.agent_login(agent("a1"), 0.0, ready=True)
    engine.submit(task("t", at=1.0), 1.0)
    engine.agent_login(agent("a2"), 2.0, ready=True)
    decisions = engine.reject("t", "a1", 3.0)
    assert of_type(decisions, Requeue) == [Requeue("t", "general", "rejected")]
    assert [(o.task_id, o.agent_id, o.attempt) for o in of_type(decisions, Offer)] == [
        ("t", "a2", 2)
    ]


def test_caller_hangs_up_during_offer_and_agent_gets_the_next() -> None:
    engine = RoutingEngine(config())
    busy_agent(engine, "alice", "filler", 0.0)
    engine.submit(task("a", at=1.0), 1.0)
    engine.submit(task("b", at=2.0), 2.0)
    engine.end("filler", "alice", 5.0)
    engine.complete("filler", "alice", 5.0)
    decisions = engine.cancel("a", 6.0)
    assert of_type(decisions, OfferRevoked) == [OfferRevoked("a", "alice", "abandoned")]
    assert offers(decisions) == [("b", "alice")]


def test_chat_agent_takes_three_chats_and_voice_waits() -> None:
    engine = RoutingEngine(config())
    for i in range(4):
        engine.submit(task(f"chat{i}", at=float(i), channel=Channel.CHAT), float(i))
    engine.submit(task("call", at=10.0), 10.0)
    decisions = engine.agent_login(agent("carol"), 20.0, ready=True)
    assert offers(decisions) == [("chat0", "carol"), ("chat1", "carol"), ("chat2", "carol")]
    snap = engine.snapshot()["agents"]["carol"]
    assert snap["load"] == {"chat": 3} and snap["occupancy"] == 1.0
    for i in range(3):
        engine.accept(f"chat{i}", "carol", 21.0)
    engine.complete("chat0", "carol", 30.0)
    # a free chat slot, but voice is exclusive: the older chat3 comes next, the call waits
    assert offers(engine.tick(30.0)) == []
    assert engine.position_and_ewt("call", 30.0).position == 1
    assert engine.snapshot(tasks=True)["tasks"]["chat3"]["agent_id"] == "carol"


def test_wrap_up_times_out_and_agent_is_fed() -> None:
    engine = RoutingEngine(config())
    busy_agent(engine, "alice", "c1", 0.0)
    engine.submit(task("c2", at=5.0), 5.0)
    engine.end("c1", "alice", 10.0)
    assert engine.tick(39.0) == []
    decisions = engine.tick(40.0)
    assert offers(decisions) == [("c2", "alice")]
    stats = engine.queue_stats("general", 40.0)
    assert stats.last_15m.handled == 1 and stats.last_15m.aht == 40.0


def test_not_ready_during_call_then_back() -> None:
    engine = RoutingEngine(config())
    busy_agent(engine, "alice", "c1", 0.0)
    engine.submit(task("c2", at=1.0), 1.0)
    engine.agent_not_ready("alice", "lunch", 2.0)
    engine.end("c1", "alice", 3.0)
    assert engine.complete("c1", "alice", 4.0) == []
    assert engine.snapshot()["agents"]["alice"]["state"] == "not_ready"
    assert offers(engine.agent_ready("alice", 64.0)) == [("c2", "alice")]


def test_sticky_customer_waits_for_their_agent_then_anyone() -> None:
    engine = RoutingEngine(config(complaints={"strategy": "sticky", "sticky_seconds": 30}))
    busy_agent(engine, "owner", "filler", 0.0, "complaints")
    engine.agent_login(agent("other", "complaints"), 0.0, ready=True)
    assert engine.submit(task("k1", "complaints", at=1.0, preferred_agent_id="owner"), 1.0) == []
    engine.end("filler", "owner", 10.0)
    assert offers(engine.complete("filler", "owner", 10.0)) == [("k1", "owner")]
    engine.accept("k1", "owner", 11.0)
    assert engine.submit(task("k2", "complaints", at=12.0, preferred_agent_id="owner"), 12.0) == []
    assert offers(engine.tick(42.0)) == [("k2", "other")]


def test_after_hours_and_holidays_send_to_voicemail() -> None:
    data = copy.deepcopy(BASE)
    data["calendars"] = {
        "office": {
            "timezone": "Asia/Tokyo",
            "hours": {"mon-fri": "09:00-18:00"},
            "holidays": ["2026-11-23"],
        }
    }
    data["queues"]["desk"] = {"calendar": "office", "after_hours": {"action": "voicemail"}}
    engine = RoutingEngine(parse_routing_config(data, "t.toml"))
    tokyo = dt.timezone(dt.timedelta(hours=9))
    tuesday_10am = dt.datetime(2026, 11, 24, 10, 0, tzinfo=tokyo).timestamp()
    tuesday_7pm = dt.datetime(2026, 11, 24, 19, 0, tzinfo=tokyo).timestamp()
    holiday_10am = dt.datetime(2026, 11, 23, 10, 0, tzinfo=tokyo).timestamp()
    assert engine.submit(task("in", "desk", at=tuesday_10am), tuesday_10am) == []
    assert engine.submit(task("late", "desk", at=tuesday_7pm), tuesday_7pm) == [
        AfterHours("late", "desk", "voicemail", None)
    ]
    assert of_type(engine.submit(task("hol", "desk", at=holiday_10am), holiday_10am), AfterHours)


def test_full_queue_overflows_to_another_queue() -> None:
    engine = RoutingEngine(
        config(small={"max_length": 1, "overflow": {"action": "queue", "target": "general"}})
    )
    engine.submit(task("s1", "small", at=0.0), 0.0)
    decisions = engine.submit(task("s2", "small", at=1.0), 1.0)
    assert decisions == [QueueFull("s2", "small", "queue", "general")]
    assert engine.position_and_ewt("s2", 1.0).queue == "general"
    assert engine.queue_stats("small", 1.0).waiting == 1


def test_max_wait_sends_to_callback_and_counts_overflow() -> None:
    engine = RoutingEngine(config(slow={"max_wait": 120, "overflow": {"action": "callback"}}))
    engine.submit(task("w", "slow", at=0.0), 0.0)
    assert engine.tick(119.0) == []
    assert engine.tick(120.0) == [Overflow("w", "slow", "callback", None, "max_wait")]
    assert engine.queue_stats("slow", 121.0).last_15m.overflowed == 1
    assert engine.snapshot(tasks=True)["tasks"] == {}


def test_announcements_give_position_and_wait() -> None:
    engine = RoutingEngine(config(ann={"announce_every": 30}))
    engine.agent_login(agent("x", "ann"), 0.0, ready=False)
    engine.agent_ready("x", 0.0)
    engine.submit(task("t0", "ann", at=0.0), 0.0)  # offered to x
    engine.accept("t0", "x", 0.0)
    engine.submit(task("t1", "ann", at=1.0), 1.0)
    engine.submit(task("t2", "ann", at=2.0), 2.0)
    decisions = engine.tick(32.0)
    ann = of_type(decisions, Announce)
    assert [(a.task_id, a.position) for a in ann] == [("t1", 1), ("t2", 2)]
    assert ann[0].ewt == 120.0 and ann[1].ewt == 240.0  # default AHT 120 s, one agent


def test_language_caller_and_plain_caller_are_served_in_arrival_order() -> None:
    for first, second in (("ja", "plain"), ("plain", "ja")):
        engine = RoutingEngine(config())
        busy_agent(engine, "yuki", "filler", 0.0, skills={"lang.ja": 2})
        for i, kind in enumerate((first, second), start=1):
            skills = {"lang.ja": 1} if kind == "ja" else {}
            engine.submit(task(kind, at=float(i), skills=skills), float(i))
        engine.end("filler", "yuki", 10.0)
        assert offers(engine.complete("filler", "yuki", 10.0)) == [(first, "yuki")]


def test_two_full_queues_redirecting_to_each_other_end_in_voicemail() -> None:
    engine = RoutingEngine(
        config(
            a={"max_length": 1, "overflow": {"action": "queue", "target": "b"}},
            b={"max_length": 1, "overflow": {"action": "queue", "target": "a"}},
        )
    )
    engine.submit(task("a1", "a", at=0.0), 0.0)
    engine.submit(task("b1", "b", at=0.0), 0.0)
    assert engine.submit(task("x", "a", at=1.0), 1.0) == [
        QueueFull("x", "a", "queue", "b"),
        QueueFull("x", "b", "queue", "a"),
        Overflow("x", "b", "voicemail", None, "redirect_loop"),
    ]
    assert "x" not in engine.snapshot(tasks=True)["tasks"]
