"""One KPI table for the reports page: contact, complaint, follow-up and survey figures side
by side for the same groups, and the complaint rate that needs two of them.

Each row source is grouped by the same dimensions with its own time field (contacts: queued,
complaints: received, follow-ups: scheduled, surveys: responded). A dimension a source does
not carry (e.g. ``agent_id`` on complaints) groups under None there, so such a row stands
apart rather than being attributed to the wrong agent. To report by customer segment, tag the
rows first with :func:`tag_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, tzinfo
from typing import Any

from ccserver.crm.rules.rows import get
from ccserver.crm.rules.surveys import CsiConfig
from ccserver.reports.crm_kpis import (
    ComplaintKpis,
    FollowUpKpis,
    SurveyKpis,
    complaint_kpis_by,
    complaint_rate,
    followup_kpis_by,
    survey_kpis_by,
)
from ccserver.reports.grouping import GroupKey, sort_key
from ccserver.reports.kpis import ContactKpis, KpiSettings, contact_kpis_by


def tag_rows(
    rows: Iterable[Any],
    name: str,
    lookup: Mapping[Any, Any],
    key_field: str = "customer_id",
) -> list[dict[str, Any]]:
    """Copies of the rows (as dicts) with ``name`` set from ``lookup[row[key_field]]``,
    e.g. ``tag_rows(contacts, "segment", {customer_id: tier})``; unknown keys give None."""
    out = []
    for row in rows:
        data = dict(row) if isinstance(row, Mapping) else dict(vars(row))
        data[name] = lookup.get(get(row, key_field))
        out.append(data)
    return out


def kpi_summary(
    by: Sequence[str],
    *,
    contacts: Iterable[Any] = (),
    complaints: Iterable[Any] = (),
    followups: Iterable[Any] = (),
    surveys: Iterable[Any] = (),
    settings: KpiSettings | None = None,
    csi: CsiConfig | None = None,
    now: float | None = None,
    tz: tzinfo = UTC,
) -> list[dict[str, Any]]:
    """Rows of ``by`` columns plus every KPI, one row per group seen in any source."""
    c = contact_kpis_by(contacts, by, settings, tz)
    p = complaint_kpis_by(complaints, by, now, tz)
    f = followup_kpis_by(followups, by, tz)
    s = survey_kpis_by(surveys, by, tz)
    keys: set[GroupKey] = set(c) | set(p) | set(f) | set(s)
    rows = []
    for key in sorted(keys, key=sort_key):
        ck = c.get(key, ContactKpis())
        pk = p.get(key, ComplaintKpis())
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        row.update(ck.as_row())
        row.update(pk.as_row())
        row["complaint_rate"] = complaint_rate(pk.complaints, ck.contacts)
        row.update(f.get(key, FollowUpKpis()).as_row())
        row.update(s.get(key, SurveyKpis()).as_row(csi))
        rows.append(row)
    return rows
