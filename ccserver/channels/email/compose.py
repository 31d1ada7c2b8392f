"""Build our outgoing mails (acknowledgements, agents' replies) with correct threading
headers (sans-I/O apart from the random part of new Message-IDs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from ccserver.channels.email.config import EmailSettings
from ccserver.channels.email.decoding import MAIL_POLICY
from ccserver.channels.email.parsing import Attachment
from ccserver.channels.email.threading import (
    CaseRef,
    references_for_reply,
    reply_subject,
    with_case_token,
)
from ccserver.domain import new_id


@dataclass(frozen=True, slots=True)
class ParentMessage:
    """The mail being answered: what a reply needs to thread under it."""

    message_id: str | None
    references: tuple[str, ...] = ()
    subject: str = ""


def new_message_id(domain: str, now: float | None = None) -> str:
    """A new Message-ID under our domain (without angle brackets); time-sortable."""
    return f"{new_id(now)}@{domain}"


def _base(
    settings: EmailSettings,
    case: CaseRef,
    to: str,
    subject: str,
    parent: ParentMessage | None,
    now: float,
    from_name: str | None,
) -> tuple[EmailMessage, str]:
    msg = EmailMessage(policy=MAIL_POLICY)
    message_id = new_message_id(settings.message_id_domain, now)
    local, _, domain = settings.from_address.rpartition("@")
    msg["From"] = Address(from_name or settings.from_name, local, domain)
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
    msg["Message-ID"] = f"<{message_id}>"
    if parent is not None and parent.message_id:
        msg["In-Reply-To"] = f"<{parent.message_id}>"
        refs = references_for_reply(parent.message_id, parent.references)
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    # Lets us recognise our own mail if it ever comes back (loop protection).
    msg["X-Ccserver-Case"] = case.case_number
    return msg, message_id


def compose_ack(
    settings: EmailSettings,
    case: CaseRef,
    to: str,
    parent: ParentMessage,
    subject: str,
    body: str,
    now: float,
) -> tuple[EmailMessage, str]:
    """An automatic acknowledgement, marked per RFC 3834 so other robots do not answer."""
    msg, message_id = _base(
        settings, case, to, with_case_token(subject, case.case_number), parent, now, None
    )
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(body)
    return msg, message_id


def compose_reply(
    settings: EmailSettings,
    case: CaseRef,
    to: str,
    body: str,
    now: float,
    *,
    parent: ParentMessage | None = None,
    subject: str = "",
    agent_name: str | None = None,
    cc: tuple[str, ...] = (),
    attachments: tuple[Attachment, ...] = (),
    html: str | None = None,
) -> tuple[EmailMessage, str]:
    """An agent's reply in the case thread. Returns the message and its Message-ID."""
    from_name = f"{agent_name} ({settings.from_name})" if agent_name else None
    msg, message_id = _base(
        settings,
        case,
        to,
        reply_subject(subject or (parent.subject if parent else ""), case.case_number),
        parent,
        now,
        from_name,
    )
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for att in attachments:
        maintype, _, subtype = att.content_type.partition("/")
        msg.add_attachment(
            att.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=att.filename,
        )
    return msg, message_id


def display_from(settings: EmailSettings) -> str:
    return formataddr((settings.from_name, settings.from_address))
