"""Inbound mail bytes -> :class:`ParsedEmail` (sans-I/O, standard ``email`` package).

Never raises and never drops: whatever arrives is kept (``raw`` is always there) and
problems are reported as ``flags`` plus human-readable ``notes`` for the agent. Legacy
charsets are decoded with their common supersets (mail labelled GB2312 is routinely GBK,
Shift_JIS is routinely CP932, TIS-620 is routinely Windows-874).
"""

from __future__ import annotations

import contextlib
import email
import email.header
import email.policy
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime

from email_validator import EmailNotValidError, validate_email

from ccserver.channels.email.config import AttachmentLimits
from ccserver.channels.email.decoding import (
    MAIL_POLICY,
    decode_bytes,
    decode_header_value,
    fix_surrogates,
)
from ccserver.channels.email.html_text import clean_text, html_to_text


class MailFlag(enum.StrEnum):
    MALFORMED = "malformed"  # structural defects; parsed as far as possible
    ATTACHMENTS_DROPPED = "attachments_dropped"  # over the count/size limits
    HTML_ONLY = "html_only"  # text derived from HTML
    CHARSET_FALLBACK = "charset_fallback"  # unknown/undeclared charset, decoded leniently
    NO_MESSAGE_ID = "no_message_id"
    INVALID_SENDER = "invalid_sender"  # From: is not a deliverable-looking address
    RATE_LIMITED = "rate_limited"  # set by the service: mail bomb from one sender


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    data: bytes
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class DroppedAttachment:
    filename: str
    content_type: str
    size: int
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    raw: bytes
    message_id: str | None  # without angle brackets
    subject: str
    from_address: str | None  # normalised (lower-case domain), None if absent/unparseable
    from_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    reply_to: str | None
    date: datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    html: str | None
    attachments: tuple[Attachment, ...]
    dropped_attachments: tuple[DroppedAttachment, ...]
    flags: frozenset[MailFlag]
    notes: tuple[str, ...]
    # Headers that decide loop/bounce handling, lower-case names, decoded values.
    loop_headers: dict[str, str] = field(default_factory=dict)
    envelope_from: str | None = None
    envelope_to: tuple[str, ...] = ()

    @property
    def reply_address(self) -> str | None:
        return self.reply_to or self.from_address


_WHITESPACE = re.compile(r"\s+")
_MSGID = re.compile(r"<([^<>\s]+)>")
_LOOP_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-auto-response-suppress",
    "x-autoreply",
    "x-autorespond",
    "return-path",
    "x-loop",
    "x-ccserver-case",
)
_MAX_FILENAME = 200


def normalise_address(addr: str) -> str | None:
    addr = addr.strip()
    if "@" not in addr or any(c.isspace() for c in addr):
        return None
    local, _, domain = addr.rpartition("@")
    if not local or not domain:
        return None
    return f"{local}@{domain.lower()}"


def msgids(value: str) -> tuple[str, ...]:
    """Message-IDs in a header value, in order, without angle brackets (deduplicated)."""
    seen: dict[str, None] = {}
    for found in _MSGID.findall(value):
        seen.setdefault(found, None)
    if not seen:
        bare = value.strip()
        if bare and " " not in bare and "@" in bare:  # some clients omit the brackets
            seen[bare] = None
    return tuple(seen)


def _safe_filename(name: str | None, index: int, content_type: str) -> str:
    if not name:
        ext = {"text/plain": ".txt", "text/html": ".html", "message/rfc822": ".eml"}.get(
            content_type, ".bin"
        )
        return f"attachment-{index}{ext}"
    name = clean_text(name).replace("\n", " ")
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip().lstrip(".") or f"attachment-{index}"
    return name[:_MAX_FILENAME]


def _human(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size} B"


@dataclass(frozen=True, slots=True)
class _PartInfo:
    ctype: str
    disposition: str
    charset: str | None
    filename: str | None


def _part_info(part: Message) -> _PartInfo:
    """Content-Type and Content-Disposition of a part, each header parsed once (the
    structured headers of policy.default are re-parsed on every access, and the Message
    helpers access them several times per part)."""
    ct = part.get("content-type")
    ct_params: Mapping[str, str] = getattr(ct, "params", None) or {}
    ctype = str(getattr(ct, "content_type", "") or "") if ct is not None else ""
    if ctype.count("/") != 1:
        ctype = part.get_default_type() if ct is None else "text/plain"
    cd = part.get("content-disposition")
    cd_params: Mapping[str, str] = getattr(cd, "params", None) or {}
    disposition = str(getattr(cd, "content_disposition", "") or "").lower()
    filename = cd_params.get("filename") or ct_params.get("name")
    charset = ct_params.get("charset")
    return _PartInfo(
        ctype.lower(),
        disposition,
        str(charset) if charset else None,
        str(filename) if filename else None,
    )


class _Builder:
    """Accumulates the result while walking a message; every step is individually guarded."""

    def __init__(self, raw: bytes, limits: AttachmentLimits) -> None:
        self.raw = raw
        self.limits = limits
        self.flags: set[MailFlag] = set()
        self.notes: list[str] = []
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []
        self.dropped: list[DroppedAttachment] = []
        self.total = 0
        self.body_charset: str | None = None

    def malformed(self, note: str) -> None:
        self.flags.add(MailFlag.MALFORMED)
        if note not in self.notes:
            self.notes.append(note)

    def text_of(self, part: Message, charset: str | None) -> str:
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        text, lenient = decode_bytes(payload, charset)
        if lenient:
            self.flags.add(MailFlag.CHARSET_FALLBACK)
            note = f"text decoded leniently (declared charset: {charset or 'none'})"
            if note not in self.notes:
                self.notes.append(note)
        if self.body_charset is None and charset:
            self.body_charset = charset
        return text

    def add_attachment(self, part: Message, data: bytes, inline: bool, info: _PartInfo) -> None:
        ctype = info.ctype
        index = len(self.attachments) + len(self.dropped) + 1
        name = _safe_filename(info.filename, index, ctype)
        size = len(data)
        reason = None
        if len(self.attachments) >= self.limits.max_count:
            reason = f"more than {self.limits.max_count} attachments"
        elif size > self.limits.max_bytes_each:
            reason = f"larger than the {_human(self.limits.max_bytes_each)} limit"
        elif self.total + size > self.limits.max_total_bytes:
            reason = f"total attachments over the {_human(self.limits.max_total_bytes)} limit"
        if reason:
            self.dropped.append(DroppedAttachment(name, ctype, size, reason))
            self.flags.add(MailFlag.ATTACHMENTS_DROPPED)
            self.notes.append(f"attachment {name!r} ({_human(size)}) dropped: {reason}")
            return
        self.total += size
        cid = part.get("Content-ID")
        self.attachments.append(
            Attachment(
                name,
                ctype,
                size,
                data,
                inline,
                msgids(str(cid))[0] if cid and msgids(str(cid)) else None,
            )
        )

    def walk(self, part: Message, depth: int = 0) -> None:
        if depth > 20:
            self.malformed("MIME nesting deeper than 20 levels; inner parts not parsed")
            return
        try:
            self._walk_part(part, depth)
        except Exception as exc:
            # One hostile part must not cost the rest of the mail: keep its bytes if we can.
            self.malformed(f"a MIME part could not be read ({type(exc).__name__})")
            with contextlib.suppress(Exception):
                raw = part.as_bytes()
                self.dropped.append(
                    DroppedAttachment(
                        "unreadable-part.bin",
                        "application/octet-stream",
                        len(raw),
                        "unreadable MIME part (kept in the raw mail)",
                    )
                )

    def _walk_part(self, part: Message, depth: int) -> None:
        info = _part_info(part)
        ctype, disposition = info.ctype, info.disposition
        if part.is_multipart() and ctype != "message/rfc822":
            children = part.get_payload()
            if not isinstance(children, list):  # pragma: no cover - defensive
                self.malformed("multipart without parts")
                return
            if ctype == "multipart/alternative":
                self._alternative([c for c in children if isinstance(c, Message)], depth)
                return
            for child in children:
                if isinstance(child, Message):
                    self.walk(child, depth + 1)
            return
        if ctype == "message/rfc822":
            inner = part.get_payload()
            msg = inner[0] if isinstance(inner, list) and inner else inner
            data = msg.as_bytes() if isinstance(msg, Message) else b""
            self.add_attachment(part, data, False, info)
            return
        is_body_text = ctype in ("text/plain", "text/html") and disposition != "attachment"
        if is_body_text and not info.filename:
            text = self.text_of(part, info.charset)
            (self.plain if ctype == "text/plain" else self.html).append(text)
            return
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        self.add_attachment(part, data, disposition == "inline", info)

    def _alternative(self, children: list[Message], depth: int) -> None:
        # Keep the plain and the HTML rendering of the same content, not both as bodies
        # twice: the last plain and last HTML alternatives win (RFC 2046 order of fidelity).
        plain: str | None = None
        html: str | None = None
        for child in children:
            info = _part_info(child)
            if info.ctype == "text/plain" and not child.is_multipart():
                plain = self.text_of(child, info.charset)
            elif info.ctype == "text/html" and not child.is_multipart():
                html = self.text_of(child, info.charset)
            elif isinstance(child, Message):
                self.walk(child, depth + 1)  # e.g. multipart/related holding html + images
        if plain is not None:
            self.plain.append(plain)
        if html is not None:
            self.html.append(html)


def _header(msg: EmailMessage, name: str, b: _Builder) -> str:
    """A header's decoded value; never raises (hostile headers fall back to raw text)."""
    raw = _raw_header(msg, name)
    text, not_utf8 = fix_surrogates(raw, b.body_charset)
    if not_utf8:
        # Raw legacy 8-bit bytes (no RFC 2047 encoding): decoded as the body charset.
        b.malformed(f"header {name} contains raw 8-bit characters")
    try:
        text = decode_header_value(text, b.body_charset)
    except Exception:
        b.malformed(f"header {name} could not be decoded")
    return _WHITESPACE.sub(" ", clean_text(text)).strip()


def _raw_header(msg: EmailMessage, name: str) -> str:
    return " ".join(str(v) for k, v in msg.raw_items() if k.lower() == name.lower())


def parse_email(
    raw: bytes,
    limits: AttachmentLimits | None = None,
    *,
    envelope_from: str | None = None,
    envelope_to: tuple[str, ...] = (),
) -> ParsedEmail:
    """Parse one RFC 5322 message. Never raises; never loses ``raw``."""
    b = _Builder(raw, limits or AttachmentLimits())
    try:
        msg = email.message_from_bytes(raw, policy=MAIL_POLICY)
        assert isinstance(msg, EmailMessage)
        return _parse(msg, b, envelope_from, envelope_to)
    except Exception as exc:  # last resort: keep the mail, flag it, show what we can
        b.malformed(f"message could not be parsed ({type(exc).__name__}); raw text shown")
        text, _ = decode_bytes(raw, None)
        return ParsedEmail(
            raw=raw,
            message_id=None,
            subject="",
            from_address=None,
            from_name="",
            to=(),
            cc=(),
            reply_to=None,
            date=None,
            in_reply_to=(),
            references=(),
            text=clean_text(text),
            html=None,
            attachments=(),
            dropped_attachments=(),
            flags=frozenset(b.flags | {MailFlag.NO_MESSAGE_ID}),
            notes=tuple(b.notes),
            envelope_from=envelope_from,
            envelope_to=envelope_to,
        )


def _addresses(msg: EmailMessage, name: str, b: _Builder) -> list[tuple[str, str]]:
    values = [str(v) for k, v in msg.raw_items() if k.lower() == name.lower()]
    try:
        pairs = getaddresses(values)
    except Exception:
        b.malformed(f"header {name} could not be parsed")
        return []
    return [(n, a) for n, a in pairs if a]


def _display_name(b: _Builder, pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    try:
        name = decode_header_value(pairs[0][0], b.body_charset)
    except Exception:
        name = pairs[0][0]
    return _WHITESPACE.sub(" ", clean_text(name)).strip().strip('"')


def _parse(
    msg: EmailMessage, b: _Builder, envelope_from: str | None, envelope_to: tuple[str, ...]
) -> ParsedEmail:
    b.walk(msg)
    for defect in msg.defects:
        b.malformed(f"structure: {type(defect).__name__}")
    for part in msg.walk():
        for defect in getattr(part, "defects", ()):
            b.malformed(f"structure: {type(defect).__name__}")

    from_pairs = _addresses(msg, "From", b)
    from_address = normalise_address(from_pairs[0][1]) if from_pairs else None
    from_name = _display_name(b, from_pairs)
    if from_address is None:
        b.flags.add(MailFlag.INVALID_SENDER)
        b.notes.append("no usable From address")
    else:
        try:
            validate_email(from_address, check_deliverability=False)
        except EmailNotValidError as exc:
            b.flags.add(MailFlag.INVALID_SENDER)
            b.notes.append(f"From address not valid: {exc}")
    reply_pairs = _addresses(msg, "Reply-To", b)
    reply_to = normalise_address(reply_pairs[0][1]) if reply_pairs else None

    message_ids = msgids(_raw_header(msg, "Message-ID"))
    message_id = message_ids[0] if message_ids else None
    if message_id is None:
        b.flags.add(MailFlag.NO_MESSAGE_ID)

    date = None
    date_raw = _raw_header(msg, "Date").strip()
    if date_raw:
        try:
            date = parsedate_to_datetime(date_raw)
        except (TypeError, ValueError, IndexError):
            b.malformed("Date header could not be parsed")

    html = "\n".join(b.html) if b.html else None
    if b.plain:
        text = "\n\n".join(clean_text(t) for t in b.plain)
    elif html is not None:
        text = html_to_text(html)
        b.flags.add(MailFlag.HTML_ONLY)
    else:
        text = ""

    loop_headers = {}
    for name in _LOOP_HEADERS:
        value = _raw_header(msg, name).strip()
        if value:
            loop_headers[name] = value

    return ParsedEmail(
        raw=b.raw,
        message_id=message_id,
        subject=_header(msg, "Subject", b),
        from_address=from_address,
        from_name=from_name,
        to=tuple(a for _, a0 in _addresses(msg, "To", b) if (a := normalise_address(a0))),
        cc=tuple(a for _, a0 in _addresses(msg, "Cc", b) if (a := normalise_address(a0))),
        reply_to=reply_to,
        date=date,
        in_reply_to=msgids(_raw_header(msg, "In-Reply-To")),
        references=msgids(_raw_header(msg, "References")),
        text=text,
        html=html,
        attachments=tuple(b.attachments),
        dropped_attachments=tuple(b.dropped),
        flags=frozenset(b.flags),
        notes=tuple(b.notes),
        loop_headers=loop_headers,
        envelope_from=envelope_from,
        envelope_to=envelope_to,
    )
