"""Complaints stored in the ``complaints`` table, driven by the rule module
:mod:`ccserver.crm.rules.complaint_lifecycle` (state table, SLA, escalation, PDCA review).

Each action loads the row into a :class:`ComplaintRecord`, applies the rule (which raises
``IllegalTransition`` / ``ReviewIncomplete`` ...), and writes the result back together with an
audit row, in one transaction. History lines are stored as JSON objects
``{event, from, to, owner, at (ISO 8601), note}``; older rows written by the demo data with
only ``{at, status}`` are read too. A resolution schedules the configured follow-up in the
same transaction, when the customer's consent allows it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.audit import SYSTEM, Actor, add_audit
from ccserver.crm.customer_rows import next_number
from ccserver.crm.models import Complaint, Contact, Customer
from ccserver.crm.rules import complaint_lifecycle as cl
from ccserver.crm.rules.complaint_lifecycle import ComplaintState, PdcaReview
from ccserver.crm.rules.config import CrmRules
from ccserver.crm.services.common import WorkflowNotFound, aware, epoch, now_utc, row_json
from ccserver.crm.services.followups import consents, followup_json, stage_followup
from ccserver.domain import new_id

UNRESOLVED = tuple(s.value for s in cl.UNRESOLVED_STATES)
ACTIONS = (
    "acknowledge",
    "investigate",
    "assess",
    "resolve",
    "feedback",
    "close",
    "reopen",
    "assign",
)


def _step_json(step: cl.ComplaintStep) -> dict[str, Any]:
    return {
        "event": step.event,
        "from": step.from_state,
        "to": step.to_state,
        "owner": step.owner,
        "at": dt.datetime.fromtimestamp(step.at, dt.UTC).isoformat(),
        "note": step.note,
    }


def _step_from_json(item: Any) -> cl.ComplaintStep:
    at = dt.datetime.fromisoformat(str(item.get("at"))) if item.get("at") else None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    to = str(item.get("to", item.get("status", "")))
    return cl.ComplaintStep(
        event=str(item.get("event", "receive" if to == "received" else to)),
        from_state=str(item.get("from", "")),
        to_state=to,
        owner=str(item.get("owner", "")),
        at=epoch(at) or 0.0,
        note=str(item.get("note", "")),
    )


def to_record(row: Complaint) -> cl.ComplaintRecord:
    history = [_step_from_json(h) for h in row.history if isinstance(h, dict)]
    resolves = [s.at for s in history if s.event == "resolve"]
    escalations = [s for s in history if s.event == "escalate"]
    received = epoch(row.created_at) or 0.0
    review = None
    if row.root_cause:
        review = PdcaReview(
            row.root_cause,
            row.corrective_action or "",
            row.preventive_action or "",
            row.customer_accepted,
            row.customer_rating,
        )
    return cl.ComplaintRecord(
        id=row.id,
        customer_id=row.customer_id or "",
        category=row.category,
        subcategory=row.subcategory,
        severity=row.severity,
        received_at=received,
        sla_due_at=epoch(row.sla_due_at) or received,
        owner=row.owner_id or "",
        channel=row.channel or "voice",
        description=row.description,
        order_ref=row.order_ref,
        state=ComplaintState(row.status),
        validity=row.validity,
        resolution=row.resolution,
        first_resolved_at=resolves[0] if resolves else epoch(row.resolved_at),
        resolved_at=epoch(row.resolved_at),
        closed_at=epoch(row.closed_at),
        review=review,
        escalated_at=epoch(row.escalated_at),
        escalated_to=escalations[-1].note if escalations else None,
        reopen_count=sum(1 for s in history if s.event == "reopen"),
        history=history,
    )


def _write_back(row: Complaint, rec: cl.ComplaintRecord, now: dt.datetime) -> None:
    row.status = rec.state.value
    row.owner_id = rec.owner or None
    row.validity = rec.validity
    row.resolution = rec.resolution
    row.resolved_at = aware(rec.resolved_at)
    row.closed_at = aware(rec.closed_at)
    row.escalated_at = aware(rec.escalated_at)
    if rec.state is ComplaintState.ACKNOWLEDGED and row.acknowledged_at is None:
        row.acknowledged_at = now
    if rec.review is not None:
        row.root_cause = rec.review.root_cause
        row.corrective_action = rec.review.corrective_action
        row.preventive_action = rec.review.preventive_action
        row.customer_accepted = rec.review.customer_accepted
        row.customer_rating = rec.review.customer_rating
    row.history = [_step_json(s) for s in rec.history]
    row.updated_at = now
    row.version = (row.version or 0) + 1


def complaint_json(row: Complaint, now: dt.datetime | None = None) -> dict[str, Any]:
    out = row_json(row)
    at = now_utc(now)
    out["overdue"] = bool(
        row.status in UNRESOLVED and row.sla_due_at is not None and row.sla_due_at < at
    )
    return out


class ComplaintService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], rules: CrmRules) -> None:
        self._sessions = sessions
        self.rules = rules

    async def create(
        self,
        *,
        customer_id: str,
        category: str,
        subcategory: str,
        description: str,
        severity: str = "normal",
        contact_id: str | None = None,
        channel: str | None = None,
        order_ref: str | None = None,
        owner_id: str | None = None,
        note: str = "",
        actor: Actor = SYSTEM,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """File a complaint (``received``), with its SLA due time from the severity."""
        at = now_utc(now)
        async with self._sessions.begin() as session:
            if await session.get(Customer, customer_id) is None:
                raise WorkflowNotFound(
                    f"no customer {customer_id}", details={"customer_id": customer_id}
                )
            if contact_id is not None:
                contact = await session.get(Contact, contact_id)
                if contact is None:
                    raise WorkflowNotFound(
                        f"no contact {contact_id}", details={"contact_id": contact_id}
                    )
                channel = channel or contact.channel
            rec = cl.open_complaint(
                self.rules.taxonomy,
                id=new_id(at.timestamp()),
                customer_id=customer_id,
                category=category,
                subcategory=subcategory,
                severity=severity,
                owner=owner_id or actor.id,
                now=at.timestamp(),
                channel=channel or "voice",
                description=description,
                order_ref=order_ref,
                note=note,
            )
            number = await next_number(session, "complaint")
            row = Complaint(
                id=rec.id,
                case_number=f"CMP-{number:06d}",
                customer_id=customer_id,
                contact_id=contact_id,
                category=rec.category,
                subcategory=rec.subcategory,
                severity=rec.severity,
                channel=rec.channel,
                order_ref=order_ref,
                description=description,
                status=rec.state.value,
                owner_id=rec.owner,
                sla_due_at=aware(rec.sla_due_at),
                history=[_step_json(s) for s in rec.history],
                created_at=at,
                updated_at=at,
            )
            session.add(row)
            add_audit(session, actor, "create", "complaint", row.id, {"case": row.case_number})
            await session.flush()
            return complaint_json(row, at)

    async def get(self, complaint_id: str, now: dt.datetime | None = None) -> dict[str, Any]:
        async with self._sessions() as session:
            return complaint_json(await self._load(session, complaint_id), now)

    async def search(
        self,
        *,
        status: str | None = None,
        owner_id: str | None = None,
        customer_id: str | None = None,
        overdue: bool | None = None,
        limit: int = 50,
        offset: int = 0,
        now: dt.datetime | None = None,
    ) -> list[dict[str, Any]]:
        at = now_utc(now)
        stmt = select(Complaint)
        if status is not None:
            stmt = stmt.where(Complaint.status == status)
        if owner_id is not None:
            stmt = stmt.where(Complaint.owner_id == owner_id)
        if customer_id is not None:
            stmt = stmt.where(Complaint.customer_id == customer_id)
        if overdue is True:
            stmt = stmt.where(Complaint.status.in_(UNRESOLVED), Complaint.sla_due_at < at)
        elif overdue is False:
            stmt = stmt.where((Complaint.status.not_in(UNRESOLVED)) | (Complaint.sla_due_at >= at))
        stmt = stmt.order_by(Complaint.created_at.desc(), Complaint.id.desc())
        stmt = stmt.limit(max(1, min(limit, 500))).offset(max(0, offset))
        async with self._sessions() as session:
            return [complaint_json(r, at) for r in await session.scalars(stmt)]

    async def _load(self, session: AsyncSession, complaint_id: str) -> Complaint:
        row = await session.get(Complaint, complaint_id)
        if row is None:
            raise WorkflowNotFound(
                f"no complaint {complaint_id}", details={"complaint_id": complaint_id}
            )
        return row

    async def act(
        self,
        complaint_id: str,
        action: str,
        *,
        actor: Actor = SYSTEM,
        note: str = "",
        validity: str | None = None,
        resolution: str | None = None,
        review: PdcaReview | None = None,
        owner_id: str | None = None,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """One life-cycle step (see ACTIONS). ``investigate`` takes an optional validity;
        ``close`` needs the PDCA review; ``resolve`` schedules the configured follow-up."""
        at = now_utc(now)
        ts = at.timestamp()
        owner = actor.id
        taxonomy = self.rules.taxonomy
        async with self._sessions.begin() as session:
            row = await self._load(session, complaint_id)
            rec = to_record(row)
            followup: dict[str, Any] | None = None
            if action == "acknowledge":
                cl.acknowledge(rec, owner, ts, note)
            elif action == "investigate":
                cl.start_investigation(rec, owner, ts, note)
                if validity is not None:
                    cl.assess_validity(rec, validity, taxonomy, owner, ts)
            elif action == "assess":
                cl.assess_validity(rec, validity or "", taxonomy, owner, ts, note)
            elif action == "resolve":
                cl.resolve(rec, resolution or "", owner, ts, note)
            elif action == "feedback":
                cl.request_feedback(rec, owner, ts, note)
            elif action == "close":
                cl.close(rec, review or PdcaReview("", "", "", None, None), owner, ts, note)
            elif action == "reopen":
                cl.reopen(rec, owner, ts, note)
            elif action == "assign":
                cl.assign(rec, owner_id or owner, owner, ts, note)
            else:
                raise ValueError(f"unknown complaint action {action!r}")
            _write_back(row, rec, at)
            add_audit(session, actor, action, "complaint", row.id, {"status": row.status})
            if action == "resolve":
                followup = await self._schedule_followup(session, rec, actor, ts)
            await session.flush()
            out = complaint_json(row, at)
            out["follow_up"] = followup
            return out

    async def _schedule_followup(
        self, session: AsyncSession, rec: cl.ComplaintRecord, actor: Actor, now: float
    ) -> dict[str, Any] | None:
        if not rec.customer_id:
            return None
        flags = await consents(session, rec.customer_id)
        fu = cl.followup_after_resolution(rec, self.rules.resolution_followup, now, flags)
        if fu is None:
            return None
        row = stage_followup(session, fu, actor, "complaint_resolution", aware(now))
        return followup_json(row)

    async def escalate_due(self, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Mark every unresolved complaint past its SLA (and not escalated yet) as escalated;
        returns the alert payloads for the supervisors, most overdue first."""
        at = now_utc(now)
        ts = at.timestamp()
        async with self._sessions.begin() as session:
            rows = {
                r.id: r
                for r in await session.scalars(
                    select(Complaint).where(
                        Complaint.status.in_(UNRESOLVED),
                        Complaint.escalated_at.is_(None),
                        Complaint.sla_due_at < at,
                    )
                )
            }
            records = {cid: to_record(r) for cid, r in rows.items()}
            alerts = []
            for esc in cl.escalations_due(records.values(), ts, self.rules.taxonomy):
                row, rec = rows[esc.complaint_id], records[esc.complaint_id]
                cl.mark_escalated(rec, esc.to, ts)
                _write_back(row, rec, at)
                add_audit(session, SYSTEM, "escalate", "complaint", row.id, {"to": esc.to})
                alerts.append(
                    {
                        "kind": "complaint_sla",
                        "complaint_id": row.id,
                        "case_number": row.case_number,
                        "severity": row.severity,
                        "customer_id": row.customer_id,
                        "owner_id": row.owner_id,
                        "to": esc.to,
                        "due_at": row.sla_due_at.isoformat() if row.sla_due_at else None,
                        "overdue_s": round(esc.overdue_s, 3),
                    }
                )
            return alerts


def review_from(data: dict[str, Any]) -> PdcaReview:
    return PdcaReview(
        root_cause=str(data.get("root_cause") or ""),
        corrective_action=str(data.get("corrective_action") or ""),
        preventive_action=str(data.get("preventive_action") or ""),
        customer_accepted=data.get("customer_accepted"),
        customer_rating=data.get("customer_rating"),
    )


__all__: Sequence[str] = ("ACTIONS", "ComplaintService", "complaint_json", "review_from")
