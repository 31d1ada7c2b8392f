"""Check-digit and masking helpers for collected numbers."""

from __future__ import annotations


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (at least 2 of them) end in a correct Luhn / mod-10 check digit."""
    if len(digits) < 2 or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_append(body: str) -> str:
    """``body`` followed by the Luhn check digit that makes it valid (for tests and fixtures)."""
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise ValueError(f"not a digit string: {body!r}")  # unreachable for digit input


def mask(value: str) -> str:
    """Hide a sensitive input in records: keep the last 4 only of long numbers (cards)."""
    if len(value) >= 8:
        return "*" * (len(value) - 4) + value[-4:]
    return "*" * len(value)
