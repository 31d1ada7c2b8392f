"""The reports' numbers equal what the tables say: every KPI computed by the SQL aggregates
(ccserver.reports.queries) equals the row-based definition (ccserver.reports.kpis /
crm_kpis / summary) over the same rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.models import Base, Complaint, Contact, Customer, FollowUp
from ccserver.crm.rules.config import CrmRules
from ccserver.crm.rules.surveys import SurveyResponse as Answer
from ccserver.crm.services.surveys import SurveyService
from ccserver.errors import BadRequest
from ccserver.reports.kpis import KpiSettings, contact_kpis_by
from ccserver.reports.queries import contact_kpis_sql, kpi_table_sql
from ccserver.reports.summary import kpi_summary, tag_rows

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday
NOW = T0 + dt.timedelta(days=40)


def _contact(n: int, customer: str | None, at: dt.datetime, outcome: str, **kw: Any) -> Contact:
    return Contact(
        interaction_id=f"i{n}",
        customer_id=customer,
        channel=kw.pop("channel", "voice"),
        direction=kw.pop("direction", "inbound"),
        queue=kw.pop("queue", "general"),
        agent_id=kw.pop("agent_id", "a1" if outcome == "answered" else None),
        started_at=at,
        outcome=outcome,
        **kw,
    )


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    day = dt.timedelta(days=1)
    async with sessions.begin() as s:
        c1 = Customer(customer_number="C1", display_name="A", name_key="a", segment="retail")
        c2 = Customer(customer_number="C2", display_name="B", name_key="b", segment="business")
        c3 = Customer(customer_number="C3", display_name="C", name_key="c")
        s.add_all([c1, c2, c3])
        await s.flush()
        rows = [
            # c1: answered, repeat exactly 7 days later (inside the window: not FCR) ...
            _contact(1, c1.id, T0, "answered", wait_s=12.0, talk_s=200, hold_s=10, wrap_s=30),
            _contact(2, c1.id, T0 + 7 * day, "answered", wait_s=25.0, talk_s=100, wrap_s=20),
            # ... and the repeat of the repeat comes 7 days + 1 s later: FCR.
            _contact(
                3, c1.id, T0 + 14 * day + dt.timedelta(seconds=1), "abandoned_queue", wait_s=40.0
            ),
            # c2: answered; only an *outbound* contact follows: FCR.
            _contact(
                4,
                c2.id,
                T0 + dt.timedelta(hours=3),
                "answered",
                wait_s=None,
                talk_s=50,
                queue="billing",
                agent_id="a2",
                channel="chat",
            ),
            _contact(
                5,
                c2.id,
                T0 + 2 * day,
                "answered",
                direction="outbound",
                wait_s=0.0,
                talk_s=30,
                queue="billing",
                agent_id="a2",
            ),
            _contact(6, None, T0 + day, "abandoned_queue", wait_s=3.0),  # short abandon
            _contact(7, None, T0 + day, "abandoned_ivr", queue=None),
            _contact(8, c3.id, T0 + 31 * day, "self_service", channel="email", queue=None),
            _contact(9, c3.id, T0 + 31 * day, "callback_requested", queue="billing"),
            _contact(
                10,
                c3.id,
                T0 + 32 * day,
                "answered",
                wait_s=20.0,
                talk_s=60,
                agent_id="a2",
                channel="email",
            ),
        ]
        s.add_all(rows)
        s.add_all(
            [
                Complaint(
                    case_number="K1",
                    customer_id=c1.id,
                    category="product",
                    subcategory="quality",
                    description="x",
                    channel="voice",
                    created_at=T0,
                    sla_due_at=T0 + 3 * day,
                    resolved_at=T0 + 2 * day,
                    validity="basically_true",
                    status="resolved",
                ),
                Complaint(
                    case_number="K2",
                    customer_id=c2.id,
                    category="service",
                    subcategory="attitude",
                    description="y",
                    channel="chat",
                    created_at=T0 + day,
                    sla_due_at=T0 + 2 * day,
                    resolved_at=T0 + 4 * day,
                    validity="misunderstanding",
                    status="closed",
                ),
                Complaint(
                    case_number="K3",
                    customer_id=c3.id,
                    category="service",
                    subcategory="quality",
                    description="z",
                    created_at=T0 + 31 * day,
                    sla_due_at=T0 + 32 * day,
                    status="investigating",
                ),
                Complaint(
                    case_number="K4",
                    customer_id=c3.id,
                    category="service",
                    subcategory="quality",
                    description="w",
                    created_at=T0 + 32 * day,
                    sla_due_at=NOW + day,
                    status="received",
                ),
            ]
        )
        s.add_all(
            [
                FollowUp(customer_id=c1.id, purpose="p", status=st, window_start=T0 + n * day)
                for n, st in enumerate(["done", "done", "unreachable", "cancelled", "planned"])
            ]
        )
    surveys = SurveyService(sessions, CrmRules())
    for at, answer in [
        (
            T0,
            Answer(
                csat=5,
                nps=10,
                ratings={"resolution": 5, "speed": 4},
                customer_id=None,
                agent_id="a1",
                queue="general",
            ),
        ),
        (T0 + day, Answer(csat=2, nps=3, ces=6, agent_id="a2", queue="billing")),
        (T0 + 31 * day, Answer(nps=8, ces=2, ratings={"courtesy": 3}, agent_id="a1")),
        (T0 + 32 * day, Answer(text="fine", ratings={"resolution": 2})),
    ]:
        await surveys.record(answer, now=at)


def _as_dict(obj: Base) -> dict[str, Any]:
    return {col.key: getattr(obj, col.key) for col in obj.__table__.columns}


def _same(sql_rows: list[dict[str, Any]], py_rows: list[dict[str, Any]]) -> None:
    assert [list(r) for r in sql_rows] == [list(r) for r in py_rows]
    for a, b in zip(sql_rows, py_rows, strict=True):
        for k in a:
            if isinstance(a[k], float) and isinstance(b[k], float):
                assert math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-6), (k, a, b)
            else:
                assert a[k] == b[k], (k, a, b)


async def test_sql_kpis_equal_row_based_kpis(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _seed(sessions)
    async with sessions() as s:
        contacts = [_as_dict(r) for r in await s.scalars(select(Contact))]
        complaints = [_as_dict(r) for r in await s.scalars(select(Complaint))]
        followups = [_as_dict(r) for r in await s.scalars(select(FollowUp))]
        segments = {c.id: c.segment for c in await s.scalars(select(Customer))}
        tiers = {c.id: c.tier for c in await s.scalars(select(Customer))}
    survey_rows = await SurveyService(sessions, CrmRules()).rows()

    def tagged(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return tag_rows(tag_rows(rows, "segment", segments), "tier", tiers)

    settings = KpiSettings(service_level_s=20.0, short_abandon_s=5.0, fcr_window_days=7.0)
    for by in (["day", "queue"], ["week", "segment"], ["month", "agent_id"], ["channel"], []):
        async with sessions() as s:
            sql = await kpi_table_sql(s, by, settings=settings, now=NOW)
        py = kpi_summary(
            by,
            contacts=tagged(contacts),
            complaints=tagged(complaints),
            followups=tagged(followups),
            surveys=tagged(survey_rows),
            settings=settings,
            now=NOW.timestamp(),
        )
        _same(sql, py)

    # Spot-check the totals against hand-computed definitions, so equal-but-wrong fails.
    async with sessions() as s:
        (total,) = await kpi_table_sql(s, [], settings=settings, now=NOW)
        week = await contact_kpis_sql(s, ["week"], settings)
    assert total["contacts"] == 10 and total["answered"] == 5
    assert total["abandoned"] == 1 and total["short_abandoned"] == 1
    # SL base = 5 answered + 1 abandoned; in SL: waits 12, 0 (None), 0 (outbound), 20.
    assert total["service_level"] == pytest.approx(4 / 6)
    # FCR: c1@T0 has a repeat at +7d (not FCR); c1@+7d, c2 inbound, c2 outbound, c3 are.
    assert total["fcr_rate"] == pytest.approx(4 / 5)
    assert total["complaints"] == 4 and total["sla_compliance"] == pytest.approx(1 / 3)
    assert total["complaint_rate"] == pytest.approx(4 / 10)
    assert total["completion_rate"] == pytest.approx(2 / 4)
    assert total["nps"] == pytest.approx(0.0)  # one promoter, one passive, one detractor
    assert total["csi"] is not None and 0 < total["csi"] < 100
    assert sorted(k[0] for k in week) == ["2026-W10", "2026-W11", "2026-W12", "2026-W14"]
    assert contact_kpis_by(contacts, ["week"], settings)[("2026-W10",)] == week[("2026-W10",)]

    async with sessions() as s:
        with pytest.raises(BadRequest):
            await kpi_table_sql(s, ["day", "week"])
        with pytest.raises(BadRequest):
            await kpi_table_sql(s, ["password"])
