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
    SURVEY = "survey"  # the agent left; the caller answers the post-call survey (AsyncAGI)
    ENDED = "ended"


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
    recording: str | None = None
    hold_generation: int = 0  # the newest hold loop owns the channel; older ones stop
    closed: bool = False  # the interaction was already closed by us (self-service, callback)
    attributes: dict[str, Any] = field(default_factory=dict)
