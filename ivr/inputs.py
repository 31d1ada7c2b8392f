"""What a caller's key presses or typed text mean at an input node (pure functions)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from ivr.checkdigit import luhn_valid
from ivr.model import Node, NodeKind

# Native names, shown on chat buttons and accepted when typed.
LANGUAGE_NAMES: Mapping[str, str] = {
    "en": "English", "ja": "日本語", "th": "ภาษาไทย", "zh": "中文", "ko": "한국어",
    "fr": "Français", "de": "Deutsch", "es": "Español", "vi": "Tiếng Việt",
}  # fmt: skip
_SEPARATORS = re.compile(r"[\s-]")


def choice_labels(node: Node, text_of: Callable[[str], str]) -> list[tuple[str, str]]:
    """(digit, label) pairs a typed answer may match; ``text_of`` resolves a prompt id."""
    out: list[tuple[str, str]] = []
    for c in node.choices:
        if node.kind is NodeKind.LANGUAGE:
            out += [(c.digit, LANGUAGE_NAMES.get(c.target, c.target)), (c.digit, c.target)]
        elif c.label is not None:
            out.append((c.digit, text_of(c.label)))
    return out


def interpret(node: Node, raw: str, typed: bool, text_of: Callable[[str], str]) -> str | None:
    """The valid value of an input for ``node``, or None when it is invalid.

    Menus take one of their keys (or, typed in chat, a button's label); number inputs
    take digits (chat may add spaces or dashes) checked for length, pattern and check digit;
    ratings take a number in range.
    """
    text = raw.strip()
    if node.kind in (NodeKind.MENU, NodeKind.LANGUAGE):
        for c in node.choices:
            if text == c.digit:
                return c.digit
        if typed:
            folded = text.casefold()
            for digit, label in choice_labels(node, text_of):
                if folded == label.casefold():
                    return digit
        return None
    if typed:  # Japanese / Chinese IMEs type full-width digits (U+FF11...)
        text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    if not text.isascii() or not text.isdigit():
        return None
    if node.kind is NodeKind.RATING:
        return str(int(text)) if node.min_value <= int(text) <= node.max_value else None
    if not node.min_length <= len(text) <= node.max_length:
        return None
    if node.pattern is not None and not re.fullmatch(node.pattern, text):
        return None
    if node.check_digit == "luhn" and not luhn_valid(text):
        return None
    return text


def as_int(value: Any) -> int | None:
    """A CRM field as an integer, or None when it is not one (bad data must not crash a call)."""
    if isinstance(value, bool):
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
