"""Which case does an inbound mail belong to? (sans-I/O)

Keys come from the mail (In-Reply-To, References, the ``[#C-12345]`` subject token); the
caller looks them all up in one go (one query against the CRM) and :func:`choose_case`
decides. Header matches beat the subject token because Message-IDs are unguessable while
a token can be typed by anyone: a token only joins a case when the sender is that case's
customer, so nobody can append mail to somebody else's case by copying a case number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ccserver.channels.email.parsing import ParsedEmail

_TOKEN = re.compile(r"\[#\s*([A-Za-z]{1,8})-(\d{1,12})\s*\]")
_REPLY_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|aw|wg|sv|vs|antw|rif|r|tr|回复|回覆|转发|答复|返信|転送|ตอบกลับ)\s*(\[\d+\])?\s*[:\uff1a]\s*)+",
    re.IGNORECASE,
)
# RFC 5322 leaves References unbounded; long threads are trimmed to the root and the most
# recent ids so our headers stay well under line limits.
MAX_REFERENCES = 20


@dataclass(frozen=True, slots=True)
class CaseRef:
    """What the email channel needs to know about a case (a CRM contact thread)."""

    case_id: str
    case_number: str  # e.g. "C-12345"
    customer_id: str | None = None
    customer_address: str | None = None
    last_agent_id: str | None = None  # preferred agent for follow-ups
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadKeys:
    message_ids: tuple[str, ...]  # most specific first
    case_number: str | None


@dataclass(frozen=True, slots=True)
class ThreadMatch:
    case: CaseRef | None
    matched_by: str | None  # "in_reply_to" | "references" | "subject_token" | None
    note: str | None = None

    @property
    def preferred_agent_id(self) -> str | None:
        return self.case.last_agent_id if self.case else None


def format_case_token(case_number: str) -> str:
    return f"[#{case_number}]"


def find_case_number(subject: str, prefix: str = "C") -> str | None:
    """The case number in a subject token with our prefix (case-insensitive), if any."""
    for pfx, digits in _TOKEN.findall(subject):
        if pfx.upper() == prefix.upper():
            return f"{prefix}-{digits}"
    return None


def strip_reply_prefixes(subject: str) -> str:
    return _REPLY_PREFIX.sub("", subject).strip()


def reply_subject(subject: str, case_number: str) -> str:
    """``Re: <subject> [#C-1]``: one reply prefix, exactly one token for this case."""
    base = strip_reply_prefixes(_TOKEN.sub("", subject)).strip() or "(no subject)"
    base = " ".join(base.split())
    return f"Re: {base} {format_case_token(case_number)}"


def with_case_token(subject: str, case_number: str) -> str:
    """``subject`` with exactly one token for this case at the end (no reply prefix)."""
    base = " ".join(_TOKEN.sub("", subject).split()) or "(no subject)"
    return f"{base} {format_case_token(case_number)}"


def is_our_message_id(message_id: str, domain: str) -> bool:
    return message_id.rpartition("@")[2].lower() == domain.lower()


def thread_keys(mail: ParsedEmail, case_prefix: str = "C") -> ThreadKeys:
    """Lookup keys in order of specificity: In-Reply-To, then References newest first."""
    ordered: dict[str, None] = {}
    for mid in mail.in_reply_to:
        ordered.setdefault(mid, None)
    for mid in reversed(mail.references):
        ordered.setdefault(mid, None)
    return ThreadKeys(tuple(ordered), find_case_number(mail.subject, case_prefix))


def choose_case(
    mail: ParsedEmail,
    keys: ThreadKeys,
    by_message_id: Mapping[str, CaseRef],
    by_number: Mapping[str, CaseRef],
) -> ThreadMatch:
    in_reply_to = set(mail.in_reply_to)
    for mid in keys.message_ids:
        case = by_message_id.get(mid)
        if case is not None:
            return ThreadMatch(case, "in_reply_to" if mid in in_reply_to else "references")
    if keys.case_number is None:
        return ThreadMatch(None, None)
    case = by_number.get(keys.case_number)
    if case is None:
        return ThreadMatch(None, None, f"unknown case token {keys.case_number}; new case")
    sender = (mail.from_address or "").lower()
    if case.customer_address and sender and case.customer_address.lower() == sender:
        return ThreadMatch(case, "subject_token")
    return ThreadMatch(
        None,
        None,
        f"case token {keys.case_number} ignored: sender is not that case's customer",
    )


def references_for_reply(
    parent_message_id: str | None, parent_refs: tuple[str, ...]
) -> tuple[str, ...]:
    """References of a reply (RFC 5322 §3.6.4): parent's References + parent's id, trimmed
    to the thread root plus the most recent ids."""
    refs = list(dict.fromkeys([*parent_refs, *([parent_message_id] if parent_message_id else [])]))
    if len(refs) > MAX_REFERENCES:
        refs = [refs[0], *refs[-(MAX_REFERENCES - 1) :]]
    return tuple(refs)
