"""Contact-us, complaint and callback-request forms as routed interactions.

Each valid submission finds or creates the customer, becomes a Channel.WEB interaction
(a CALLBACK one for callback requests) with a case number, its text a ``messages`` row,
and is enqueued. A filled honeypot field means a bot: the answer looks like success but
nothing is created.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ccserver.channels.forms.callbacks import CallbackService
from ccserver.channels.forms.crm_glue import CaseNumbers, MessageWriter, find_or_create_customer
from ccserver.channels.forms.parking import ParkedWork
from ccserver.crm.customers import CustomerService
from ccserver.crm.identities import IdentityError, normalise_email
from ccserver.domain import Channel
from ccserver.runtime.contact_center import ContactCenter

_PHONE = r"^\+?[0-9 ()./-]{4,32}$"


def _email(v: str | None) -> str | None:
    if not v:
        return None
    try:
        return normalise_email(v)
    except IdentityError as exc:
        raise ValueError(str(exc)) from None


class _Form(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    website: str = Field("", max_length=200)  # honeypot: hidden from people, bots fill it

    @field_validator("name")
    @classmethod
    def _one_line(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("required")
        return v

    @field_validator("email", check_fields=False)
    @classmethod
    def _valid_email(cls, v: str | None) -> str | None:
        return _email(v)


class ContactForm(_Form):
    email: str = Field(min_length=3, max_length=254)
    phone: str | None = Field(None, pattern=_PHONE)
    subject: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=5000)


class ComplaintForm(_Form):
    email: str = Field(min_length=3, max_length=254)
    phone: str | None = Field(None, pattern=_PHONE)
    # The complaint taxonomy (e.g. product/delivery, service/attitude); with both, the
    # complaint is also filed in the CRM's complaint workflow.
    category: str | None = Field(None, max_length=32, pattern=r"^[a-z_]*$")
    subcategory: str | None = Field(None, max_length=32, pattern=r"^[a-z_]*$")
    order_ref: str | None = Field(None, max_length=64)
    description: str = Field(min_length=1, max_length=5000)


class CallbackForm(_Form):
    phone: str = Field(pattern=_PHONE)
    email: str | None = Field(None, max_length=254)
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    note: str | None = Field(None, max_length=1000)


@dataclass(frozen=True, slots=True)
class FormOptions:
    queues: dict[str, str] = field(
        default_factory=lambda: {"contact": "general", "complaint": "complaints"}
    )
    max_per_ip: int = 5  # submissions per IP per window (each form counted separately)
    window_s: float = 600.0


@dataclass(frozen=True, slots=True)
class Submitted:
    case_number: str | None  # None: a honeypot hit (nothing was created)
    interaction_id: str | None


def _ts(d: dt.datetime | None) -> float | None:
    if d is None:
        return None
    return (d if d.tzinfo else d.replace(tzinfo=dt.UTC)).timestamp()


class FormsService:
    def __init__(
        self,
        cc: ContactCenter,
        customers: CustomerService,
        writer: MessageWriter,
        cases: CaseNumbers,
        callbacks: CallbackService,
        options: FormOptions = FormOptions(),
        complaints: Callable[[], Any] | None = None,
        parking: ParkedWork | None = None,
    ) -> None:
        self.cc = cc
        self.customers = customers
        self.writer = writer
        self.cases = cases
        self.callbacks = callbacks
        self.options = options
        self.honeypot_hits = 0
        self.parking = parking
        self._complaints = complaints  # -> the CRM's ComplaintService (built on first use)

    def _queue(self, kind: str) -> str:
        queue = self.options.queues.get(kind, "general")
        return queue if queue in self.cc.routing.config.queues else "general"

    async def contact(self, form: ContactForm) -> Submitted:
        if form.website:
            return self._trap()
        return await self._web(
            "contact", form.name, form.email, form.phone, form.subject, form.message, {}
        )

    async def complaint(self, form: ComplaintForm) -> Submitted:
        if form.website:
            return self._trap()
        extra: dict[str, Any] = {
            "complaint_category": form.category,
            "complaint_subcategory": form.subcategory,
            "order_ref": form.order_ref,
        }
        subject = f"Complaint{f' about order {form.order_ref}' if form.order_ref else ''}"
        customer_id = await find_or_create_customer(
            self.customers, name=form.name, email=form.email, phone=form.phone
        )
        if form.category and form.subcategory and customer_id and self._complaints:
            # Filed first: a category outside the taxonomy is refused before anything else.
            filed = await self._complaints().create(
                customer_id=customer_id,
                category=form.category,
                subcategory=form.subcategory,
                description=form.description,
                channel="web",
                order_ref=form.order_ref,
                note="web complaint form",
            )
            extra["complaint_id"] = filed["id"]
            extra["complaint_number"] = filed["case_number"]
        return await self._web(
            "complaint", form.name, form.email, form.phone, subject, form.description, extra,
            customer_id=customer_id,
        )  # fmt: skip

    async def callback(self, form: CallbackForm) -> Submitted:
        if form.website:
            return self._trap()
        phone = self.callbacks.normalise(form.phone)
        customer_id = await find_or_create_customer(
            self.customers, name=form.name, email=form.email, phone=phone
        )
        i = await self.callbacks.request(
            phone,
            name=form.name,
            customer_id=customer_id,
            window_start=_ts(form.window_start),
            window_end=_ts(form.window_end),
            source="form",
            note=form.note,
        )
        if form.note and i.contact_id:
            await self.writer.write(i.contact_id, "inbound", form.note, sender=phone)
        return Submitted(str(i.attributes["case_number"]), i.id)

    async def leave_message(
        self, name: str, email: str | None, phone: str | None, text: str, customer_id: str | None
    ) -> str:
        """The chat's "no agents - leave a message" path: same as a contact form."""
        done = await self._web(
            "contact", name, email, phone, "Message left in chat", text, {"source": "chat"},
            customer_id=customer_id,
        )  # fmt: skip
        return str(done.case_number)

    def _trap(self) -> Submitted:
        self.honeypot_hits += 1
        return Submitted(None, None)

    async def _web(
        self,
        kind: str,
        name: str,
        email: str | None,
        phone: str | None,
        subject: str,
        text: str,
        extra: dict[str, Any],
        *,
        customer_id: str | None = None,
    ) -> Submitted:
        if customer_id is None:
            customer_id = await find_or_create_customer(
                self.customers, name=name, email=email, phone=phone
            )
        number = self.cases.allocate()
        i = await self.cc.new_interaction(
            Channel.WEB,
            customer_id=customer_id,
            attributes={
                "form": kind,
                "from": email or phone,
                "from_address": email,
                "customer_name": name,
                "subject": subject,
                "case_number": number,
                **{k: v for k, v in extra.items() if v is not None},
            },
        )
        assert i.contact_id is not None
        await self.writer.write(i.contact_id, "inbound", text, sender=email or phone,
                                subject=subject)  # fmt: skip
        if self.parking is not None:
            await self.parking.enqueue(i.id, self._queue(kind))
        else:
            await self.cc.enqueue(i.id, self._queue(kind))
        return Submitted(number, i.id)
