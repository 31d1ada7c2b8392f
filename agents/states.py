"""The agent's state machines, written as tables.

An agent may hold several interactions at once (three chats, five emails), so one flat
state per agent cannot say everything. The model therefore has two tables and one summary:

* **Presence** (one per agent): what the agent *is available for* — ``logged_out``,
  ``ready``, ``not_ready`` (with a reason), ``rona`` (an offer went unanswered) and
  ``disconnected`` (console gone; a grace timer runs). ``PRESENCE_TRANSITIONS``.
* **Work** (one per interaction the agent holds): ``reserved`` (offered, timer running) →
  ``busy`` (connected) → ``wrap_up`` (timer running) → ``done``; or ``reserved`` →
  ``released`` on reject / timeout / revoke. ``WORK_TRANSITIONS``.
* The **agent state** shown on wallboards and used in reports is :func:`summarise` of both:
  ``busy`` if any item is connected, else ``reserved`` if one is offered, else ``wrap_up``
  if one is in wrap-up, else the presence. ``logged_out``/``disconnected`` always show.

Consequences that a contact centre expects and that fall out of this design: an agent can
go not-ready *during* a call (the reason takes effect when the work is finished, i.e. the
summary moves from ``wrap_up`` to ``not_ready``); a missed chat offer while another chat is
live sets presence to ``rona`` so no new work arrives, yet the live chat continues.

Every state has an exit: ``reserved`` (offer timer), ``wrap_up`` (wrap-up timer),
``disconnected`` (grace timer), ``rona`` (optional auto-ready timer, or the agent's own
ready/not-ready/logout), ``ready``/``not_ready`` (agent events), ``busy`` (conversation end).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from agents.errors import IllegalAgentTransition


class AgentState(enum.StrEnum):
    """The summary state of an agent (wallboards, reports, time-in-state)."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    RESERVED = "reserved"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    RONA = "rona"
    DISCONNECTED = "disconnected"


class Presence(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    RONA = "rona"
    DISCONNECTED = "disconnected"


class PresenceEvent(enum.StrEnum):
    LOGIN = "login"
    GO_READY = "go_ready"
    GO_NOT_READY = "go_not_ready"
    OFFER_MISSED = "offer_missed"  # an offer was rejected or timed out
    RONA_EXPIRED = "rona_expired"  # optional auto-ready timer after a missed offer
    DISCONNECT = "disconnect"
    RECONNECT_READY = "reconnect_ready"  # back within grace; was ready before
    RECONNECT_NOT_READY = "reconnect_not_ready"  # back within grace; was not ready / rona
    GRACE_EXPIRED = "grace_expired"
    LOGOUT = "logout"


class WorkPhase(enum.StrEnum):
    RESERVED = "reserved"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    DONE = "done"
    RELEASED = "released"


class WorkEvent(enum.StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    OFFER_TIMEOUT = "offer_timeout"
    REVOKE = "revoke"  # the customer left, or the agent logged out, during the offer
    END = "end"  # conversation over: wrap-up starts
    WRAP_UP_DONE = "wrap_up_done"
    WRAP_UP_TIMEOUT = "wrap_up_timeout"
    DROP = "drop"  # agent lost for good (grace expired) while holding the item


_P = Presence
_PE = PresenceEvent

PRESENCE_TRANSITIONS: dict[tuple[Presence, PresenceEvent], Presence] = {
    (_P.LOGGED_OUT, _PE.LOGIN): _P.NOT_READY,
    (_P.NOT_READY, _PE.GO_READY): _P.READY,
    (_P.NOT_READY, _PE.GO_NOT_READY): _P.NOT_READY,  # change of reason
    (_P.NOT_READY, _PE.OFFER_MISSED): _P.NOT_READY,  # an older offer ran out; stays put
    (_P.NOT_READY, _PE.DISCONNECT): _P.DISCONNECTED,
    (_P.NOT_READY, _PE.LOGOUT): _P.LOGGED_OUT,
    (_P.READY, _PE.GO_NOT_READY): _P.NOT_READY,
    (_P.READY, _PE.OFFER_MISSED): _P.RONA,
    (_P.READY, _PE.DISCONNECT): _P.DISCONNECTED,
    (_P.READY, _PE.LOGOUT): _P.LOGGED_OUT,
    (_P.RONA, _PE.GO_READY): _P.READY,
    (_P.RONA, _PE.GO_NOT_READY): _P.NOT_READY,
    (_P.RONA, _PE.OFFER_MISSED): _P.RONA,
    (_P.RONA, _PE.RONA_EXPIRED): _P.READY,
    (_P.RONA, _PE.DISCONNECT): _P.DISCONNECTED,
    (_P.RONA, _PE.LOGOUT): _P.LOGGED_OUT,
    (_P.DISCONNECTED, _PE.RECONNECT_READY): _P.READY,
    (_P.DISCONNECTED, _PE.RECONNECT_NOT_READY): _P.NOT_READY,
    (_P.DISCONNECTED, _PE.OFFER_MISSED): _P.DISCONNECTED,
    (_P.DISCONNECTED, _PE.GRACE_EXPIRED): _P.LOGGED_OUT,
    (_P.DISCONNECTED, _PE.LOGOUT): _P.LOGGED_OUT,
}

_W = WorkPhase
_WE = WorkEvent

WORK_TRANSITIONS: dict[tuple[WorkPhase, WorkEvent], WorkPhase] = {
    (_W.RESERVED, _WE.ACCEPT): _W.BUSY,
    (_W.RESERVED, _WE.REJECT): _W.RELEASED,
    (_W.RESERVED, _WE.OFFER_TIMEOUT): _W.RELEASED,
    (_W.RESERVED, _WE.REVOKE): _W.RELEASED,
    (_W.RESERVED, _WE.DROP): _W.RELEASED,
    (_W.BUSY, _WE.END): _W.WRAP_UP,
    (_W.BUSY, _WE.DROP): _W.DONE,
    (_W.WRAP_UP, _WE.WRAP_UP_DONE): _W.DONE,
    (_W.WRAP_UP, _WE.WRAP_UP_TIMEOUT): _W.DONE,
    (_W.WRAP_UP, _WE.DROP): _W.DONE,
}

# Phases in which an item still occupies capacity.
LIVE_PHASES = frozenset({_W.RESERVED, _W.BUSY, _W.WRAP_UP})


def next_presence(state: Presence, event: PresenceEvent) -> Presence:
    try:
        return PRESENCE_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalAgentTransition("agent_presence", state.value, event.value) from None


def next_work_phase(state: WorkPhase, event: WorkEvent) -> WorkPhase:
    try:
        return WORK_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalAgentTransition("agent_work", state.value, event.value) from None


# The summary state each presence shows when no work overrides it (a dict lookup: calling
# AgentState(value) costs an enum value lookup on every work change).
_PRESENCE_STATE: dict[Presence, AgentState] = {p: AgentState(p.value) for p in Presence}


def summarise(presence: Presence, phases: Iterable[WorkPhase]) -> AgentState:
    """The one state a supervisor sees for an agent (see module docstring)."""
    if presence is Presence.LOGGED_OUT or presence is Presence.DISCONNECTED:
        return _PRESENCE_STATE[presence]
    reserved = wrap_up = False
    for phase in phases:  # one pass, no set: this runs on every work change
        if phase is WorkPhase.BUSY:
            return AgentState.BUSY
        if phase is WorkPhase.RESERVED:
            reserved = True
        elif phase is WorkPhase.WRAP_UP:
            wrap_up = True
    if reserved:
        return AgentState.RESERVED
    if wrap_up:
        return AgentState.WRAP_UP
    return _PRESENCE_STATE[presence]
