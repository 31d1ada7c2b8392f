"""Agent record: capacity, exclusivity, reasons, timers and time accounting."""

from __future__ import annotations

import pytest

from agents import (
    Agent,
    AgentBusy,
    AgentPolicy,
    AgentProfile,
    AgentState,
    CapacityExceeded,
    CapacityRule,
    IllegalAgentTransition,
    Presence,
    UnknownReason,
    UnknownWork,
)

POLICY = AgentPolicy(
    not_ready_reasons=frozenset({"break", "lunch", "training"}),
    wrap_up_timeout=30.0,
    disconnect_grace=15.0,
    rona_ready_after=60.0,
)


def state_of(agent: Agent) -> AgentState:
    """Read through a call so mypy does not narrow the state between steps."""
    return agent.state


def presence_of(agent: Agent) -> Presence:
    return agent.presence


def ready_agent(policy: AgentPolicy = POLICY, now: float = 0.0) -> Agent:
    agent = Agent(AgentProfile("a1", skills={"billing": 3}), policy, now)
    agent.login(now)
    agent.go_ready(now)
    return agent


def test_call_life_cycle_summary_and_capacity() -> None:
    a = ready_agent()
    assert state_of(a) is AgentState.READY and a.can_take("voice")
    a.reserve("t1", "voice", 1.0, expires_at=21.0)
    assert state_of(a) is AgentState.RESERVED and not a.can_take("voice")
    a.accept("t1", 2.0)
    assert state_of(a) is AgentState.BUSY and a.occupancy() == 1.0
    assert a.end("t1", 100.0) == 130.0
    assert state_of(a) is AgentState.WRAP_UP and not a.can_take("voice")  # wrap-up holds capacity
    a.finish_wrap_up("t1", 110.0)
    assert state_of(a) is AgentState.READY and a.can_take("voice") and a.occupancy() == 0.0
    states, _ = a.totals(110.0)
    assert states == {"ready": 1.0, "reserved": 1.0, "busy": 98.0, "wrap_up": 10.0}


def test_chat_capacity_three_then_refused() -> None:
    a = ready_agent()
    for i in range(3):
        a.reserve(f"c{i}", "chat", 0.0, 20.0)
    assert a.occupancy() == 1.0
    with pytest.raises(CapacityExceeded):
        a.reserve("c3", "chat", 0.0, 20.0)
    a.accept("c0", 1.0)
    assert state_of(a) is AgentState.BUSY
    a.reject("c1", 2.0)  # missed offer while chatting: presence rona, still busy
    assert presence_of(a) is Presence.RONA and state_of(a) is AgentState.BUSY
    assert not a.can_take("chat")


def test_voice_exclusive_both_ways_and_blended() -> None:
    a = ready_agent()
    a.reserve("v", "voice", 0.0, 20.0)
    assert not a.can_take("chat") and not a.can_take("email")
    a.revoke("v", 1.0)
    a.reserve("c", "chat", 1.0, 20.0)
    assert not a.can_take("voice") and a.can_take("email")
    blended = AgentPolicy(capacity=CapacityRule(voice_exclusive=False))
    b = ready_agent(blended)
    b.reserve("v", "voice", 0.0, 20.0)
    assert b.can_take("chat") and not b.can_take("voice")


def test_not_ready_during_call_takes_effect_after_wrap_up() -> None:
    a = ready_agent()
    a.reserve("t", "voice", 0.0, 20.0)
    a.accept("t", 0.0)
    a.go_not_ready("lunch", 10.0)
    assert state_of(a) is AgentState.BUSY and not a.can_take("chat")
    a.end("t", 20.0)
    a.finish_wrap_up("t", 25.0, timed_out=True)
    assert state_of(a) is AgentState.NOT_READY and a.reason == "lunch"
    a.go_ready(85.0)
    _, reasons = a.totals(90.0)
    assert reasons == {"lunch": 60.0}


def test_reason_totals_across_reason_changes() -> None:
    a = ready_agent()
    a.go_not_ready("break", 10.0)
    a.go_not_ready("training", 25.0)
    states, reasons = a.totals(100.0)
    assert reasons == {"break": 15.0, "training": 75.0}
    assert states["not_ready"] == 90.0 and states["ready"] == 10.0


def test_unknown_reason_rejected_and_state_unchanged() -> None:
    a = ready_agent()
    with pytest.raises(UnknownReason) as info:
        a.go_not_ready("nap", 1.0)
    assert info.value.details["reason"] == "nap"
    assert state_of(a) is AgentState.READY


def test_offer_timeout_goes_rona_with_auto_ready_deadline() -> None:
    a = ready_agent()
    a.reserve("t", "voice", 0.0, 20.0)
    a.offer_timeout("t", 20.0)
    assert state_of(a) is AgentState.RONA and a.presence_deadline == 80.0
    a.rona_expired(80.0)
    assert state_of(a) is AgentState.READY


def test_disconnect_reconnect_restores_ready_and_grace_logs_out() -> None:
    a = ready_agent()
    a.disconnect(5.0)
    assert state_of(a) is AgentState.DISCONNECTED and a.presence_deadline == 20.0
    a.reconnect(6.0)
    assert state_of(a) is AgentState.READY
    a.go_not_ready("break", 7.0)
    a.disconnect(8.0)
    a.reconnect(9.0)
    assert state_of(a) is AgentState.NOT_READY and a.reason == "break"
    with pytest.raises(CapacityExceeded):
        a.reserve("t", "voice", 9.0, 29.0)
    a.disconnect(10.0)
    assert a.grace_expired(25.0) == []
    assert state_of(a) is AgentState.LOGGED_OUT


def test_grace_expiry_drops_live_work() -> None:
    a = ready_agent()
    a.reserve("t", "voice", 0.0, 20.0)
    a.accept("t", 1.0)
    a.disconnect(2.0)
    assert a.grace_expired(17.0) == ["t"]
    assert a.work == {} and a.load["voice"] == 0


def test_logout_revokes_offers_but_refused_while_connected() -> None:
    a = ready_agent()
    a.reserve("c1", "chat", 0.0, 20.0)
    a.reserve("c2", "chat", 0.0, 20.0)
    a.accept("c2", 1.0)
    with pytest.raises(AgentBusy):
        a.logout(2.0)
    a.end("c2", 3.0)
    assert sorted(a.logout(4.0)) == ["c1", "c2"]
    assert state_of(a) is AgentState.LOGGED_OUT and a.load == {"chat": 0}


def test_stale_work_events_raise_typed_errors() -> None:
    a = ready_agent()
    with pytest.raises(UnknownWork):
        a.accept("nope", 0.0)
    a.reserve("t", "voice", 0.0, 20.0)
    a.accept("t", 1.0)
    with pytest.raises(IllegalAgentTransition):
        a.accept("t", 2.0)
    with pytest.raises(IllegalAgentTransition):
        a.go_ready(2.0)  # already ready (presence)


def test_duplicate_reservation_refused() -> None:
    a = ready_agent()
    a.reserve("t", "chat", 0.0, 20.0)
    with pytest.raises(CapacityExceeded):
        a.reserve("t", "chat", 0.0, 20.0)


@pytest.mark.parametrize("exclusive", [True, False])
def test_open_keys_agrees_with_can_take(exclusive: bool) -> None:
    rule = CapacityRule({"voice": 2, "chat": 2, "email": 1}, voice_exclusive=exclusive)
    for voice in range(3):
        for chat in range(3):
            for email in range(2):
                load = {"voice": voice, "chat": chat, "email": email}
                expected = [k for k in ("voice", "chat", "email") if rule.can_take(load, k)]
                assert rule.open_keys(load) == expected, load


def test_complete_from_connected_matches_end_then_finish() -> None:
    one, two = ready_agent(), ready_agent()
    for a in (one, two):
        a.reserve("t1", "chat", 1.0, expires_at=21.0)
        a.reserve("t2", "chat", 1.0, expires_at=21.0)
        a.accept("t1", 2.0)
    one.end("t1", 50.0)
    one.finish_wrap_up("t1", 50.0)
    two.complete("t1", 50.0)
    for a in (one, two):
        assert state_of(a) is AgentState.RESERVED  # t2 is still offered
        assert a.work.keys() == {"t2"} and a.load == {"chat": 1}
    assert one.totals(60.0) == two.totals(60.0)
    assert one.open_keys() == two.open_keys() == ["chat", "email"]


def test_complete_from_wrap_up_and_refusals() -> None:
    a = ready_agent()
    a.reserve("t1", "voice", 0.0, 20.0)
    with pytest.raises(IllegalAgentTransition):
        a.complete("t1", 1.0)  # only offered: nothing to complete
    assert state_of(a) is AgentState.RESERVED and a.load == {"voice": 1}
    a.accept("t1", 1.0)
    a.end("t1", 10.0)
    a.complete("t1", 15.0)
    assert state_of(a) is AgentState.READY and a.work == {} and a.can_take("voice")
    assert a.totals(15.0)[0] == {"ready": 0.0, "reserved": 1.0, "busy": 9.0, "wrap_up": 5.0}
    with pytest.raises(UnknownWork):
        a.complete("t1", 16.0)


def test_summary_state_tracks_work_through_random_moves() -> None:
    """Whatever the moves, the summary state equals summarise(presence, held phases)."""
    import random

    from agents import summarise

    rng = random.Random(11)
    blended = AgentPolicy(
        capacity=CapacityRule({"voice": 1, "chat": 3, "email": 2}, voice_exclusive=False),
        not_ready_reasons=frozenset({"break"}),
    )
    a = ready_agent(blended)
    n = 0
    for step in range(2_000):
        now = float(step)
        work = list(a.work.values())
        move = rng.randrange(6)
        try:
            if move == 0 and a.open_keys():
                n += 1
                a.reserve(f"t{n}", rng.choice(a.open_keys()), now, now + 20)
            elif move == 1 and work:
                item = rng.choice(work)
                getattr(a, rng.choice(("accept", "reject", "revoke", "end", "complete")))(
                    item.task_id, now
                )
            elif move == 2 and work:
                a.finish_wrap_up(rng.choice(work).task_id, now)
            elif move == 3:
                a.go_not_ready("break", now)
            elif move == 4:
                a.go_ready(now)
            elif move == 5 and rng.random() < 0.1:
                a.disconnect(now)
                a.reconnect(now)
        except IllegalAgentTransition:
            pass  # a random move the state forbids: refusing it is the machine's job
        phases = [w.phase for w in a.work.values()]
        assert state_of(a) is summarise(a.presence, phases), (step, phases)
