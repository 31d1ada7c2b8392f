"""Channel and bridge records of the simulated Asterisk, and the header blocks AMI events carry
for them (same keys, same order as Asterisk 22 - see tests/fixtures/ami)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

STATE_DESC = {0: "Down", 3: "Dialing", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}

CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
}

# OriginateResponse "Reason" codes (Asterisk's AST_CONTROL_* numbering).
REASON_FAILED = 0
REASON_NO_ANSWER = 3
REASON_ANSWERED = 4
REASON_BUSY = 5

Pairs = list[tuple[str, str]]


@dataclass(eq=False)
class SimChannel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = 0
    cid_num: str = "<unknown>"
    cid_name: str = "<unknown>"
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    language: str = "en"
    accountcode: str = ""
    created: float = 0.0
    variables: dict[str, str] = field(default_factory=dict)
    application: str = ""
    app_data: str = ""
    bridge: SimBridge | None = None
    local_peer: SimChannel | None = None  # the other half of a Local/...;1 / ;2 pair
    in_agi: bool = False
    agi_queue: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)
    agi_task: asyncio.Task[None] | None = None
    # Digits reach a channel only while something listens (GET DATA, WAIT FOR DIGIT, ...).
    digits: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    listening: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    bridged: asyncio.Event = field(default_factory=asyncio.Event)
    bridged_with: str | None = None  # last channel this one shared a bridge with
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    hangup_cause: int | None = None
    on_hold: bool = False
    moh: bool = False
    recording: str | None = None
    spying_on: SimChannel | None = None
    # Bridge(<this channel>,F(context^exten^priority)): where this channel goes, instead of
    # hanging up, when the channel that ran Bridge() hangs up (Asterisk's after-bridge goto).
    after_bridge: tuple[str, str] | None = None
    # Set once an Originate that created this channel has sent its OriginateResponse.
    originate_reported: asyncio.Event | None = None

    @property
    def state_desc(self) -> str:
        return STATE_DESC.get(self.state, "Unknown")

    def block(self, prefix: str = "") -> Pairs:
        return [
            (prefix + "Channel", self.name),
            (prefix + "ChannelState", str(self.state)),
            (prefix + "ChannelStateDesc", self.state_desc),
            (prefix + "CallerIDNum", self.cid_num),
            (prefix + "CallerIDName", self.cid_name),
            (prefix + "ConnectedLineNum", self.connected_num),
            (prefix + "ConnectedLineName", self.connected_name),
            (prefix + "Language", self.language),
            (prefix + "AccountCode", self.accountcode),
            (prefix + "Context", self.context),
            (prefix + "Exten", self.exten),
            (prefix + "Priority", str(self.priority)),
            (prefix + "Uniqueid", self.uniqueid),
            (prefix + "Linkedid", self.linkedid),
        ]


@dataclass(eq=False)
class SimBridge:
    uniqueid: str
    channels: list[SimChannel] = field(default_factory=list)
    bridge_type: str = "basic"
    technology: str = "simple_bridge"
    creator: str = ""
    name: str = ""

    def block(self) -> Pairs:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", self.bridge_type),
            ("BridgeTechnology", self.technology),
            ("BridgeCreator", self.creator),
            ("BridgeName", self.name),
            ("BridgeNumChannels", str(len(self.channels))),
            ("BridgeVideoSourceMode", "none"),
        ]


@dataclass
class Endpoint:
    """How a simulated phone behaves when dialled."""

    answer_after: float = 0.5
    never_answer: bool = False
    busy: bool = False
    hangup_after: float | None = None  # the far end hangs up this long after answering
