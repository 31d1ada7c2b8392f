"""Survey responses (CSAT / NPS / CES / free text / CSI attribute ratings) linked to contact,
agent, queue, complaint and follow-up; a detractor answer creates a follow-up at once.

The CSI attribute ratings are the ``ratings`` JSON column of ``survey_responses``
(migration 0002, which copied the ratings older releases kept in the audit rows).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.audit import SYSTEM, Actor, add_audit
from ccserver.crm.models import SurveyResponse
from ccserver.crm.rules import surveys as sv
from ccserver.crm.rules.config import CrmRules
from ccserver.crm.services.common import now_utc, row_json
from ccserver.crm.services.followups import consents, followup_json, stage_followup
from ccserver.reports.crm_kpis import SurveyKpis, survey_kpis_by


class SurveyService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], rules: CrmRules) -> None:
        self._sessions = sessions
        self.rules = rules

    async def record(
        self,
        response: sv.SurveyResponse,
        *,
        actor: Actor = SYSTEM,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Store one response (validated); returns it with ``follow_up`` (the detractor
        follow-up created, or None)."""
        at = now_utc(now)
        sv.validate_response(response, self.rules.csi.weights)
        async with self._sessions.begin() as session:
            row = SurveyResponse(
                customer_id=response.customer_id,
                contact_id=response.contact_id,
                agent_id=response.agent_id,
                queue=response.queue,
                complaint_id=response.complaint_id,
                csat=response.csat,
                nps=response.nps,
                ces=response.ces,
                text=response.text,
                ratings=dict(response.ratings),
                created_at=at,
            )
            session.add(row)
            await session.flush()
            # The audit row records what was answered; the ratings are read from the column.
            details: dict[str, Any] = {"ratings": dict(response.ratings)}
            if response.follow_up_id:
                details["follow_up_id"] = response.follow_up_id
            add_audit(session, actor, "respond", "survey_response", row.id, details)
            followup = None
            if response.customer_id is not None:
                flags = await consents(session, response.customer_id)
                fu = sv.followup_for_detractor(
                    response, flags, at.timestamp(), channel=self.rules.detractor_channel
                )
                if fu is not None:
                    followup = followup_json(stage_followup(session, fu, actor, "detractor", at))
            await session.flush()
            out = row_json(row)
            out["follow_up"] = followup
            return out

    async def rows(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        agent_id: str | None = None,
        queue: str | None = None,
    ) -> list[dict[str, Any]]:
        """Response rows with their CSI ratings (``ratings``), for KPIs."""
        stmt = select(SurveyResponse)
        if since is not None:
            stmt = stmt.where(SurveyResponse.created_at >= since)
        if until is not None:
            stmt = stmt.where(SurveyResponse.created_at < until)
        if agent_id is not None:
            stmt = stmt.where(SurveyResponse.agent_id == agent_id)
        if queue is not None:
            stmt = stmt.where(SurveyResponse.queue == queue)
        async with self._sessions() as session:
            return [row_json(r) | {"created_at": r.created_at} for r in await session.scalars(stmt)]

    async def csi(self, **filters: Any) -> dict[str, Any]:
        """CSAT %, CSAT mean, NPS, CES mean and the weighted CSI over the filtered responses."""
        rows = await self.rows(**filters)
        k = survey_kpis_by(rows).get((), SurveyKpis())
        out = k.as_row(self.rules.csi)
        out["weights"] = self.rules.csi.normalised()
        return out


async def ratings_of(session: AsyncSession, response_ids: list[str]) -> dict[str, dict[str, int]]:
    """CSI attribute ratings of survey responses, by id (the ``ratings`` column; the SQL
    KPI report of :mod:`ccserver.reports.queries` joins them to its aggregates)."""
    out: dict[str, dict[str, int]] = {}
    for start in range(0, len(response_ids), 500):
        chunk = response_ids[start : start + 500]
        stmt = select(SurveyResponse.id, SurveyResponse.ratings).where(SurveyResponse.id.in_(chunk))
        for response_id, raw in (await session.execute(stmt)).all():
            if isinstance(raw, dict) and raw:
                out[response_id] = {str(k): int(v) for k, v in raw.items()}
    return out
