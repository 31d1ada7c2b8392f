"""Should we acknowledge this mail automatically? Loop, bounce and flood protection (pure).

Acknowledging an auto-responder, a bounce, a list or our own mail starts a mail loop; one
sender writing hundreds of mails must not get hundreds of answers (and must not flood the
queues with separate cases unnoticed). Time is always passed in.
"""

from __future__ import annotations

import enum
from collections import OrderedDict, deque
from dataclasses import dataclass

from ccserver.channels.email.config import AutoAckSettings, FloodSettings
from ccserver.channels.email.parsing import MailFlag, ParsedEmail
from ccserver.channels.email.threading import is_our_message_id


class Suppression(enum.StrEnum):
    DISABLED = "disabled"
    NULL_SENDER = "null_sender"  # bounce (RFC 5321 null reverse-path)
    SYSTEM_SENDER = "system_sender"  # mailer-daemon, postmaster, no-reply
    NO_SENDER = "no_sender"
    AUTO_SUBMITTED = "auto_submitted"  # RFC 3834
    AUTO_RESPONSE_SUPPRESS = "auto_response_suppress"  # Microsoft X-Auto-Response-Suppress
    PRECEDENCE = "precedence"  # bulk / junk / list
    MAILING_LIST = "mailing_list"  # List-Id / List-Unsubscribe
    OUR_OWN_MAIL = "our_own_mail"
    FLOOD = "flood"  # mail bomb from one sender
    RATE_LIMITED = "rate_limited"  # this sender already got enough acknowledgements


_SYSTEM_LOCALPARTS = frozenset(
    {"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply",
     "bounce", "bounces", "listserv", "majordomo", "auto-reply", "autoreply"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AckDecision:
    send: bool
    reason: Suppression | None = None


class SlidingWindowCounter:
    """Events per key inside a sliding time window, with bounded memory: the least
    recently seen keys are forgotten first when ``max_keys`` is reached."""

    def __init__(self, limit: int, window_seconds: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def _trim(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            hits = deque()
            self._hits[key] = hits
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        self._hits.move_to_end(key)
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def count(self, key: str, now: float) -> int:
        return len(self._trim(key, now))

    def allow(self, key: str, now: float) -> bool:
        """Record one event if under the limit; False (not recorded) when at the limit."""
        hits = self._trim(key, now)
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def hit(self, key: str, now: float) -> int:
        """Record one event unconditionally; returns the count in the window (with it).
        Only the last ``limit + 1`` times are kept: enough to know we are over."""
        hits = self._trim(key, now)
        hits.append(now)
        while len(hits) > self.limit + 1:
            hits.popleft()
        return len(hits)


class FloodGuard:
    """Flags a sender who sends more than ``max_per_sender`` mails per window."""

    def __init__(self, settings: FloodSettings) -> None:
        self._counter = SlidingWindowCounter(
            settings.max_per_sender, settings.window_seconds, settings.max_tracked_senders
        )

    def observe(self, sender: str | None, now: float) -> bool:
        """Count one mail; True when this sender is over the limit (a mail bomb)."""
        if not sender:
            return False
        return self._counter.hit(sender.lower(), now) > self._counter.limit


def loop_suppression(mail: ParsedEmail, our_domain: str, our_address: str) -> Suppression | None:
    """Why answering this mail automatically could start a loop, or None."""
    env = mail.envelope_from
    return_path = mail.loop_headers.get("return-path", "").strip()
    if env is not None and env.strip() in ("", "<>"):
        return Suppression.NULL_SENDER
    if return_path == "<>":
        return Suppression.NULL_SENDER
    sender = mail.reply_address
    if not sender or MailFlag.INVALID_SENDER in mail.flags:
        return Suppression.NO_SENDER
    for addr in {sender, mail.from_address or "", (env or "").strip("<>")} - {""}:
        if addr.partition("@")[0].lower() in _SYSTEM_LOCALPARTS:
            return Suppression.SYSTEM_SENDER
        if addr.lower() == our_address.lower():
            return Suppression.OUR_OWN_MAIL
    auto = mail.loop_headers.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return Suppression.AUTO_SUBMITTED
    if mail.loop_headers.get("x-autoreply") or mail.loop_headers.get("x-autorespond"):
        return Suppression.AUTO_SUBMITTED
    suppress = mail.loop_headers.get("x-auto-response-suppress", "").lower()
    if any(word in suppress for word in ("all", "autoreply", "oof")):
        return Suppression.AUTO_RESPONSE_SUPPRESS
    if mail.loop_headers.get("precedence", "").strip().lower() in ("bulk", "junk", "list"):
        return Suppression.PRECEDENCE
    if "list-id" in mail.loop_headers or "list-unsubscribe" in mail.loop_headers:
        return Suppression.MAILING_LIST
    if mail.message_id and is_our_message_id(mail.message_id, our_domain):
        return Suppression.OUR_OWN_MAIL
    if "x-ccserver-case" in mail.loop_headers or "x-loop" in mail.loop_headers:
        return Suppression.OUR_OWN_MAIL
    return None


class AutoAckPolicy:
    """Decides per mail; consumes the per-sender acknowledgement budget only when it would
    actually send."""

    def __init__(self, settings: AutoAckSettings, our_domain: str, our_address: str) -> None:
        self.settings = settings
        self.our_domain = our_domain
        self.our_address = our_address
        self._acks = SlidingWindowCounter(settings.max_per_sender, settings.window_seconds)

    def decide(self, mail: ParsedEmail, now: float) -> AckDecision:
        if not self.settings.enabled:
            return AckDecision(False, Suppression.DISABLED)
        reason = loop_suppression(mail, self.our_domain, self.our_address)
        if reason is not None:
            return AckDecision(False, reason)
        if MailFlag.RATE_LIMITED in mail.flags:
            return AckDecision(False, Suppression.FLOOD)
        sender = (mail.reply_address or "").lower()
        if not self._acks.allow(sender, now):
            return AckDecision(False, Suppression.RATE_LIMITED)
        return AckDecision(True)
