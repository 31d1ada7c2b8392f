"""Normalisation of customer identities: the same person typed ten ways is one key.

Phones become E.164 (``+4930123456``) with :mod:`phonenumbers` and a default region for
national formats; emails are lower-cased after :mod:`email_validator` checks their syntax;
chat handles and account ids are trimmed (and handles lower-cased). The caller-ID lookup
and duplicate detection both rely on every writer and reader using these functions.
"""

from __future__ import annotations

import enum

import phonenumbers
from email_validator import EmailNotValidError, validate_email

MAX_IDENTITY_LENGTH = 320  # RFC 5321 path limit; phones and handles are far shorter


class IdentityKind(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    ACCOUNT = "account"


class IdentityError(ValueError):
    """The value cannot be a valid identity of its kind; ``str(error)`` says why."""


def normalise_phone(raw: str, default_region: str) -> str:
    """E.164 for a valid phone number in any common format, else :class:`IdentityError`."""
    text = raw.strip()
    if not text:
        raise IdentityError("phone number is empty")
    if text.startswith("00"):  # international prefix used across Europe
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise IdentityError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise IdentityError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_lookup_key(raw: str, default_region: str) -> str | None:
    """E.164 for a caller ID, or None when it cannot be a phone number (anonymous, 'unknown').

    More lenient than :func:`normalise_phone` (possible, not necessarily valid) because a
    lookup must not fail on numbers the numbering plan data does not know yet.
    """
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text or not any(ch.isdigit() for ch in text):
        return None
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    text = raw.strip()
    if len(text) > MAX_IDENTITY_LENGTH:
        raise IdentityError("email address is too long")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise IdentityError(f"not a valid email address: {exc}") from exc
    return result.normalized.lower()


def normalise_identity(kind: IdentityKind | str, raw: str, default_region: str) -> str:
    """The stored key for ``raw`` of ``kind``; raises :class:`IdentityError` when invalid."""
    try:
        kind = IdentityKind(kind)
    except ValueError:
        raise IdentityError(f"unknown identity kind {kind!r}") from None
    if kind is IdentityKind.PHONE:
        return normalise_phone(raw, default_region)
    if kind is IdentityKind.EMAIL:
        return normalise_email(raw)
    text = raw.strip()
    if not text:
        raise IdentityError(f"{kind.value} identity is empty")
    if len(text) > MAX_IDENTITY_LENGTH:
        raise IdentityError(f"{kind.value} identity is too long")
    return text.lower() if kind is IdentityKind.CHAT else text
