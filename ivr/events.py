"""What the runtime tells an :class:`ivr.session.IvrSession` (events, each with ``now``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Started:
    now: float


@dataclass(frozen=True, slots=True)
class Digits:
    """Keypad input: one menu key, or a whole account number (``#`` already stripped)."""

    now: float
    digits: str


@dataclass(frozen=True, slots=True)
class Text:
    """Free text typed in chat (a button press arrives as :class:`Digits` of its value)."""

    now: float
    text: str


@dataclass(frozen=True, slots=True)
class Timeout:
    """No input before the :class:`ivr.actions.Collect` timeout."""

    now: float


@dataclass(frozen=True, slots=True)
class LookupResult:
    """Answer to a :class:`ivr.actions.Lookup`; ``data`` is None when nothing was found."""

    now: float
    data: Mapping[str, Any] | None = field(default=None)


@dataclass(frozen=True, slots=True)
class PlayDone:
    """A prompt finished playing. Informational: sessions never wait for it."""

    now: float


@dataclass(frozen=True, slots=True)
class Hangup:
    """The caller hung up / left the chat."""

    now: float


IvrEvent = Started | Digits | Text | Timeout | LookupResult | PlayDone | Hangup
