"""What every text channel (forms, chat, email) does with the CRM: case numbers, the
customer behind an address or phone, and message rows written through the outbox.

Messages go through the durable outbox (``message.insert``) after the interaction's
``contact.insert``; the outbox keeps the order, so the row's contact always exists first.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.customers import CustomerService
from ccserver.crm.identities import IdentityKind
from ccserver.crm.models import Contact
from ccserver.crm.outbox import Outbox
from ccserver.domain import new_id
from ccserver.errors import CcserverError
from ccserver.logs import get_logger

log = get_logger(__name__)


class CaseNumbers:
    """``C-10001``, ``C-10002``…: short numbers a customer can read out on the phone.

    One allocator per process, primed from the highest number already in the contacts table
    (a restart never reuses one). Several nodes would need a database sequence: one node
    owns the text channels today."""

    def __init__(self, prefix: str = "C", first: int = 10001) -> None:
        self.prefix = prefix
        self._next = first
        self._pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)$")

    async def prime(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as s:
            rows = await s.execute(
                select(Contact.case_number)
                .where(Contact.case_number.like(f"{self.prefix}-%"))
                .order_by(func.length(Contact.case_number).desc(), Contact.case_number.desc())
                .limit(1)
            )
            top = rows.scalar()
        m = self._pattern.match(top or "")
        if m:
            self._next = max(self._next, int(m.group(1)) + 1)

    def allocate(self) -> str:
        number = f"{self.prefix}-{self._next}"
        self._next += 1
        return number


async def find_or_create_customer(
    customers: CustomerService,
    *,
    name: str | None,
    email: str | None = None,
    phone: str | None = None,
) -> str | None:
    """The customer owning this email (first) or phone; else a new customer with them.
    Returns None when nothing valid identifies the person (the contact is still written)."""
    for kind, value in ((IdentityKind.EMAIL, email), (IdentityKind.PHONE, phone)):
        if value:
            found = await customers.find_by_identity(kind, value)
            if found is not None:
                return found.id
    data: dict[str, Any] = {"display_name": (name or email or phone or "").strip()[:200]}
    if email:
        data["email"] = email
    if phone:
        data["phone"] = phone
    if not data["display_name"] or not (email or phone):
        return None
    try:
        view, _created = await customers.create_or_get(data)
    except CcserverError as exc:  # invalid address/phone: keep the contact anonymous
        log.info("customer not created from text channel", reason=str(exc))
        return None
    return view.id


class MessageWriter:
    """Chat lines, form bodies and emails as rows of the ``messages`` table."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def write(
        self,
        contact_id: str,
        direction: str,
        text: str,
        *,
        sender: str | None = None,
        subject: str | None = None,
        recipients: list[str] | None = None,
        html: str | None = None,
        message_id: str | None = None,
        in_reply_to: str | None = None,
        headers: dict[str, Any] | None = None,
        attachments: list[Any] | None = None,
        row_id: str | None = None,
    ) -> str:
        row_id = row_id or new_id()
        await self.outbox.put(
            "message.insert",
            {
                "id": row_id,
                "contact_id": contact_id,
                "direction": direction,
                "sender": sender[:320] if sender else None,
                "recipients": recipients or [],
                "subject": subject[:998] if subject else None,
                "body_text": text,
                "body_html": html,
                "headers": headers or {},
                "message_id": message_id,
                "in_reply_to": in_reply_to,
                "attachments": attachments or [],
                "created_at": dt.datetime.now(dt.UTC),
            },
        )
        return row_id
