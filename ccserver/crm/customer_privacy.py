"""Data-subject requests (DESIGN.md §10): export everything held about a customer, erase it.

Erasure anonymises rather than deletes: contacts, complaints, orders and survey scores stay
(reports and legal retention need the counts), but every field that identifies or
describes the person — names, identities, notes, message bodies, free-text answers, field
history — is cleared, and the customer can no longer be found or changed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccserver.crm.audit import Actor, add_audit
from ccserver.crm.customer_validation import CONSENT_FIELDS
from ccserver.crm.models import (
    Base,
    Complaint,
    Contact,
    Customer,
    CustomerHistory,
    CustomerIdentity,
    FollowUp,
    Message,
    Order,
    SurveyResponse,
    utcnow,
)

ERASED_NAME = "Erased customer"


def _row(obj: Base) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col in obj.__table__.columns:
        value = getattr(obj, col.key)
        if isinstance(value, dt.datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        out[col.key] = value
    out.pop("name_key", None)
    out.pop("last_name_key", None)
    return out


async def export(session: AsyncSession, customer: Customer) -> dict[str, Any]:
    """Every record linked to ``customer`` as JSON-ready dicts."""
    cid = customer.id

    async def rows(model: Any, *where: Any) -> list[dict[str, Any]]:
        result = await session.scalars(select(model).where(*where))
        return [_row(r) for r in result]

    contacts = await rows(Contact, Contact.customer_id == cid)
    contact_ids = [c["id"] for c in contacts]
    return {
        "customer": _row(customer),
        "identities": await rows(CustomerIdentity, CustomerIdentity.customer_id == cid),
        "history": await rows(CustomerHistory, CustomerHistory.customer_id == cid),
        "contacts": contacts,
        "messages": await rows(Message, Message.contact_id.in_(contact_ids)) if contact_ids else [],
        "complaints": await rows(Complaint, Complaint.customer_id == cid),
        "orders": await rows(Order, Order.customer_id == cid),
        "follow_ups": await rows(FollowUp, FollowUp.customer_id == cid),
        "survey_responses": await rows(SurveyResponse, SurveyResponse.customer_id == cid),
        "merged_from": [
            r
            for (r,) in (
                await session.execute(select(Customer.id).where(Customer.merged_into_id == cid))
            ).all()
        ],
    }


async def erase(session: AsyncSession, customer: Customer, actor: Actor) -> None:
    """Anonymise ``customer`` and its linked records inside the caller's transaction."""
    cid = customer.id
    now = utcnow()
    await session.execute(delete(CustomerIdentity).where(CustomerIdentity.customer_id == cid))
    await session.execute(delete(CustomerHistory).where(CustomerHistory.customer_id == cid))
    contact_ids = select(Contact.id).where(Contact.customer_id == cid).scalar_subquery()
    await session.execute(
        update(Message)
        .where(Message.contact_id.in_(contact_ids))
        .values(
            sender=None,
            recipients=[],
            subject=None,
            body_text=None,
            body_html=None,
            headers={},
            attachments=[],
        )
    )
    await session.execute(
        update(Contact)
        .where(Contact.customer_id == cid)
        .values(notes=None, recording_ref=None, attributes={})
    )
    await session.execute(
        update(Complaint)
        .where(Complaint.customer_id == cid)
        .values(description="[erased]", resolution=None, history=[])
    )
    await session.execute(update(FollowUp).where(FollowUp.customer_id == cid).values(answers={}))
    await session.execute(
        update(SurveyResponse).where(SurveyResponse.customer_id == cid).values(text=None)
    )
    customer.display_name = ERASED_NAME
    customer.name_key = ERASED_NAME.lower()
    for name in ("first_name", "last_name", "last_name_key", "company", "notes"):
        setattr(customer, name, None)
    for name in ("owner_agent_id", "preferred_language"):
        setattr(customer, name, None)
    for name in CONSENT_FIELDS:
        setattr(customer, name, False)
    customer.tags = []
    customer.erased_at = now
    customer.updated_at = now
    add_audit(session, actor, "erase", "customer", cid)
