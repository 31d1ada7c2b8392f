"""Follow-up visits (return calls, emails, visits) stored in the ``follow_ups`` table, driven
by the table-driven life cycle of :mod:`ccserver.crm.rules.followup_lifecycle`.

The service loads a row into the rule object, applies the rule (which raises on an illegal
step or a bad answer), and writes the result back with an audit row in the same
transaction. Every call/visit attempt is kept in the row's ``attempts`` column (migration
0002; ``{at, result, by, note}``) and the retry policy counts the failed ones; each step is
also an audit row.
Consent is checked on every creation: a follow-up the customer's flags forbid is refused
(single) or skipped (bulk), never created.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.audit import SYSTEM, Actor, add_audit
from ccserver.crm.models import Customer, FollowUp, Order
from ccserver.crm.rules import followup_lifecycle as fl
from ccserver.crm.rules.config import CrmRules
from ccserver.crm.rules.consent import consents_of, may_contact
from ccserver.crm.rules.followup_lifecycle import FollowUpState, Question, QuestionKind
from ccserver.crm.services.common import (
    NoConsent,
    WorkflowNotFound,
    aware,
    epoch,
    now_utc,
    row_json,
)

OPEN_STATES = (FollowUpState.PLANNED.value, FollowUpState.DUE.value)


def outline_json(outline: Sequence[Question]) -> list[dict[str, Any]]:
    out = []
    for q in outline:
        item = asdict(q)
        item["kind"] = q.kind.value
        item["options"] = list(q.options)
        out.append(item)
    return out


def outline_from_json(raw: Sequence[Any]) -> tuple[Question, ...]:
    questions = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        questions.append(
            Question(
                key=str(item["key"]),
                text=str(item.get("text", item["key"])),
                kind=QuestionKind(item.get("kind", "text")),
                required=bool(item.get("required", True)),
                low=int(item.get("low", 1)),
                high=int(item.get("high", 5)),
                options=tuple(item.get("options", ())),
            )
        )
    return tuple(questions)


def attempt_json(attempt: fl.Attempt) -> dict[str, Any]:
    return {
        "at": dt.datetime.fromtimestamp(attempt.at, dt.UTC).isoformat(),
        "result": attempt.result,
        "by": attempt.by,
        "note": attempt.note,
    }


def attempt_from_json(item: Any) -> fl.Attempt:
    at = item.get("at") if isinstance(item, Mapping) else None
    stamp = dt.datetime.fromisoformat(at).timestamp() if isinstance(at, str) else 0.0
    return fl.Attempt(
        stamp, str(item.get("result", "no_answer")), item.get("by"), str(item.get("note") or "")
    )


def to_rule(row: FollowUp) -> fl.FollowUp:
    scheduled = epoch(row.window_start) or epoch(row.created_at) or 0.0
    fu = fl.FollowUp(
        id=row.id,
        customer_id=row.customer_id or "",
        purpose=row.purpose,
        channel=fl.followup_channel(row.channel),
        scheduled_at=scheduled,
        outline=outline_from_json(row.outline),
        window_end=epoch(row.window_end),
        questioner=row.questioner_id,
        recorder=row.recorder_id,
        complaint_id=row.complaint_id,
        contact_id=row.contact_id,
        state=FollowUpState(row.status),
        answers=dict(row.answers),
        outcome=row.outcome,
    )
    fu.attempts = [attempt_from_json(a) for a in row.attempts or ()]
    return fu


def new_row(fu: fl.FollowUp) -> FollowUp:
    return FollowUp(
        id=fu.id,
        customer_id=fu.customer_id or None,
        purpose=fu.purpose,
        outline=outline_json(fu.outline),
        window_start=aware(fu.scheduled_at),
        window_end=aware(fu.window_end),
        channel=fu.channel.value,
        questioner_id=fu.questioner,
        recorder_id=fu.recorder,
        status=fu.state.value,
        answers=dict(fu.answers),
        attempts=[attempt_json(a) for a in fu.attempts],
        complaint_id=fu.complaint_id,
        contact_id=fu.contact_id,
    )


def _write_back(row: FollowUp, fu: fl.FollowUp, now: dt.datetime) -> None:
    row.status = fu.state.value
    row.answers = dict(fu.answers)
    row.attempts = [attempt_json(a) for a in fu.attempts]
    row.outcome = fu.outcome
    row.window_start = aware(fu.scheduled_at)
    row.window_end = aware(fu.window_end)
    row.updated_at = now
    if fu.state is FollowUpState.DONE:
        row.completed_at = now


def followup_json(row: FollowUp) -> dict[str, Any]:
    return row_json(row)


async def consents(session: AsyncSession, customer_id: str | None) -> dict[str, bool | None]:
    if customer_id is None:
        return {}
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise WorkflowNotFound(f"no customer {customer_id}", details={"customer_id": customer_id})
    return consents_of(customer)


def stage_followup(
    session: AsyncSession,
    fu: fl.FollowUp,
    actor: Actor,
    source: str,
    now: dt.datetime | None = None,
) -> FollowUp:
    """Add a planned follow-up (already consent-checked) to the caller's transaction.

    The times are set here, not by the column defaults at flush, so a caller may render
    the row (``followup_json``) before its transaction flushes."""
    row = new_row(fu)
    row.created_at = row.updated_at = now_utc(now)
    session.add(row)
    add_audit(session, actor, "create", "follow_up", row.id, {"source": source})
    return row


class FollowUpService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], rules: CrmRules) -> None:
        self._sessions = sessions
        self.rules = rules

    async def create(
        self,
        *,
        customer_id: str,
        purpose: str,
        channel: str = "phone",
        scheduled_at: dt.datetime | None = None,
        window_end: dt.datetime | None = None,
        outline: Sequence[Mapping[str, Any]] = (),
        questioner_id: str | None = None,
        recorder_id: str | None = None,
        complaint_id: str | None = None,
        contact_id: str | None = None,
        actor: Actor = SYSTEM,
        source: str = "api",
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """One follow-up (from the console, a wrap-up, a complaint); NoConsent when the
        customer's flags forbid the channel."""
        at = now_utc(now)
        kind = fl.followup_channel(channel)
        template = fl.FollowUpTemplate(
            purpose=purpose,
            channel=kind,
            outline=outline_from_json(outline),
            questioner=questioner_id,
            recorder=recorder_id,
        )
        fu = fl.plan_followup(
            template, customer_id, at.timestamp(), complaint_id=complaint_id, contact_id=contact_id
        )
        fu.scheduled_at = (scheduled_at or at).timestamp()
        fu.window_end = epoch(window_end)
        async with self._sessions.begin() as session:
            if not may_contact(await consents(session, customer_id), kind.value, "follow_up"):
                raise NoConsent(
                    f"customer {customer_id} may not be contacted by {kind.value}",
                    details={"customer_id": customer_id, "channel": kind.value},
                )
            row = stage_followup(session, fu, actor, source, at)
            await session.flush()
            return followup_json(row)

    async def bulk_from_segment(
        self,
        *,
        purpose: str,
        channel: str = "phone",
        segment: str | None = None,
        tier: str | None = None,
        delivered_since: dt.datetime | None = None,
        delivered_until: dt.datetime | None = None,
        delay_hours: float = 0.0,
        window_hours: float | None = None,
        outline: Sequence[Mapping[str, Any]] = (),
        questioner_id: str | None = None,
        actor: Actor = SYSTEM,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """One follow-up per customer of a segment / tier and/or with an order delivered in
        [since, until); customers without consent are listed as skipped."""
        at = now_utc(now)
        stmt = select(Customer).where(Customer.erased_at.is_(None))
        if segment is not None:
            stmt = stmt.where(Customer.segment == segment)
        if tier is not None:
            stmt = stmt.where(Customer.tier == tier)
        if delivered_since is not None or delivered_until is not None:
            orders = select(Order.customer_id).where(Order.delivered_at.is_not(None))
            if delivered_since is not None:
                orders = orders.where(Order.delivered_at >= delivered_since)
            if delivered_until is not None:
                orders = orders.where(Order.delivered_at < delivered_until)
            stmt = stmt.where(Customer.id.in_(orders))
        template = fl.FollowUpTemplate(
            purpose=purpose,
            channel=fl.followup_channel(channel),
            outline=outline_from_json(outline),
            delay_hours=delay_hours,
            window_hours=window_hours,
            questioner=questioner_id,
        )
        async with self._sessions.begin() as session:
            customers = list(await session.scalars(stmt.order_by(Customer.id)))
            plan = fl.plan_bulk(customers, lambda _c: True, template, at.timestamp())
            ids = [stage_followup(session, fu, actor, "bulk", at).id for fu in plan.planned]
        return {
            "planned": len(ids),
            "follow_up_ids": ids,
            "skipped": [{"customer_id": c, "reason": r} for c, r in plan.skipped],
        }

    async def get(self, followup_id: str) -> dict[str, Any]:
        async with self._sessions() as session:
            return followup_json(await self._load(session, followup_id))

    async def search(
        self,
        *,
        status: str | None = None,
        due_before: dt.datetime | None = None,
        questioner_id: str | None = None,
        customer_id: str | None = None,
        complaint_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        stmt = select(FollowUp)
        if status is not None:
            stmt = stmt.where(FollowUp.status == status)
        if due_before is not None:
            stmt = stmt.where(FollowUp.status.in_(OPEN_STATES), FollowUp.window_start <= due_before)
        if questioner_id is not None:
            stmt = stmt.where(FollowUp.questioner_id == questioner_id)
        if customer_id is not None:
            stmt = stmt.where(FollowUp.customer_id == customer_id)
        if complaint_id is not None:
            stmt = stmt.where(FollowUp.complaint_id == complaint_id)
        stmt = stmt.order_by(FollowUp.window_start, FollowUp.id)
        stmt = stmt.limit(max(1, min(limit, 500))).offset(max(0, offset))
        async with self._sessions() as session:
            return [followup_json(r) for r in await session.scalars(stmt)]

    async def _load(self, session: AsyncSession, followup_id: str) -> FollowUp:
        row = await session.get(FollowUp, followup_id)
        if row is None:
            raise WorkflowNotFound(
                f"no follow-up {followup_id}", details={"follow_up_id": followup_id}
            )
        return row

    async def act(
        self,
        followup_id: str,
        action: str,
        *,
        actor: Actor = SYSTEM,
        answers: Mapping[str, Any] | None = None,
        outcome: str | None = None,
        note: str = "",
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """``start``, ``answer`` (record answers), ``complete``, ``no_answer`` (retry later or
        unreachable per the retry policy), ``cancel``, ``due``."""
        at = now_utc(now)
        ts = at.timestamp()
        async with self._sessions.begin() as session:
            row = await self._load(session, followup_id)
            fu = to_rule(row)
            for key, value in (answers or {}).items():
                fu.record_answer(key, value)
            if action == "start":
                fl.start(fu, ts, actor.id)
            elif action == "complete":
                fl.complete(fu, outcome or "", ts, actor.id)
            elif action == "no_answer":
                fl.record_no_answer(fu, ts, self.rules.followup_retry, actor.id, note)
            elif action == "cancel":
                fu.apply(fl.FollowUpEvent.CANCEL, ts, actor.id, note)
            elif action == "due":
                fu.apply(fl.FollowUpEvent.BECOME_DUE, ts, actor.id, note)
            elif action != "answer":
                raise ValueError(f"unknown follow-up action {action!r}")
            _write_back(row, fu, at)
            details: dict[str, Any] = {"status": row.status}
            if note:
                details["note"] = note
            add_audit(session, actor, action, "follow_up", row.id, details)
            await session.flush()
            return followup_json(row)

    async def ready(self, now: dt.datetime | None = None, limit: int = 200) -> list[FollowUp]:
        """Planned follow-ups whose time has come (detached rows; nothing is changed: the
        scheduler moves each to ``due`` once its outreach can start)."""
        at = now_utc(now)
        async with self._sessions() as session:
            rows = list(
                await session.scalars(
                    select(FollowUp)
                    .where(FollowUp.status == "planned", FollowUp.window_start <= at)
                    .order_by(FollowUp.window_start, FollowUp.id)
                    .limit(limit)
                )
            )
            session.expunge_all()
            return rows
