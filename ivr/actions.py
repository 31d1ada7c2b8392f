"""What an :class:`ivr.session.IvrSession` asks the runtime to do (frozen dataclasses).

The session returns a batch of actions per event. A batch is a run of output actions
(Play, Say*, SetAttribute) ending in at most one of: Collect (wait for input), Lookup
(wait for a LookupResult) or a terminal action (Route, OfferCallback, Voicemail,
Transfer, Hangup) after which the IVR is over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Play:
    """Play prompt ``prompt`` (audio ``<language>/<prompt>``; ``text`` for chat)."""

    prompt: str
    language: str
    text: str
    interruptible: bool = False  # caller may press a menu key during it (barge-in)


@dataclass(frozen=True, slots=True)
class ChoiceOption:
    digit: str
    label: str  # text of the chat button, in the session's language


@dataclass(frozen=True, slots=True)
class Collect:
    """Prompt and wait for input: up to ``max_digits`` keys or ``timeout`` seconds."""

    node: str
    prompt: str
    language: str
    text: str
    timeout: float
    min_digits: int
    max_digits: int
    choices: tuple[ChoiceOption, ...] = ()  # non-empty for menus: chat renders buttons
    sensitive: bool = False


@dataclass(frozen=True, slots=True)
class SayDigits:
    digits: str
    language: str


@dataclass(frozen=True, slots=True)
class SayNumber:
    number: int
    language: str


@dataclass(frozen=True, slots=True)
class SayDate:
    date: str  # ISO date, "2026-11-20"
    language: str


@dataclass(frozen=True, slots=True)
class Lookup:
    """Ask the CRM (or the routing calendar); answer with ``LookupResult``.

    kinds: customer_by_phone, customer_by_account, customer_by_order (data: the customer,
    e.g. id, tier, open_complaints, name), order_status (data: status, shipped_on...),
    open_complaints (data: count), queue_open (data: {"open": bool}).
    """

    kind: str
    key: str


@dataclass(frozen=True, slots=True)
class SetAttribute:
    """Record an interaction attribute: queue, skills, priority, language, reason,
    customer_id, or an IVR input (``ivr.<variable>``)."""

    name: str
    value: Any


@dataclass(frozen=True, slots=True)
class SurveyResult:
    """Scores given in a survey flow, emitted just before the flow's terminal action."""

    scores: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Route:
    queue: str
    priority: int = 0
    skills: Mapping[str, int] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class OfferCallback:
    queue: str
    number: str | None  # the caller ID, if any, to call back
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Voicemail:
    queue: str
    max_seconds: int
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transfer:
    number: str


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: str = "ivr_end"


IvrAction = (
    Play | Collect | SayDigits | SayNumber | SayDate | Lookup | SetAttribute | SurveyResult
    | Route | OfferCallback | Voicemail | Transfer | Hangup
)  # fmt: skip
TERMINAL_ACTIONS = (Route, OfferCallback, Voicemail, Transfer, Hangup)
