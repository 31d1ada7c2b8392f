"""The in-memory model of one IVR flow, built by :mod:`ivr.loader` from a TOML file.

A flow is a graph of nodes. Every node has a ``kind``; the kinds that take caller input
(menu, language, collect, identify, rating) carry their prompts, timeout and retry budget,
and the terminal kinds (route, callback, voicemail, transfer, hangup) end the IVR.
The model is immutable: a reload builds a new :class:`Flow` and swaps it in whole.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


class NodeKind(enum.StrEnum):
    PLAY = "play"
    MENU = "menu"
    LANGUAGE = "language"
    COLLECT = "collect"
    IDENTIFY = "identify"
    BRANCH = "branch"
    ANSWER = "answer"  # self-service answer from the CRM
    SET = "set"
    RATING = "rating"  # one survey question (CSAT, NPS) on the keypad
    ROUTE = "route"
    CALLBACK = "callback"
    VOICEMAIL = "voicemail"
    TRANSFER = "transfer"
    HANGUP = "hangup"


# Kinds that end the IVR: the session emits its terminal action and stops.
TERMINAL_KINDS = frozenset(
    {NodeKind.ROUTE, NodeKind.CALLBACK, NodeKind.VOICEMAIL, NodeKind.TRANSFER, NodeKind.HANGUP}
)
# Kinds that wait for the caller (digits / text / timeout).
INPUT_KINDS = frozenset(
    {NodeKind.MENU, NodeKind.LANGUAGE, NodeKind.COLLECT, NodeKind.IDENTIFY, NodeKind.RATING}
)

# What a branch node can test.
BRANCH_TESTS = frozenset({"queue_open", "tier", "open_complaint", "language", "variable"})
# What an identify node can look a customer up by (besides caller ID, always tried first).
IDENTIFY_BY = frozenset({"account", "order"})
# Self-service answers the CRM adapter knows how to look up.
ANSWER_LOOKUPS = frozenset({"order_status", "open_complaints"})
CHECK_DIGITS = frozenset({"luhn"})
SAY_KINDS = frozenset({"prompt", "digits", "number", "date"})
# Attributes a set node may change (DESIGN.md §3 interaction fields).
SETTABLE = frozenset({"queue", "skills", "priority", "language", "reason"})

DIGITS = frozenset("0123456789*#")


@dataclass(frozen=True, slots=True)
class Prompt:
    """One recorded prompt: ``id`` is also the audio file name (under ``<lang>/``)."""

    id: str
    texts: Mapping[str, str]
    chat: Mapping[str, str] = field(default_factory=dict)  # optional wording for chat


@dataclass(frozen=True, slots=True)
class Choice:
    """One key of a menu: ``target`` is a node id (menu) or a language code (language)."""

    digit: str
    target: str
    label: str | None = None  # prompt id whose text labels the chat button


@dataclass(frozen=True, slots=True)
class SayItem:
    """One piece of a self-service answer: a prompt, or a field of the lookup said aloud."""

    kind: str  # prompt | digits | number | date
    ref: str  # prompt id, or the name of a field of the lookup result / a variable


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    kind: NodeKind
    prompt: str | None = None
    next: str | None = None
    fallback: str | None = None
    # input handling
    timeout: float = 5.0
    retries: int = 3
    invalid_prompt: str | None = None
    no_input_prompt: str | None = None
    choices: tuple[Choice, ...] = ()
    # collect / identify / rating
    variable: str | None = None
    min_length: int = 1
    max_length: int = 1
    pattern: str | None = None
    check_digit: str | None = None
    sensitive: bool = False
    by: str | None = None
    not_found: str | None = None
    not_found_prompt: str | None = None
    min_value: int = 0
    max_value: int = 9
    # branch
    test: str | None = None
    queue: str | None = None
    cases: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None
    # answer
    lookup: str | None = None
    key: str | None = None
    select: str | None = None
    responses: Mapping[str, tuple[SayItem, ...]] = field(default_factory=dict)
    # set / route / terminal
    attributes: Mapping[str, Any] = field(default_factory=dict)
    number: str | None = None
    max_seconds: int = 120
    reason: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.kind in TERMINAL_KINDS

    def edges(self) -> Iterator[tuple[str, str]]:
        """(key, target node) for every way out of this node, in a stable order."""
        if self.next is not None:
            yield "next", self.next
        if self.kind is NodeKind.MENU:
            for c in self.choices:
                yield f"choices.{c.digit}", c.target
        for value, target in self.cases.items():
            yield f"cases.{value}", target
        if self.default is not None:
            yield "default", self.default
        if self.not_found is not None:
            yield "not_found", self.not_found
        if self.fallback is not None:
            yield "fallback", self.fallback

    def prompt_refs(self) -> Iterator[tuple[str, str]]:
        """(key, prompt id) for every prompt this node can play."""
        for key in ("prompt", "invalid_prompt", "no_input_prompt", "not_found_prompt"):
            value = getattr(self, key)
            if value is not None:
                yield key, value
        for c in self.choices:
            if c.label is not None:
                yield f"choices.{c.digit}.label", c.label
        for status, items in self.responses.items():
            for i, item in enumerate(items):
                if item.kind == "prompt":
                    yield f"responses.{status}[{i}]", item.ref


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    file: str
    start: str
    languages: tuple[str, ...]
    default_language: str
    prompts: Mapping[str, Prompt]
    nodes: Mapping[str, Node]
    # Guard against a caller (or a flow) going round in circles: after this many node
    # visits the session jumps to ``overflow`` (a terminal node) or hangs up.
    max_visits: int = 60
    overflow: str | None = None

    def text(self, prompt_id: str, language: str, channel: str = "voice") -> str:
        prompt = self.prompts[prompt_id]
        if channel == "chat" and prompt.chat:
            return prompt.chat.get(language) or prompt.chat[self.default_language]
        return prompt.texts.get(language) or prompt.texts[self.default_language]
