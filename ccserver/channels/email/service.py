"""The email channel service: parse -> thread -> store -> acknowledge -> enqueue, and agents'
replies out through the relay. The rest of ccserver plugs in through :class:`EmailSink`.

Order matters: the mail is stored *before* anything else may fail (acknowledgement, queue),
so the SMTP listener only answers 250 once the mail is safe, and the IMAP poller only
marks a message seen after it is stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ccserver.channels.email.autoreply import AckDecision, AutoAckPolicy, FloodGuard
from ccserver.channels.email.compose import ParentMessage, compose_ack, compose_reply
from ccserver.channels.email.config import EmailSettings
from ccserver.channels.email.delivery import Delivery
from ccserver.channels.email.outbound import OutboundMailer
from ccserver.channels.email.parsing import Attachment, MailFlag, ParsedEmail, parse_email
from ccserver.channels.email.templates import detect_language, render_ack
from ccserver.channels.email.threading import CaseRef, choose_case, thread_keys

log = logging.getLogger(__name__)


class EmailSink(Protocol):
    """What the email channel needs from the CRM and the interaction runtime."""

    async def find_cases(
        self, message_ids: Sequence[str], case_numbers: Sequence[str]
    ) -> tuple[Mapping[str, CaseRef], Mapping[str, CaseRef]]:
        """Cases known by any of these Message-IDs (inbound or outbound) and case numbers."""
        ...

    async def store_inbound(self, mail: ParsedEmail, case: CaseRef | None) -> CaseRef:
        """Persist the mail (raw bytes included) on ``case``, or on a new case (matching or
        creating the customer by address) when ``case`` is None. Returns the case."""
        ...

    async def enqueue(
        self, case: CaseRef, mail: ParsedEmail, preferred_agent_id: str | None
    ) -> None:
        """Create/update the email interaction for routing (capacity channel "email")."""
        ...

    async def record_outbound(
        self, case: CaseRef, delivery: Delivery, agent_id: str | None
    ) -> None:
        """Remember an outgoing mail (its Message-ID threads replies; agent_id becomes the
        case's preferred agent)."""
        ...

    async def delivery_changed(self, delivery: Delivery) -> None:
        """A delivery's status changed (queued / sent / failed_retrying / failed)."""
        ...


@dataclass(frozen=True, slots=True)
class InboundResult:
    case: CaseRef
    new_case: bool
    matched_by: str | None
    preferred_agent_id: str | None
    ack: AckDecision
    ack_message_id: str | None
    enqueued: bool
    mail: ParsedEmail


class EmailChannelService:
    def __init__(
        self,
        settings: EmailSettings,
        sink: EmailSink,
        mailer: OutboundMailer | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.mailer = mailer
        self._clock = clock
        self._flood = FloodGuard(settings.flood)
        self._acks = AutoAckPolicy(
            settings.autoack, settings.message_id_domain, settings.from_address
        )
        if mailer is not None:
            mailer.on_status = sink.delivery_changed

    async def receive(
        self,
        raw: bytes,
        *,
        envelope_from: str | None = None,
        envelope_to: Sequence[str] = (),
    ) -> InboundResult:
        """One inbound mail through the whole pipeline. Raises only if storing fails (the
        caller then answers 451 / leaves the IMAP message unseen so it is retried)."""
        now = self._clock()
        mail = parse_email(
            raw,
            self.settings.attachments,
            envelope_from=envelope_from,
            envelope_to=tuple(envelope_to),
        )
        # Keyed on From (what a bomber must keep to be recognised as "one sender"); bounces
        # come from MAILER-DAEMON@host, so a backscatter storm is caught too.
        flooded = self._flood.observe(mail.from_address or envelope_from or "<>", now)
        if flooded:
            mail = replace(
                mail,
                flags=mail.flags | {MailFlag.RATE_LIMITED},
                notes=(*mail.notes, "sender over the inbound rate limit (possible mail bomb)"),
            )
        keys = thread_keys(mail, self.settings.case_prefix)
        numbers = [keys.case_number] if keys.case_number else []
        by_id, by_number = await self.sink.find_cases(keys.message_ids, numbers)
        match = choose_case(mail, keys, by_id, by_number)
        if match.note:
            mail = replace(mail, notes=(*mail.notes, match.note))

        case = await self.sink.store_inbound(mail, match.case)

        decision = self._acks.decide(mail, now)
        ack_id = None
        if decision.send:
            ack_id = await self._send_ack(mail, case, now)
        enqueued = not flooded
        if enqueued:
            await self.sink.enqueue(case, mail, match.preferred_agent_id)
        return InboundResult(
            case=case,
            new_case=match.case is None,
            matched_by=match.matched_by,
            preferred_agent_id=match.preferred_agent_id,
            ack=decision,
            ack_message_id=ack_id,
            enqueued=enqueued,
            mail=mail,
        )

    async def _send_ack(self, mail: ParsedEmail, case: CaseRef, now: float) -> str | None:
        to = mail.reply_address
        if self.mailer is None or to is None:
            return None
        language = case.language or detect_language(
            f"{mail.subject}\n{mail.text}", self.settings.autoack.default_language
        )
        rendered = render_ack(
            language,
            case_number=case.case_number,
            subject=mail.subject,
            customer_name=mail.from_name,
            signature=self.settings.from_name,
        )
        parent = ParentMessage(mail.message_id, mail.references, mail.subject)
        msg, message_id = compose_ack(
            self.settings, case, to, parent, rendered.subject, rendered.body, now
        )
        try:
            delivery = await self.mailer.submit(
                msg, message_id, case_number=case.case_number, kind="ack"
            )
            await self.sink.record_outbound(case, delivery, None)
        except Exception:  # the inbound mail is stored; a lost ack must not fail it
            log.exception("could not queue acknowledgement for case %s", case.case_number)
            return None
        return message_id

    async def send_reply(
        self,
        case: CaseRef,
        *,
        to: str,
        body: str,
        agent_id: str | None,
        agent_name: str | None = None,
        parent: ParentMessage | None = None,
        subject: str = "",
        cc: tuple[str, ...] = (),
        attachments: tuple[Attachment, ...] = (),
        html: str | None = None,
    ) -> Delivery:
        """An agent's reply: composed with threading headers and the case token, queued on
        the relay, recorded on the case. Its status is reported through the sink."""
        if self.mailer is None:
            raise RuntimeError("email service has no outbound mailer configured")
        msg, message_id = compose_reply(
            self.settings,
            case,
            to,
            body,
            self._clock(),
            parent=parent,
            subject=subject,
            agent_name=agent_name,
            cc=cc,
            attachments=attachments,
            html=html,
        )
        delivery = await self.mailer.submit(msg, message_id, case_number=case.case_number)
        await self.sink.record_outbound(case, delivery, agent_id)
        return delivery
