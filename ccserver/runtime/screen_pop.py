"""The screen pop: everything an agent should see the moment an interaction is offered.

One read per section, each bounded (last N), all by indexed columns (customer_id). Built
once per offer; the offer frame carries it so the console needs no second round trip.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.models import Complaint, Contact, Customer, CustomerIdentity, FollowUp, Order

OPEN_COMPLAINT_STATES = (
    "received",
    "acknowledged",
    "investigating",
    "resolved",
    "customer_feedback",
)
PENDING_FOLLOWUP_STATES = ("planned", "due", "in_progress")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _num(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


async def build_screen_pop(
    sessions: async_sessionmaker[AsyncSession],
    customer_id: str | None,
    routing: dict[str, Any],
    *,
    contacts_limit: int = 10,
    orders_limit: int = 5,
) -> dict[str, Any]:
    """``routing`` says why the interaction came here (queue, IVR path and inputs, EWT at
    arrival, caller number); it is passed through so the console can show it."""
    pop: dict[str, Any] = {
        "routing": routing,
        "customer": None,
        "complaints": [],
        "contacts": [],
        "orders": [],
        "follow_ups": [],
    }
    if customer_id is None:
        return pop
    async with sessions() as s:
        customer = await s.get(Customer, customer_id)
        if customer is None:
            return pop
        identities = (
            await s.scalars(
                select(CustomerIdentity).where(CustomerIdentity.customer_id == customer_id)
            )
        ).all()
        pop["customer"] = {
            "id": customer.id,
            "customer_number": customer.customer_number,
            "name": customer.display_name,
            "company": customer.company,
            "tier": customer.tier,
            "segment": customer.segment,
            "lifecycle_stage": customer.lifecycle_stage,
            "lifetime_value": _num(customer.lifetime_value),
            "preferred_language": customer.preferred_language,
            "consent": {
                "phone": customer.consent_phone,
                "email": customer.consent_email,
                "sms": customer.consent_sms,
                "survey": customer.consent_survey,
                "marketing": customer.consent_marketing,
            },
            "tags": list(customer.tags or []),
            "identities": [{"kind": i.kind, "value": i.value} for i in identities],
        }
        complaints = (
            await s.scalars(
                select(Complaint)
                .where(
                    Complaint.customer_id == customer_id,
                    Complaint.status.in_(OPEN_COMPLAINT_STATES),
                )
                .order_by(Complaint.created_at.desc())
                .limit(10)
            )
        ).all()
        pop["complaints"] = [
            {
                "id": c.id,
                "case_number": c.case_number,
                "category": c.category,
                "subcategory": c.subcategory,
                "severity": c.severity,
                "status": c.status,
                "description": c.description[:300],
                "sla_due_at": _iso(c.sla_due_at),
            }
            for c in complaints
        ]
        contacts = (
            await s.scalars(
                select(Contact)
                .where(Contact.customer_id == customer_id)
                .order_by(Contact.started_at.desc())
                .limit(contacts_limit)
            )
        ).all()
        pop["contacts"] = [
            {
                "id": c.id,
                "channel": c.channel,
                "direction": c.direction,
                "queue": c.queue,
                "agent_id": c.agent_id,
                "started_at": _iso(c.started_at),
                "outcome": c.outcome,
                "disposition": c.disposition,
                "notes": c.notes,
            }
            for c in contacts
        ]
        orders = (
            await s.scalars(
                select(Order)
                .where(Order.customer_id == customer_id)
                .order_by(Order.ordered_at.desc())
                .limit(orders_limit)
            )
        ).all()
        pop["orders"] = [
            {
                "order_number": o.order_number,
                "status": o.status,
                "total": _num(o.total),
                "currency": o.currency,
                "ordered_at": _iso(o.ordered_at),
                "shipped_at": _iso(o.shipped_at),
                "delivered_at": _iso(o.delivered_at),
                "carrier": o.carrier,
            }
            for o in orders
        ]
        follow_ups = (
            await s.scalars(
                select(FollowUp)
                .where(
                    FollowUp.customer_id == customer_id,
                    FollowUp.status.in_(PENDING_FOLLOWUP_STATES),
                )
                .order_by(FollowUp.window_start)
                .limit(5)
            )
        ).all()
        pop["follow_ups"] = [
            {
                "id": f.id,
                "purpose": f.purpose,
                "status": f.status,
                "channel": f.channel,
                "window_start": _iso(f.window_start),
            }
            for f in follow_ups
        ]
    return pop
