"""The KPIs of :mod:`ccserver.reports.kpis` and :mod:`ccserver.reports.crm_kpis` computed by
the database: one aggregate query per source, grouped by UTC day and the asked dimensions.

The result objects are the row-based modules' own (``ContactKpis``, ``ComplaintKpis`` ...),
so a test can compute a report both ways and compare. Weeks and months are folded from the
per-day sums in Python: every aggregate is a sum, so the fold is exact, and no dialect's
week numbering is needed. Periods are UTC calendar buckets.

First-contact resolution is a correlated ``NOT EXISTS`` over the whole contacts table (a
repeat after the reporting range still counts, as in the row-based definition). On SQLite
the repeat window compares julianday differences with a 1 ms tolerance, because julianday
arithmetic in doubles is not exact at the window's edge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Interval, and_, case, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ccserver.crm.models import Complaint, Contact, Customer, FollowUp, SurveyResponse
from ccserver.crm.rules.surveys import CsiConfig
from ccserver.errors import BadRequest
from ccserver.reports.crm_kpis import (
    ComplaintKpis,
    FollowUpKpis,
    SurveyKpis,
    complaint_rate,
)
from ccserver.reports.grouping import PERIODS, GroupKey, period_bucket, sort_key
from ccserver.reports.kpis import ContactKpis, KpiSettings

DIMENSIONS = frozenset({*PERIODS, "queue", "agent_id", "channel", "direction", "segment", "tier"})


def check_dimensions(by: Sequence[str]) -> list[str]:
    dims = list(by)
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown or len(set(dims)) != len(dims):
        raise BadRequest(
            f"unknown or repeated report dimension(s): {', '.join(unknown) or 'repeat'}",
            details={"known": sorted(DIMENSIONS)},
        )
    if sum(d in PERIODS for d in dims) > 1:
        raise BadRequest("at most one of day, week, month", details={"by": dims})
    return dims


def _dialect(session: AsyncSession) -> str:
    bind = session.get_bind()
    return str(bind.dialect.name)


def _day(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    if _dialect(session) == "sqlite":
        return func.strftime("%Y-%m-%d", column)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum(condition: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, value), else_=0.0)), 0.0)


def _bucket(day: str | None, period: str) -> str | None:
    if day is None:
        return None
    midnight = dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    return period_bucket(midnight.timestamp(), period)


def _key(row: Any, by: Sequence[str]) -> GroupKey:
    return tuple(_bucket(row["day"], d) if d in PERIODS else row.get(d) for d in by)


def _dimension_columns(
    by: Sequence[str], own: Mapping[str, Any], customer_id: Any
) -> tuple[list[Any], bool]:
    """Label columns for the non-period dimensions; a dimension the source lacks is NULL.
    Returns the columns and whether the customers table must be joined."""
    cols = []
    join = False
    for d in by:
        if d in PERIODS:
            continue
        if d in own:
            cols.append(own[d].label(d))
        elif d in ("segment", "tier"):
            join = True
            cols.append(getattr(Customer, d).label(d))
        else:
            cols.append(literal(None).label(d))
    return cols, join and customer_id is not None


def _range(stmt: Any, column: Any, since: dt.datetime | None, until: dt.datetime | None) -> Any:
    if since is not None:
        stmt = stmt.where(column >= since)
    if until is not None:
        stmt = stmt.where(column < until)
    return stmt


def _repeat_exists(session: AsyncSession, window_s: float) -> ColumnElement[bool]:
    later = aliased(Contact)
    if _dialect(session) == "sqlite":
        within = (
            func.julianday(later.started_at) - func.julianday(Contact.started_at)
        ) * 86400.0 <= window_s + 0.001
    else:
        within = later.started_at <= Contact.started_at + literal(
            dt.timedelta(seconds=window_s), Interval()
        )
    return exists().where(
        later.customer_id == Contact.customer_id,
        later.direction != "outbound",
        later.started_at > Contact.started_at,
        within,
    )


async def contact_kpis_sql(
    session: AsyncSession,
    by: Sequence[str],
    settings: KpiSettings | None = None,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> dict[GroupKey, ContactKpis]:
    """``contact_kpis_by(rows, by, settings)`` over the contacts table (UTC periods)."""
    s = settings or KpiSettings()
    if s.use_fcr_flag or s.matter_field:
        raise BadRequest("the SQL report supports the repeat-contact FCR definition only")
    dims = check_dimensions(by)
    c = Contact
    wait = func.coalesce(c.wait_s, 0.0)
    answered = c.outcome == "answered"
    eligible = and_(answered, c.customer_id.is_not(None))
    own = {"queue": c.queue, "agent_id": c.agent_id, "channel": c.channel, "direction": c.direction}
    dim_cols, join = _dimension_columns([d for d in dims if d != "channel"], own, c.customer_id)
    day = _day(session, c.started_at).label("day")
    stmt = select(
        day,
        c.channel.label("channel"),
        *dim_cols,
        func.count().label("contacts"),
        _count(answered).label("answered"),
        _count(and_(answered, wait <= s.service_level_s)).label("answered_in_sl"),
        _count(and_(c.outcome == "abandoned_queue", wait > s.short_abandon_s)).label("abandoned"),
        _count(and_(c.outcome == "abandoned_queue", wait <= s.short_abandon_s)).label(
            "short_abandoned"
        ),
        _count(c.outcome == "abandoned_ivr").label("abandoned_ivr"),
        _count(c.outcome == "self_service").label("self_service"),
        _count(c.outcome == "callback_requested").label("callback_requested"),
        _sum(answered, wait).label("wait_answered_s"),
        _sum(
            answered,
            func.coalesce(c.talk_s, 0.0)
            + func.coalesce(c.hold_s, 0.0)
            + func.coalesce(c.wrap_s, 0.0),
        ).label("handle_s"),
        _count(eligible).label("fcr_eligible"),
        _count(and_(eligible, ~_repeat_exists(session, s.fcr_window_days * 86400.0))).label(
            "fcr_resolved"
        ),
    )
    if join:
        stmt = stmt.select_from(c).outerjoin(Customer, Customer.id == c.customer_id)
    stmt = _range(stmt, c.started_at, since, until)
    stmt = stmt.group_by(*[col for col in stmt.selected_columns][: 2 + len(dim_cols)])
    out: dict[GroupKey, ContactKpis] = {}
    for row in (await session.execute(stmt)).mappings():
        key = _key(row, dims)
        part = ContactKpis(
            contacts=int(row["contacts"]),
            answered=int(row["answered"]),
            answered_in_sl=int(row["answered_in_sl"]),
            abandoned=int(row["abandoned"]),
            short_abandoned=int(row["short_abandoned"]),
            abandoned_ivr=int(row["abandoned_ivr"]),
            self_service=int(row["self_service"]),
            callback_requested=int(row["callback_requested"]),
            wait_answered_s=float(row["wait_answered_s"]),
            handle_s=float(row["handle_s"]),
            fcr_eligible=int(row["fcr_eligible"]),
            fcr_resolved=int(row["fcr_resolved"]),
            by_channel={str(row["channel"]): int(row["contacts"])},
        )
        out[key] = out[key] + part if key in out else part
    return {k: out[k] for k in sorted(out, key=sort_key)}


def _seconds_between(session: AsyncSession, later: Any, earlier: Any) -> ColumnElement[Any]:
    if _dialect(session) == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


async def complaint_kpis_sql(
    session: AsyncSession,
    by: Sequence[str],
    *,
    now: dt.datetime | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> dict[GroupKey, ComplaintKpis]:
    dims = check_dimensions(by)
    p = Complaint
    resolved = p.resolved_at.is_not(None)
    has_due = p.sla_due_at.is_not(None)
    breached = and_(has_due, resolved, p.resolved_at > p.sla_due_at)
    if now is not None:
        breached = breached | and_(has_due, ~resolved, p.sla_due_at < now)
    dim_cols, join = _dimension_columns(dims, {"channel": p.channel}, p.customer_id)
    day = _day(session, p.created_at).label("day")
    stmt = select(
        day,
        p.validity.label("validity"),
        *dim_cols,
        func.count().label("complaints"),
        _count(resolved).label("resolved"),
        _sum(resolved, _seconds_between(session, p.resolved_at, p.created_at)).label(
            "resolution_s"
        ),
        _count(and_(has_due, resolved, p.resolved_at <= p.sla_due_at)).label("sla_met"),
        _count(breached).label("sla_breached"),
    )
    if join:
        stmt = stmt.select_from(p).outerjoin(Customer, Customer.id == p.customer_id)
    stmt = _range(stmt, p.created_at, since, until)
    stmt = stmt.group_by(*list(stmt.selected_columns)[: 2 + len(dim_cols)])
    out: dict[GroupKey, ComplaintKpis] = {}
    for row in (await session.execute(stmt)).mappings():
        key = _key(row, dims)
        validity = row["validity"]
        part = ComplaintKpis(
            complaints=int(row["complaints"]),
            resolved=int(row["resolved"]),
            resolution_s=float(row["resolution_s"]),
            sla_met=int(row["sla_met"]),
            sla_breached=int(row["sla_breached"]),
            validity={validity: int(row["complaints"])} if validity else {},
        )
        out[key] = out[key] + part if key in out else part
    return out


async def followup_kpis_sql(
    session: AsyncSession,
    by: Sequence[str],
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> dict[GroupKey, FollowUpKpis]:
    dims = check_dimensions(by)
    f = FollowUp
    planned = func.coalesce(f.window_start, f.created_at)
    dim_cols, join = _dimension_columns(dims, {"channel": f.channel}, f.customer_id)
    stmt = select(
        _day(session, planned).label("day"),
        *dim_cols,
        func.count().label("followups"),
        _count(f.status == "done").label("done"),
        _count(f.status == "unreachable").label("unreachable"),
        _count(f.status == "cancelled").label("cancelled"),
    )
    if join:
        stmt = stmt.select_from(f).outerjoin(Customer, Customer.id == f.customer_id)
    stmt = _range(stmt, planned, since, until)
    stmt = stmt.group_by(*list(stmt.selected_columns)[: 1 + len(dim_cols)])
    out: dict[GroupKey, FollowUpKpis] = {}
    for row in (await session.execute(stmt)).mappings():
        key = _key(row, dims)
        part = FollowUpKpis(
            int(row["followups"]), int(row["done"]), int(row["unreachable"]), int(row["cancelled"])
        )
        out[key] = out[key] + part if key in out else part
    return out


async def survey_kpis_sql(
    session: AsyncSession,
    by: Sequence[str],
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> dict[GroupKey, SurveyKpis]:
    """Scores aggregated in SQL; CSI ratings (kept with each response's audit row) are
    added per response in Python."""
    from ccserver.crm.services.surveys import ratings_of

    dims = check_dimensions(by)
    r = SurveyResponse
    own = {"agent_id": r.agent_id, "queue": r.queue}
    dim_cols, join = _dimension_columns(dims, own, r.customer_id)
    day = _day(session, r.created_at).label("day")
    csat, nps, ces = r.csat.is_not(None), r.nps.is_not(None), r.ces.is_not(None)
    stmt = select(
        day,
        *dim_cols,
        func.count().label("responses"),
        _count(csat).label("csat_n"),
        func.coalesce(func.sum(r.csat), 0).label("csat_sum"),
        _count(r.csat >= 4).label("csat_top2"),
        _count(r.nps >= 9).label("promoters"),
        _count(and_(r.nps >= 7, r.nps <= 8)).label("passives"),
        _count(and_(nps, r.nps <= 6)).label("detractors"),
        _count(ces).label("ces_n"),
        func.coalesce(func.sum(r.ces), 0).label("ces_sum"),
    )
    ids_stmt = select(r.id, day, *dim_cols)
    if join:
        stmt = stmt.select_from(r).outerjoin(Customer, Customer.id == r.customer_id)
        ids_stmt = ids_stmt.select_from(r).outerjoin(Customer, Customer.id == r.customer_id)
    stmt = _range(stmt, r.created_at, since, until)
    ids_stmt = _range(ids_stmt, r.created_at, since, until)
    stmt = stmt.group_by(*list(stmt.selected_columns)[: 1 + len(dim_cols)])
    out: dict[GroupKey, SurveyKpis] = {}
    for row in (await session.execute(stmt)).mappings():
        key = _key(row, dims)
        part = SurveyKpis(
            responses=int(row["responses"]),
            csat_n=int(row["csat_n"]),
            csat_sum=int(row["csat_sum"]),
            csat_top2=int(row["csat_top2"]),
            promoters=int(row["promoters"]),
            passives=int(row["passives"]),
            detractors=int(row["detractors"]),
            ces_n=int(row["ces_n"]),
            ces_sum=int(row["ces_sum"]),
        )
        out[key] = out[key] + part if key in out else part
    keyed = [(row["id"], _key(row, dims)) for row in (await session.execute(ids_stmt)).mappings()]
    ratings = await ratings_of(session, [i for i, _ in keyed])
    for rid, key in keyed:
        k = out[key]
        for name, value in ratings.get(rid, {}).items():
            k.rating_sums[name] = k.rating_sums.get(name, 0) + value
            k.rating_counts[name] = k.rating_counts.get(name, 0) + 1
    return out


async def kpi_table_sql(
    session: AsyncSession,
    by: Sequence[str],
    *,
    settings: KpiSettings | None = None,
    csi: CsiConfig | None = None,
    now: dt.datetime | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The rows of :func:`ccserver.reports.summary.kpi_summary`, computed by the database."""
    dims = check_dimensions(by)
    c = await contact_kpis_sql(session, dims, settings, since=since, until=until)
    p = await complaint_kpis_sql(session, dims, now=now, since=since, until=until)
    f = await followup_kpis_sql(session, dims, since=since, until=until)
    s = await survey_kpis_sql(session, dims, since=since, until=until)
    rows = []
    for key in sorted(set(c) | set(p) | set(f) | set(s), key=sort_key):
        ck, pk = c.get(key, ContactKpis()), p.get(key, ComplaintKpis())
        row: dict[str, Any] = dict(zip(dims, key, strict=True))
        row.update(ck.as_row())
        row.update(pk.as_row())
        row["complaint_rate"] = complaint_rate(pk.complaints, ck.contacts)
        row.update(f.get(key, FollowUpKpis()).as_row())
        row.update(s.get(key, SurveyKpis()).as_row(csi))
        rows.append(row)
    return rows
