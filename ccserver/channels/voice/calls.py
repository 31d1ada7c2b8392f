"""The voice channel's record of one customer call (one channel, possibly many interactions:
a transfer to a queue moves the same channel to a new interaction)."""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field
from typing import Any


class Phase(enum.StrEnum):
    IVR = "ivr"  # the IVR runs over AsyncAGI
    QUEUED = "queued"  # music on hold + announcements over AsyncAGI
    CONNECTED = "connected"  # bridged with the agent's leg
    HELD = "held"  # customer and agent parked in ccserver-hold (music) by the agent
    CONSULT = "consult"  # customer on music while the agent calls someone (see .consult)
    SURVEY = "survey"  # the agent left; the caller answers the post-call survey (AsyncAGI)
    ENDED = "ended"


class ConsultState(enum.StrEnum):
    DIALING = "dialing"  # the consulted party rings; agent and customer on music
    TALKING = "talking"  # agent and consulted party bridged; the customer still on music
    OVER = "over"


# (state, event) -> next state. Events: answered / failed (the Originate's outcome), cancel /
# complete (the agent), target_left / caller_left / agent_left (a Hangup). A pair missing
# here is an illegal sequence: refused when the agent asked for it, ignored when it is a late
# event of a consult already over (e.g. an answer racing a cancel).
CONSULT_STEPS: dict[tuple[ConsultState, str], ConsultState] = {
    (ConsultState.DIALING, "answered"): ConsultState.TALKING,
    (ConsultState.DIALING, "failed"): ConsultState.OVER,
    (ConsultState.DIALING, "cancel"): ConsultState.OVER,
    (ConsultState.TALKING, "cancel"): ConsultState.OVER,
    (ConsultState.TALKING, "complete"): ConsultState.OVER,
    (ConsultState.TALKING, "target_left"): ConsultState.OVER,
    **{(s, e): ConsultState.OVER for s in (ConsultState.DIALING, ConsultState.TALKING)
       for e in ("caller_left", "agent_left")},
}  # fmt: skip


@dataclass(eq=False)
class Consult:
    """One attended transfer in progress: who is called and how far it got."""

    target: str  # the number or the agent id, as the agent gave it
    kind: str  # "number" | "agent"
    dial: str  # the Originate channel: Local/<n>@outbound or the agent's endpoint
    channel_id: str  # ChannelId of the Originate (finds the ringing leg to cancel it)
    state: ConsultState = ConsultState.DIALING
    leg: str | None = None  # the consulted party's channel once answered
    ended_by: str | None = None  # the event that made it OVER

    def can(self, event: str) -> bool:
        return (self.state, event) in CONSULT_STEPS

    def step(self, event: str) -> None:
        self.state = CONSULT_STEPS[(self.state, event)]
        if self.state == ConsultState.OVER:
            self.ended_by = event

    def view(self) -> dict[str, str]:
        """What the console shows (the interaction's ``consult``)."""
        return {"state": self.state.value, "target": self.target, "kind": self.kind}


@dataclass(eq=False)
class Call:
    channel: str
    uniqueid: str
    caller_id: str
    interaction_id: str | None = None
    phase: Phase = Phase.IVR
    in_agi: bool = True
    agent_id: str | None = None
    agent_leg: str | None = None  # channel name of the agent's phone once answered
    ringing: dict[str, str] = field(default_factory=dict)  # agent id -> ringing leg ChannelId
    announcements: list[tuple[int, float]] = field(default_factory=list)  # (position, ewt)
    pending_announcements: asyncio.Queue[tuple[int, float]] = field(default_factory=asyncio.Queue)
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    back_in_agi: asyncio.Event = field(default_factory=asyncio.Event)
    bridged: asyncio.Event = field(default_factory=asyncio.Event)  # BridgeEnter..BridgeLeave
    recording: str | None = None
    hold_generation: int = 0  # the newest hold loop owns the channel; older ones stop
    consult: Consult | None = None  # an attended transfer in progress
    closed: bool = False  # the interaction was already closed by us (self-service, callback)
    attributes: dict[str, Any] = field(default_factory=dict)
