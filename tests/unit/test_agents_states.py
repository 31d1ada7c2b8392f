"""Table tests: every (state, event) pair of both agent tables, legal and illegal."""

from __future__ import annotations

import itertools

import pytest

from agents import (
    PRESENCE_TRANSITIONS,
    WORK_TRANSITIONS,
    AgentState,
    IllegalAgentTransition,
    Presence,
    PresenceEvent,
    WorkEvent,
    WorkPhase,
    next_presence,
    next_work_phase,
    summarise,
)
from ccserver.errors import IllegalTransition

P, PE, W, WE = Presence, PresenceEvent, WorkPhase, WorkEvent

EXPECTED_PRESENCE = {
    (P.LOGGED_OUT, PE.LOGIN): P.NOT_READY,
    (P.NOT_READY, PE.GO_READY): P.READY,
    (P.NOT_READY, PE.GO_NOT_READY): P.NOT_READY,
    (P.NOT_READY, PE.OFFER_MISSED): P.NOT_READY,
    (P.NOT_READY, PE.DISCONNECT): P.DISCONNECTED,
    (P.NOT_READY, PE.LOGOUT): P.LOGGED_OUT,
    (P.READY, PE.GO_NOT_READY): P.NOT_READY,
    (P.READY, PE.OFFER_MISSED): P.RONA,
    (P.READY, PE.DISCONNECT): P.DISCONNECTED,
    (P.READY, PE.LOGOUT): P.LOGGED_OUT,
    (P.RONA, PE.GO_READY): P.READY,
    (P.RONA, PE.GO_NOT_READY): P.NOT_READY,
    (P.RONA, PE.OFFER_MISSED): P.RONA,
    (P.RONA, PE.RONA_EXPIRED): P.READY,
    (P.RONA, PE.DISCONNECT): P.DISCONNECTED,
    (P.RONA, PE.LOGOUT): P.LOGGED_OUT,
    (P.DISCONNECTED, PE.RECONNECT_READY): P.READY,
    (P.DISCONNECTED, PE.RECONNECT_NOT_READY): P.NOT_READY,
    (P.DISCONNECTED, PE.OFFER_MISSED): P.DISCONNECTED,
    (P.DISCONNECTED, PE.GRACE_EXPIRED): P.LOGGED_OUT,
    (P.DISCONNECTED, PE.LOGOUT): P.LOGGED_OUT,
}

EXPECTED_WORK = {
    (W.RESERVED, WE.ACCEPT): W.BUSY,
    (W.RESERVED, WE.REJECT): W.RELEASED,
    (W.RESERVED, WE.OFFER_TIMEOUT): W.RELEASED,
    (W.RESERVED, WE.REVOKE): W.RELEASED,
    (W.RESERVED, WE.DROP): W.RELEASED,
    (W.BUSY, WE.END): W.WRAP_UP,
    (W.BUSY, WE.DROP): W.DONE,
    (W.WRAP_UP, WE.WRAP_UP_DONE): W.DONE,
    (W.WRAP_UP, WE.WRAP_UP_TIMEOUT): W.DONE,
    (W.WRAP_UP, WE.DROP): W.DONE,
}


def test_tables_are_exactly_the_documented_ones() -> None:
    assert PRESENCE_TRANSITIONS == EXPECTED_PRESENCE
    assert WORK_TRANSITIONS == EXPECTED_WORK


@pytest.mark.parametrize(("state", "event"), list(itertools.product(P, PE)))
def test_every_presence_pair(state: Presence, event: PresenceEvent) -> None:
    expected = EXPECTED_PRESENCE.get((state, event))
    if expected is None:
        with pytest.raises(IllegalAgentTransition) as info:
            next_presence(state, event)
        assert isinstance(info.value, IllegalTransition)
        assert info.value.state == state.value and info.value.event == event.value
        assert info.value.machine == "agent_presence"
    else:
        assert next_presence(state, event) is expected


@pytest.mark.parametrize(("state", "event"), list(itertools.product(W, WE)))
def test_every_work_pair(state: WorkPhase, event: WorkEvent) -> None:
    expected = EXPECTED_WORK.get((state, event))
    if expected is None:
        with pytest.raises(IllegalAgentTransition) as info:
            next_work_phase(state, event)
        assert info.value.details == {
            "machine": "agent_work",
            "state": state.value,
            "event": event.value,
        }
    else:
        assert next_work_phase(state, event) is expected


def test_every_presence_state_has_an_exit() -> None:
    for state in P:
        exits = {to for (s, _), to in PRESENCE_TRANSITIONS.items() if s is state and to != s}
        assert exits, state


def test_every_live_work_phase_has_an_exit() -> None:
    for phase in (W.RESERVED, W.BUSY, W.WRAP_UP):
        assert any(s is phase for (s, _) in WORK_TRANSITIONS)


@pytest.mark.parametrize(
    ("presence", "phases", "expected"),
    [
        (P.READY, [], AgentState.READY),
        (P.READY, [W.RESERVED], AgentState.RESERVED),
        (P.READY, [W.RESERVED, W.BUSY], AgentState.BUSY),
        (P.NOT_READY, [W.WRAP_UP], AgentState.WRAP_UP),
        (P.NOT_READY, [W.WRAP_UP, W.RESERVED], AgentState.RESERVED),
        (P.RONA, [W.BUSY], AgentState.BUSY),
        (P.RONA, [], AgentState.RONA),
        (P.DISCONNECTED, [W.BUSY], AgentState.DISCONNECTED),
        (P.LOGGED_OUT, [], AgentState.LOGGED_OUT),
        (P.NOT_READY, [], AgentState.NOT_READY),
    ],
)
def test_summary(presence: Presence, phases: list[WorkPhase], expected: AgentState) -> None:
    assert summarise(presence, phases) is expected
