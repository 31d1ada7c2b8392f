"""The :class:`EmailSink` over the CRM and the live contact center.

A case is the thread of contacts sharing one case number (``contacts.case_number``); its
id is the first contact's id. Every inbound mail becomes a Channel.EMAIL interaction on
its case (a new contact, linked to the first one), its body a ``messages`` row; a reply to
a case asks routing for the agent who last handled it.

Rows are written through the durable outbox, so a lookup right after a write might not see
them yet: recent Message-IDs and cases are also remembered here (bounded), the database
answers for older ones.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.channels.email.delivery import Delivery, DeliveryStatus
from ccserver.channels.email.parsing import MailFlag, ParsedEmail
from ccserver.channels.email.threading import CaseRef
from ccserver.channels.forms.crm_glue import CaseNumbers, MessageWriter, find_or_create_customer
from ccserver.channels.forms.parking import ParkedWork
from ccserver.crm.customers import CustomerService
from ccserver.crm.models import Contact, Message
from ccserver.domain import Channel, new_id
from ccserver.logs import get_logger
from ccserver.runtime.channel_port import QuietChannelAdapter
from ccserver.runtime.contact_center import ContactCenter
from ccserver.runtime.pending_work import EMAIL_DELIVERY, PendingWorkStore
from ccserver.web.hub import agent_topic

log = get_logger(__name__)
MAX_REMEMBERED = 50_000
PENDING_DELIVERY = frozenset({DeliveryStatus.QUEUED, DeliveryStatus.FAILED_RETRYING})


class _Lru(OrderedDict[str, CaseRef]):
    def put(self, key: str, value: CaseRef) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > MAX_REMEMBERED:
            self.popitem(last=False)


class CrmEmailSink:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cc: ContactCenter,
        writer: MessageWriter,
        cases: CaseNumbers,
        *,
        queue: str,
        default_region: str = "US",
        raw_dir: Path | None = None,
        parking: ParkedWork | None = None,
        pending: PendingWorkStore | None = None,
    ) -> None:
        self.sessions = sessions
        self.cc = cc
        self.writer = writer
        self.cases = cases
        self.queue = queue
        # The mail exactly as received (attachments included) is kept as a file per
        # message: the messages row holds the decoded text and points at the file.
        self.raw_dir = raw_dir
        self.parking = parking  # mail that arrives after hours waits for the queue to open
        # Replies waiting for the relay are kept as pending_work rows until sent or failed.
        self.pending = pending
        self.customers = CustomerService(sessions, default_region=default_region)
        self._by_id = _Lru()
        self._by_number = _Lru()
        self._latest_contact: dict[str, str] = {}  # case number -> newest contact id
        # Stored mail -> its interaction, until the service asks to enqueue it.
        self._pending: dict[int, tuple[ParsedEmail, str]] = {}
        self.delivery_status: dict[str, DeliveryStatus] = {}
        self._delivery_agent: dict[str, str] = {}

    # --- lookups -------------------------------------------------------------------------
    async def find_cases(
        self, message_ids: Sequence[str], case_numbers: Sequence[str]
    ) -> tuple[Mapping[str, CaseRef], Mapping[str, CaseRef]]:
        by_id = {m: self._by_id[m] for m in message_ids if m in self._by_id}
        by_number = {n: self._by_number[n] for n in case_numbers if n in self._by_number}
        missing_ids = [m for m in message_ids if m not in by_id]
        missing_numbers = {n for n in case_numbers if n not in by_number}
        if missing_ids:
            async with self.sessions() as s:
                rows = await s.execute(
                    select(Message.message_id, Contact.case_number)
                    .join(Contact, Contact.id == Message.contact_id)
                    .where(Message.message_id.in_(missing_ids), Contact.case_number.is_not(None))
                )
                found = [(str(m), str(n)) for m, n in rows.all()]
            for mid, number in found:
                case = by_number.get(number) or await self._case_from_db(number)
                if case is not None:
                    by_id[mid] = case
        for number in missing_numbers:
            case = await self._case_from_db(number)
            if case is not None:
                by_number[number] = case
        return by_id, by_number

    async def _case_from_db(self, number: str) -> CaseRef | None:
        async with self.sessions() as s:
            rows = (
                await s.execute(
                    select(Contact.id, Contact.customer_id, Contact.agent_id, Contact.attributes)
                    .where(Contact.case_number == number)
                    .order_by(Contact.started_at)
                )
            ).all()
        if not rows:
            return None
        agents = [r.agent_id for r in rows if r.agent_id]
        customer = next((r.customer_id for r in rows if r.customer_id), None)
        address = next(
            (r.attributes.get("from_address") for r in rows if r.attributes.get("from_address")),
            None,
        )
        case = CaseRef(rows[0].id, number, customer, address, agents[-1] if agents else None)
        self._by_number.put(number, case)
        return case

    # --- inbound -------------------------------------------------------------------------
    async def store_inbound(self, mail: ParsedEmail, case: CaseRef | None) -> CaseRef:
        if case is None:
            customer_id = await find_or_create_customer(
                self.customers, name=mail.from_name, email=mail.from_address
            )
            number = self.cases.allocate()
        else:
            customer_id, number = case.customer_id, case.case_number
        attributes: dict[str, Any] = {
            "from": mail.from_address,
            "from_address": mail.from_address,
            "from_name": mail.from_name,
            "reply_to": mail.reply_address,
            "subject": mail.subject[:300],
            "case_number": number,
            "message_id": mail.message_id,
            "references": list(mail.references[-20:]),
            "email_flags": sorted(f.value for f in mail.flags),
        }
        if case is not None:
            attributes["related_contact_id"] = case.case_id
        i = await self.cc.new_interaction(
            Channel.EMAIL, customer_id=customer_id, attributes=attributes
        )
        assert i.contact_id is not None
        if case is None:
            case = CaseRef(i.contact_id, number, customer_id, mail.from_address)
        self._latest_contact[number] = i.contact_id
        row_id = new_id()
        raw_ref = await self._keep_raw(row_id, mail.raw)
        await self.writer.write(
            i.contact_id,
            "inbound",
            mail.text,
            sender=mail.from_address,
            subject=mail.subject,
            recipients=list(mail.to),
            html=mail.html,
            message_id=mail.message_id,
            in_reply_to=mail.in_reply_to[0] if mail.in_reply_to else None,
            headers={
                "flags": sorted(f.value for f in mail.flags),
                "notes": list(mail.notes),
                "references": list(mail.references),
                "raw_ref": raw_ref,
                **mail.loop_headers,
            },
            row_id=row_id,
            attachments=[
                {"filename": a.filename, "content_type": a.content_type, "size": len(a.data)}
                for a in mail.attachments
            ],
        )
        self._by_number.put(number, case)
        if mail.message_id:
            self._by_id.put(mail.message_id, case)
        if MailFlag.RATE_LIMITED in mail.flags:
            # Stored and visible on the case, but a mail bomb is not work for an agent.
            await self.cc.resolved_in_self_service(i.id, "rate_limited")
        else:
            self._pending[id(mail)] = (mail, i.id)
        return case

    async def _keep_raw(self, row_id: str, raw: bytes) -> str | None:
        if self.raw_dir is None:
            return None
        relative = f"{row_id[:8]}/{row_id}.eml"
        path = self.raw_dir / relative

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(raw)

        await asyncio.to_thread(write)  # an error here answers 451: the MTA retries
        return relative

    async def enqueue(
        self, case: CaseRef, mail: ParsedEmail, preferred_agent_id: str | None
    ) -> None:
        pending = self._pending.pop(id(mail), None)
        if pending is None:
            log.warning("email enqueue without a stored interaction", case=case.case_number)
            return
        if self.parking is not None:
            await self.parking.enqueue(
                pending[1], self.queue, preferred_agent_id=preferred_agent_id
            )
        else:
            await self.cc.enqueue(pending[1], self.queue, preferred_agent_id=preferred_agent_id)

    # --- outbound ------------------------------------------------------------------------
    async def record_outbound(
        self, case: CaseRef, delivery: Delivery, agent_id: str | None
    ) -> None:
        known = self._by_number.get(case.case_number, case)
        if agent_id is not None:
            known = replace(known, last_agent_id=agent_id)
            self._delivery_agent[delivery.id] = agent_id
        self._by_number.put(case.case_number, known)
        self._by_id.put(delivery.id, known)
        if agent_id is not None:
            await self._keep(delivery)  # again, now that the agent to notify is known
        msg = email.message_from_bytes(delivery.data, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",)) if hasattr(msg, "get_body") else None
        text = body.get_content() if body is not None else ""
        await self.writer.write(
            self._latest_contact.get(case.case_number, case.case_id),
            "outbound",
            str(text),
            sender=delivery.sender or None,
            subject=str(msg.get("Subject", "")),
            recipients=list(delivery.recipients),
            message_id=delivery.id,
            in_reply_to=str(msg.get("In-Reply-To", "")).strip("<> ") or None,
            headers={"kind": delivery.kind, "agent_id": agent_id},
        )

    async def _keep(self, d: Delivery) -> None:
        if self.pending is None:
            return
        payload = {
                "sender": d.sender,
                "recipients": list(d.recipients),
                "data": base64.b64encode(d.data).decode("ascii"),
                "case_number": d.case_number,
                "kind": d.kind,
                "status": d.status.value,
                "attempts": d.attempts,
                "last_error": d.last_error,
            "agent_id": self._delivery_agent.get(d.id),
        }
        if d.status in PENDING_DELIVERY:
            await self.pending.keep(EMAIL_DELIVERY, d.id, payload, d.next_attempt_at or None)
        elif d.status is DeliveryStatus.FAILED:
            # Kept whole (not restored at start) so a supervisor can still retry it.
            await self.pending.keep(EMAIL_DELIVERY, d.id, payload, state="failed")
        else:
            await self.pending.done(d.id, d.status.value)

    async def pending_deliveries(self) -> list[Delivery]:
        """Replies and acknowledgements the relay had not taken when the last run stopped,
        for :meth:`OutboundMailer.restore`."""
        if self.pending is None:
            return []
        out = []
        for item in await self.pending.pending(EMAIL_DELIVERY):
            out.append(self.delivery_from_record(item.id, item.payload))
        return out

    def delivery_from_record(self, message_id: str, p: dict[str, Any]) -> Delivery:
        """The delivery a ``pending_work`` payload describes (see :meth:`_keep`)."""
        if p.get("agent_id"):
            self._delivery_agent[message_id] = str(p["agent_id"])
        return Delivery(
            id=message_id,
            sender=str(p.get("sender", "")),
            recipients=tuple(p.get("recipients") or ()),
            data=base64.b64decode(p["data"]),
            case_number=p.get("case_number"),
            kind=str(p.get("kind", "reply")),
            status=DeliveryStatus(p.get("status", DeliveryStatus.QUEUED.value)),
            attempts=int(p.get("attempts", 0)),
            last_error=p.get("last_error"),
        )

    async def delivery_changed(self, delivery: Delivery) -> None:
        self.delivery_status[delivery.id] = delivery.status
        await self._keep(delivery)
        agent = self._delivery_agent.get(delivery.id)
        if agent is None:
            return
        data = {
            "message_id": delivery.id,
            "case_number": delivery.case_number,
            "status": delivery.status.value,
            "error": delivery.last_error,
        }
        try:
            await self.cc.bus.publish(agent_topic(agent), {"type": "email_delivery", "data": data})
        except Exception:
            log.warning("email delivery status not published", exc_info=True)


class EmailAdapter(QuietChannelAdapter):
    """Email has no live leg: offers and accepts happen on the console only; overflow and
    after-hours leave the mail stored on its case, and a transfer needs nothing here (the
    new interaction carries the case's attributes)."""

    label = "an email"
