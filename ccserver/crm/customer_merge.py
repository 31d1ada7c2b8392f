"""Merging two customer records that turned out to be one person.

Nothing of either is lost: every identity, contact, complaint, order, follow-up and survey
response of the absorbed customer moves to the survivor; blank fields of the survivor are
filled from the absorbed one; the absorbed row stays (``merged_into_id`` set) so old
references and links keep resolving to the survivor.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccserver.crm.audit import Actor, add_audit
from ccserver.crm.customer_validation import CONSENT_FIELDS
from ccserver.crm.errors import MergeRefused
from ccserver.crm.models import (
    Complaint,
    Contact,
    Customer,
    CustomerHistory,
    CustomerIdentity,
    FollowUp,
    Order,
    SurveyResponse,
    utcnow,
)

# Records that point at a customer and move with the merge.
MOVED = (CustomerIdentity, Contact, Complaint, Order, FollowUp, SurveyResponse)
FILL_IF_BLANK = (
    "first_name",
    "last_name",
    "company",
    "segment",
    "tier",
    "lifecycle_stage",
    "preferred_language",
    "owner_agent_id",
)


def _refuse(message: str, survivor: Customer, absorbed: Customer) -> MergeRefused:
    return MergeRefused(message, details={"survivor_id": survivor.id, "absorbed_id": absorbed.id})


async def merge(
    session: AsyncSession, survivor: Customer, absorbed: Customer, actor: Actor
) -> dict[str, int]:
    """Merge inside the caller's transaction; returns how many rows of each kind moved."""
    if survivor.id == absorbed.id:
        raise _refuse("cannot merge a customer with itself", survivor, absorbed)
    for c in (survivor, absorbed):
        if c.merged_into_id or c.erased_at is not None:
            raise _refuse(f"customer {c.customer_number} was merged or erased", survivor, absorbed)

    # The survivor keeps its primary phone/email; moved ones of the same kind become extras.
    survivor_kinds = select(CustomerIdentity.kind).where(
        CustomerIdentity.customer_id == survivor.id, CustomerIdentity.is_primary
    )
    await session.execute(
        update(CustomerIdentity)
        .where(
            CustomerIdentity.customer_id == absorbed.id, CustomerIdentity.kind.in_(survivor_kinds)
        )
        .values(is_primary=False)
    )
    moved: dict[str, int] = {}
    for model in MOVED:
        result = await session.execute(
            update(model).where(model.customer_id == absorbed.id).values(customer_id=survivor.id)
        )
        moved[model.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    # Earlier merges into the absorbed customer now point at the survivor (no chains).
    await session.execute(
        update(Customer)
        .where(Customer.merged_into_id == absorbed.id)
        .values(merged_into_id=survivor.id)
    )

    now = utcnow()
    changes: dict[str, tuple[Any, Any]] = {}
    for name in FILL_IF_BLANK:
        if getattr(survivor, name) in (None, "") and getattr(absorbed, name) not in (None, ""):
            changes[name] = (getattr(survivor, name), getattr(absorbed, name))
    tags = list(dict.fromkeys([*survivor.tags, *absorbed.tags]))
    if tags != list(survivor.tags):
        changes["tags"] = (list(survivor.tags), tags)
    if absorbed.lifetime_value:
        total = Decimal(survivor.lifetime_value) + Decimal(absorbed.lifetime_value)
        changes["lifetime_value"] = (survivor.lifetime_value, total)
    if absorbed.notes:
        notes = "\n\n".join(n for n in (survivor.notes, absorbed.notes) if n)
        changes["notes"] = (survivor.notes, notes)
    # A consent withdrawn on either record stays withdrawn: the customer said no once.
    for name in CONSENT_FIELDS:
        if getattr(survivor, name) and not getattr(absorbed, name):
            changes[name] = (True, False)

    new_version = survivor.version + 1
    for name, (old, new) in changes.items():
        setattr(survivor, name, new)
        session.add(
            CustomerHistory(
                customer_id=survivor.id,
                field=name,
                old_value=_plain(old),
                new_value=_plain(new),
                changed_by=actor.id,
                changed_at=now,
                version=new_version,
            )
        )
    if "last_name" in changes:
        survivor.last_name_key = (survivor.last_name or "").lower() or None
    session.add(
        CustomerHistory(
            customer_id=survivor.id,
            field="merged",
            old_value=None,
            new_value={"absorbed_id": absorbed.id, "customer_number": absorbed.customer_number},
            changed_by=actor.id,
            changed_at=now,
            version=new_version,
        )
    )
    session.add(
        CustomerHistory(
            customer_id=absorbed.id,
            field="merged_into_id",
            old_value=None,
            new_value=survivor.id,
            changed_by=actor.id,
            changed_at=now,
            version=absorbed.version + 1,
        )
    )
    survivor.updated_at = now
    absorbed.merged_into_id = survivor.id
    absorbed.updated_at = now
    add_audit(
        session,
        actor,
        "merge",
        "customer",
        survivor.id,
        {"absorbed_id": absorbed.id, "moved": moved},
    )
    return moved


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value
