"""Sans-I/O translator between an IVR session and the chat widget (DESIGN.md §6).

The same flow that serves the phone is shown in chat: prompts become text messages,
menus become buttons (quick replies), spoken numbers and dates become text in the
session's language. The widget sends back either a button ``value`` or free ``text``.

Messages are JSON-able dicts::

    {"kind": "text", "text": "...", "buttons": [], "lang": "ja"}
    {"kind": "buttons", "text": "...", "buttons": [{"label": "Billing", "value": "2"}],
     "lang": "en"}

A text message that asks for a number also carries
``"input": {"min_length", "max_length", "sensitive"}`` so the widget can show a
numeric (or masked) field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ivr import actions as a
from ivr import events as e
from ivr.session import IvrSession, IvrState

ChatMessage = dict[str, Any]
_MAX_TEXT = 500  # longer typed input is not an answer to a menu; cut before matching

# Languages written without spaces between phrases.
_NO_SPACE = frozenset({"ja", "zh"})
_MONTHS_EN = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTHS_TH = [
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
]


def format_date(iso: str, language: str) -> str:
    """A date as a person would write it in ``language`` (Thai uses the Buddhist era)."""
    try:
        d = dt.date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    if language in ("ja", "zh"):
        return f"{d.year}年{d.month}月{d.day}日"
    if language == "th":
        return f"{d.day} {_MONTHS_TH[d.month - 1]} {d.year + 543}"
    return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"


def _spoken_text(action: a.IvrAction) -> tuple[str, str] | None:
    """(text, language) of an output action, None for actions chat does not show."""
    if isinstance(action, a.Play):
        return action.text, action.language
    if isinstance(action, a.SayDigits):
        return action.digits, action.language
    if isinstance(action, a.SayNumber):
        return str(action.number), action.language
    if isinstance(action, a.SayDate):
        return format_date(action.date, action.language), action.language
    return None


def render_actions(actions: Sequence[a.IvrAction]) -> list[ChatMessage]:
    """Chat messages for a batch: consecutive prompts / says joined into one text."""
    out: list[ChatMessage] = []
    pending: list[str] = []
    lang = "en"

    def flush() -> None:
        if pending:
            sep = "" if lang in _NO_SPACE else " "
            out.append({"kind": "text", "text": sep.join(pending), "buttons": [], "lang": lang})
            pending.clear()

    for action in actions:
        spoken = _spoken_text(action)
        if spoken is not None:
            pending.append(spoken[0])
            lang = spoken[1]
            continue
        if isinstance(action, a.Collect):
            lang = action.language
            flush()
            if action.choices:
                buttons = [{"label": c.label, "value": c.digit} for c in action.choices]
                out.append({"kind": "buttons", "text": action.text, "buttons": buttons,
                            "lang": lang})  # fmt: skip
            else:
                out.append({
                    "kind": "text", "text": action.text, "buttons": [], "lang": lang,
                    "input": {"min_length": action.min_digits, "max_length": action.max_digits,
                              "sensitive": action.sensitive},
                })  # fmt: skip
    flush()
    return out


def input_event(message: Mapping[str, Any], now: float) -> e.Digits | e.Text | None:
    """A widget message as an IVR event: ``{"value": "2"}`` (button) or ``{"text": ...}``.

    Anything else (wrong types, empty) is None: a hostile or buggy client is ignored,
    never allowed to break the session.
    """
    value = message.get("value")
    if isinstance(value, str) and 0 < len(value) <= 32:
        return e.Digits(now, value)
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        return e.Text(now, text[:_MAX_TEXT])
    return None


@dataclass(slots=True)
class ChatTurn:
    """What one step produced: messages for the widget, actions for the chat runtime
    (Lookup to answer with :meth:`ChatIvrDriver.lookup_result`, SetAttribute, Route,
    OfferCallback, Voicemail, Transfer, Hangup, SurveyResult)."""

    messages: list[ChatMessage] = field(default_factory=list)
    actions: list[a.IvrAction] = field(default_factory=list)


_FOR_CHAT = (a.Play, a.Collect, a.SayDigits, a.SayNumber, a.SayDate)


class ChatIvrDriver:
    def __init__(self, session: IvrSession) -> None:
        self.session = session
        self.ignored = 0  # inputs that arrived when no answer was expected, or were garbage

    @property
    def finished(self) -> bool:
        return self.session.finished

    def start(self, now: float) -> ChatTurn:
        return self._turn(self.session.handle(e.Started(now)))

    def on_message(self, message: Mapping[str, Any], now: float) -> ChatTurn:
        event = input_event(message, now)
        if event is None or self.session.state is not IvrState.WAITING_INPUT:
            self.ignored += 1
            return ChatTurn()
        return self._turn(self.session.handle(event))

    def on_timeout(self, now: float) -> ChatTurn:
        """Call when ``session.deadline`` passes with no answer."""
        if self.session.state is not IvrState.WAITING_INPUT:
            return ChatTurn()
        return self._turn(self.session.handle(e.Timeout(now)))

    def lookup_result(self, data: Mapping[str, Any] | None, now: float) -> ChatTurn:
        return self._turn(self.session.handle(e.LookupResult(now, data)))

    def leave(self, now: float) -> ChatTurn:
        """The customer closed the chat."""
        if self.session.finished:
            return ChatTurn()
        return self._turn(self.session.handle(e.Hangup(now)))

    @staticmethod
    def _turn(actions: list[a.IvrAction]) -> ChatTurn:
        rest: list[a.IvrAction] = [x for x in actions if not isinstance(x, _FOR_CHAT)]
        return ChatTurn(render_actions(actions), rest)
