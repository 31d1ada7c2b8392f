"""Engine API edges: typed errors, disconnects, logouts, strategies, snapshot."""

from __future__ import annotations

import pytest
from routing_scenarios.helpers import agent, busy_agent, config, of_type, offers, task

from agents import AgentBusy, UnknownReason
from ccserver.domain import Channel
from ccserver.errors import Conflict, NotFound
from routing import (
    AgentStateChanged,
    DuplicateAgent,
    DuplicateTask,
    NotConnected,
    NotOffered,
    OfferRevoked,
    Requeue,
    RoutingEngine,
    UnknownAgent,
    UnknownQueue,
    UnknownTask,
    WorkDropped,
)


def test_typed_errors_for_bad_calls() -> None:
    engine = RoutingEngine(config())
    with pytest.raises(UnknownQueue):
        engine.submit(task("x", "nowhere"), 0.0)
    engine.submit(task("t", at=0.0), 0.0)
    with pytest.raises(DuplicateTask):
        engine.submit(task("t", at=0.0), 0.0)
    with pytest.raises(UnknownTask) as info:
        engine.cancel("ghost", 0.0)
    assert isinstance(info.value, NotFound) and info.value.http_status == 404
    with pytest.raises(UnknownAgent):
        engine.agent_ready("nobody", 0.0)
    engine.agent_login(agent("a"), 0.0, ready=True)
    with pytest.raises(DuplicateAgent):
        engine.agent_login(agent("a"), 0.0)
    with pytest.raises(NotOffered) as offered:
        engine.accept("t", "b", 1.0)
    assert isinstance(offered.value, Conflict)
    with pytest.raises(NotConnected):
        engine.end("t", "a", 1.0)  # offered, not yet connected
    with pytest.raises(UnknownReason):
        engine.agent_not_ready("a", "nap", 1.0)
    engine.accept("t", "a", 1.0)
    with pytest.raises(NotOffered):
        engine.cancel("t", 2.0)  # answered: the conversation must be ended instead
    with pytest.raises(AgentBusy):
        engine.agent_logout("a", 2.0)


def test_disconnect_requeues_offers_and_grace_expiry_drops_live_work() -> None:
    engine = RoutingEngine(config())
    engine.agent_login(agent("a"), 0.0, ready=True)
    engine.submit(task("chat1", at=0.0, channel=Channel.CHAT), 0.0)
    engine.accept("chat1", "a", 1.0)
    engine.submit(task("chat2", at=2.0, channel=Channel.CHAT), 2.0)  # offered to a
    decisions = engine.agent_disconnected("a", 3.0)
    assert of_type(decisions, OfferRevoked) == [OfferRevoked("chat2", "a", "agent_disconnected")]
    assert of_type(decisions, Requeue) == [Requeue("chat2", "general", "agent_disconnected")]
    assert engine.snapshot()["agents"]["a"]["state"] == "disconnected"
    assert engine.tick(17.9) == []
    decisions = engine.tick(18.0)
    assert of_type(decisions, AgentStateChanged) == [
        AgentStateChanged("a", "logged_out", "disconnect_grace")
    ]
    assert of_type(decisions, WorkDropped) == [WorkDropped("chat1", "a")]
    assert set(engine.snapshot(tasks=True)["tasks"]) == {"chat2"}


def test_reconnect_within_grace_keeps_work_and_resumes_offers() -> None:
    engine = RoutingEngine(config())
    busy_agent(engine, "a", "call", 0.0)
    engine.agent_disconnected("a", 1.0)
    engine.agent_reconnected("a", 5.0)
    assert engine.tick(30.0) == []  # the grace timer is stale now
    engine.submit(task("next", at=31.0), 31.0)
    engine.complete("call", "a", 40.0)
    assert engine.snapshot(tasks=True)["tasks"]["next"]["agent_id"] == "a"


def test_logout_revokes_offers_and_completes_wrap_up() -> None:
    engine = RoutingEngine(config())
    engine.agent_login(agent("a"), 0.0, ready=True)
    engine.submit(task("e1", at=0.0, channel=Channel.EMAIL), 0.0)
    engine.accept("e1", "a", 0.0)
    engine.end("e1", "a", 10.0)
    engine.submit(task("e2", at=11.0, channel=Channel.EMAIL), 11.0)
    decisions = engine.agent_logout("a", 12.0)
    assert of_type(decisions, OfferRevoked) == [OfferRevoked("e2", "a", "agent_logged_out")]
    assert set(engine.snapshot(tasks=True)["tasks"]) == {"e2"}
    assert engine.queue_stats("general", 12.0).last_15m.handled == 1
    assert offers(engine.agent_login(agent("a"), 13.0, ready=True)) == [("e2", "a")]


def test_agent_changed_takes_effect_immediately() -> None:
    engine = RoutingEngine(config())
    engine.agent_login(agent("a", "general"), 0.0, ready=True)
    engine.submit(task("b", "billing", at=1.0), 1.0)
    new = agent("a", "general", "billing", skills={"billing": 2})
    assert offers(engine.agent_changed(new, 2.0)) == [("b", "a")]


def test_least_occupied_prefers_the_emptier_chat_agent() -> None:
    engine = RoutingEngine(config(chat={"strategy": "least_occupied"}))
    engine.agent_login(agent("one", "chat"), 0.0, ready=True)
    engine.agent_login(agent("two", "chat"), 1.0, ready=True)
    got = [offers(engine.submit(task(f"c{i}", "chat", at=2.0 + i, channel=Channel.CHAT), 2.0 + i))
           for i in range(4)]  # fmt: skip
    who = [o[0][1] for o in got]
    assert sorted(who[:2]) == ["one", "two"] and sorted(who[2:]) == ["one", "two"]


def test_skill_best_match_prefers_the_expert() -> None:
    engine = RoutingEngine(
        config(billing={"skills": {"billing": 1}, "strategy": "skill_best_match"})
    )
    engine.agent_login(agent("novice", "billing", skills={"billing": 1}), 0.0, ready=True)
    engine.agent_login(agent("expert", "billing", skills={"billing": 3}), 5.0, ready=True)
    assert offers(engine.submit(task("b", "billing", at=6.0), 6.0)) == [("b", "expert")]


def test_longest_idle_prefers_who_waited_longest() -> None:
    engine = RoutingEngine(config())
    engine.agent_login(agent("early"), 0.0, ready=True)
    engine.agent_login(agent("late"), 5.0, ready=True)
    assert offers(engine.submit(task("t", at=6.0), 6.0)) == [("t", "early")]


def test_snapshot_and_next_timer() -> None:
    engine = RoutingEngine(config())
    assert engine.next_timer_at() is None
    engine.agent_login(agent("a"), 0.0, ready=True)
    engine.submit(task("t", at=0.0), 0.0)
    assert engine.next_timer_at() == 20.0
    snap = engine.snapshot()
    assert snap["queues"]["general"] == {"waiting": 0}
    assert snap["agents"]["a"]["state"] == "reserved" and snap["agents"]["a"]["work"] == {
        "t": "reserved"
    }
    assert "tasks" not in snap


def test_agent_report_gives_time_per_state_and_reason() -> None:
    engine = RoutingEngine(config())
    engine.agent_login(agent("a"), 0.0, ready=True)
    engine.submit(task("t", at=10.0), 10.0)
    engine.accept("t", "a", 12.0)
    engine.end("t", "a", 100.0)
    engine.agent_not_ready("a", "lunch", 105.0)
    engine.complete("t", "a", 110.0)
    report = engine.agent_report("a", 200.0)
    assert report.state == "not_ready" and report.reason == "lunch"
    assert report.in_state_for == 90.0
    assert report.seconds_by_state == {
        "ready": 10.0, "reserved": 2.0, "busy": 88.0, "wrap_up": 10.0, "not_ready": 90.0
    }  # fmt: skip
    assert report.seconds_by_reason == {"lunch": 90.0}
    with pytest.raises(UnknownAgent):
        engine.agent_report("ghost", 0.0)


def test_relogin_with_other_queues_leaves_no_trace_in_the_old_queue() -> None:
    engine = RoutingEngine(config())
    engine.agent_login(agent("a", "general"), 0.0, ready=True)
    engine.agent_logout("a", 1.0)
    engine.agent_login(agent("a", "orders", skills={"orders": 1}), 2.0, ready=True)
    assert engine.queue_stats("general", 3.0).agents_staffed == 0
    assert engine.queue_stats("orders", 3.0).agents_staffed == 1
    assert engine.submit(task("g", at=4.0), 4.0) == []
