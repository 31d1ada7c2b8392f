"""Recompute every customer's tier, lifecycle stage and lifetime value from their orders
(nightly from the scheduler, or on demand), with the rules of
:mod:`ccserver.crm.rules.segmentation`. Only changed customers are written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.audit import SYSTEM, add_audit
from ccserver.crm.models import Customer, Order
from ccserver.crm.rules.segmentation import SegmentationConfig, segment_customers
from ccserver.crm.services.common import now_utc


async def recompute_segments(
    sessions: async_sessionmaker[AsyncSession],
    config: SegmentationConfig,
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """Returns ``{"customers": scored, "changed": written}``."""
    at = now_utc(now)
    async with sessions.begin() as session:
        orders = (
            await session.execute(
                select(Order.customer_id, Order.ordered_at, Order.total, Order.status).where(
                    Order.customer_id.is_not(None)
                )
            )
        ).mappings()
        current = {
            r.id: r
            for r in (
                await session.execute(
                    select(
                        Customer.id,
                        Customer.tier,
                        Customer.lifecycle_stage,
                        Customer.lifetime_value,
                    ).where(Customer.erased_at.is_(None), Customer.merged_into_id.is_(None))
                )
            ).all()
        }
        values = segment_customers(list(orders), at.timestamp(), config, current)
        changed = 0
        for cid, value in values.items():
            old = current.get(cid)
            if old is None:
                continue
            clv = Decimal(str(round(value.clv, 2)))
            if (old.tier, old.lifecycle_stage, old.lifetime_value) == (
                value.tier,
                value.lifecycle,
                clv,
            ):
                continue
            # A bulk UPDATE: the nightly job must not bump the optimistic-lock version a
            # person editing the record holds.
            await session.execute(
                update(Customer)
                .where(Customer.id == cid)
                .values(tier=value.tier, lifecycle_stage=value.lifecycle, lifetime_value=clv)
                .execution_options(synchronize_session=False)
            )
            changed += 1
        add_audit(session, SYSTEM, "segment", "customers", None, {"changed": changed})
    return {"customers": len(values), "changed": changed}
