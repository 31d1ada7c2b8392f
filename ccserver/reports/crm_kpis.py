"""KPIs over complaints, follow-ups and survey responses (rows as mappings or objects).

* complaint rate = complaints / contacts (in the same group), see :func:`complaint_rate`.
* resolution time = first resolution (``first_resolved_at``, else ``resolved_at``) minus
  ``received_at``, mean over resolved complaints, in hours.
* SLA compliance = resolved by ``sla_due_at`` / (resolved + unresolved already past due at
  ``now``); unresolved complaints not yet due are not judged.
* validity shares = each assessment's count / assessed complaints.
* follow-up completion rate = done / (all follow-ups except cancelled): open and unreachable
  ones count as not completed.
* CSAT % (4-5 share), CSAT mean, NPS, CES mean and CSI as in ccserver.crm.rules.surveys; the
  aggregates keep counts and sums so groups add up to totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, tzinfo
from typing import Any, TypeVar

from ccserver.crm.rules.rows import get, to_timestamp
from ccserver.crm.rules.surveys import CSI_SCALE, CsiConfig, NpsBreakdown
from ccserver.reports.grouping import GroupKey, group_rows

HOUR = 3600.0
_T = TypeVar("_T")


def _add_fields(a: _T, b: _T) -> _T:
    out = type(a)()
    for f in fields(a):  # type: ignore[arg-type]
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, dict):
            merged = dict(x)
            for k, v in y.items():
                merged[k] = merged.get(k, 0) + v
            setattr(out, f.name, merged)
        else:
            setattr(out, f.name, x + y)
    return out


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def complaint_rate(complaints: int, contacts: int) -> float | None:
    return _ratio(complaints, contacts)


@dataclass(slots=True)
class ComplaintKpis:
    complaints: int = 0
    resolved: int = 0
    resolution_s: float = 0.0
    sla_met: int = 0
    sla_breached: int = 0
    validity: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: ComplaintKpis) -> ComplaintKpis:
        return _add_fields(self, other)

    @property
    def mean_resolution_h(self) -> float | None:
        return None if not self.resolved else self.resolution_s / self.resolved / HOUR

    @property
    def sla_compliance(self) -> float | None:
        return _ratio(self.sla_met, self.sla_met + self.sla_breached)

    @property
    def validity_shares(self) -> dict[str, float]:
        total = sum(self.validity.values())
        return {k: v / total for k, v in sorted(self.validity.items())} if total else {}

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "complaints": self.complaints,
            "resolved": self.resolved,
            "mean_resolution_h": self.mean_resolution_h,
            "sla_compliance": self.sla_compliance,
        }
        row.update({f"validity_{k}": v for k, v in self.validity_shares.items()})
        return row


def complaint_time(row: Any) -> float | None:
    """Receipt time: ``received_at`` (rule objects) or ``created_at`` (complaints table)."""
    return to_timestamp(get(row, "received_at", get(row, "created_at")))


def _complaint_kpis(rows: Iterable[Any], now: float | None) -> ComplaintKpis:
    k = ComplaintKpis()
    for row in rows:
        k.complaints += 1
        received = complaint_time(row)
        resolved = to_timestamp(get(row, "first_resolved_at")) or to_timestamp(
            get(row, "resolved_at")
        )
        due = to_timestamp(get(row, "sla_due_at"))
        if resolved is not None and received is not None:
            k.resolved += 1
            k.resolution_s += resolved - received
        if due is not None:
            if resolved is not None:
                if resolved <= due:
                    k.sla_met += 1
                else:
                    k.sla_breached += 1
            elif now is not None and now > due:
                k.sla_breached += 1
        validity = get(row, "validity")
        if validity:
            k.validity[validity] = k.validity.get(validity, 0) + 1
    return k


def complaint_kpis_by(
    rows: Iterable[Any], by: Sequence[str] = (), now: float | None = None, tz: tzinfo = UTC
) -> dict[GroupKey, ComplaintKpis]:
    return {
        key: _complaint_kpis(group, now)
        for key, group in group_rows(rows, by, complaint_time, tz).items()
    }


@dataclass(slots=True)
class FollowUpKpis:
    followups: int = 0
    done: int = 0
    unreachable: int = 0
    cancelled: int = 0

    def __add__(self, other: FollowUpKpis) -> FollowUpKpis:
        return _add_fields(self, other)

    @property
    def completion_rate(self) -> float | None:
        return _ratio(self.done, self.followups - self.cancelled)

    def as_row(self) -> dict[str, Any]:
        return {
            "followups": self.followups,
            "done": self.done,
            "unreachable": self.unreachable,
            "cancelled": self.cancelled,
            "completion_rate": self.completion_rate,
        }


def followup_time(row: Any) -> float | None:
    """Planned time: ``scheduled_at`` (rule objects), else ``window_start`` then ``created_at``
    (follow_ups table)."""
    for name in ("scheduled_at", "window_start", "created_at"):
        ts = to_timestamp(get(row, name))
        if ts is not None:
            return ts
    return None


def followup_kpis_by(
    rows: Iterable[Any], by: Sequence[str] = (), tz: tzinfo = UTC
) -> dict[GroupKey, FollowUpKpis]:
    out = {}
    for key, group in group_rows(rows, by, followup_time, tz).items():
        k = FollowUpKpis()
        for row in group:
            k.followups += 1
            status = get(row, "status", get(row, "state"))
            status = getattr(status, "value", status)
            k.done += status == "done"
            k.unreachable += status == "unreachable"
            k.cancelled += status == "cancelled"
        out[key] = k
    return out


@dataclass(slots=True)
class SurveyKpis:
    responses: int = 0
    csat_n: int = 0
    csat_sum: int = 0
    csat_top2: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    ces_n: int = 0
    ces_sum: int = 0
    rating_sums: dict[str, int] = field(default_factory=dict)
    rating_counts: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: SurveyKpis) -> SurveyKpis:
        return _add_fields(self, other)

    @property
    def csat_percent(self) -> float | None:
        return _ratio(self.csat_top2, self.csat_n)

    @property
    def csat_mean(self) -> float | None:
        return _ratio(self.csat_sum, self.csat_n)

    @property
    def nps(self) -> float | None:
        return NpsBreakdown(self.promoters, self.passives, self.detractors).score

    @property
    def ces_mean(self) -> float | None:
        return _ratio(self.ces_sum, self.ces_n)

    def csi(self, config: CsiConfig) -> float | None:
        weights = config.normalised(n for n, c in self.rating_counts.items() if c)
        if not weights:
            return None
        low, high = CSI_SCALE
        return sum(
            w * (self.rating_sums[n] / self.rating_counts[n] - low) / (high - low) * 100.0
            for n, w in weights.items()
        )

    def as_row(self, config: CsiConfig | None = None) -> dict[str, Any]:
        return {
            "responses": self.responses,
            "csat_percent": self.csat_percent,
            "csat_mean": self.csat_mean,
            "nps": self.nps,
            "ces_mean": self.ces_mean,
            "csi": self.csi(config or CsiConfig()),
        }


def survey_time(row: Any) -> float | None:
    return to_timestamp(get(row, "responded_at", get(row, "created_at")))


def survey_kpis_by(
    rows: Iterable[Any], by: Sequence[str] = (), tz: tzinfo = UTC
) -> dict[GroupKey, SurveyKpis]:
    """Survey rows: csat, nps, ces, ratings (attribute -> 1..5), responded_at, + dimensions."""
    out = {}
    for key, group in group_rows(rows, by, survey_time, tz).items():
        k = SurveyKpis()
        for row in group:
            k.responses += 1
            csat, nps_score, ces = get(row, "csat"), get(row, "nps"), get(row, "ces")
            if csat is not None:
                k.csat_n += 1
                k.csat_sum += csat
                k.csat_top2 += csat >= 4
            if nps_score is not None:
                k.promoters += nps_score >= 9
                k.passives += 7 <= nps_score <= 8
                k.detractors += nps_score <= 6
            if ces is not None:
                k.ces_n += 1
                k.ces_sum += ces
            ratings: Mapping[str, int] = get(row, "ratings") or {}
            for name, value in ratings.items():
                if value is not None:
                    k.rating_sums[name] = k.rating_sums.get(name, 0) + value
                    k.rating_counts[name] = k.rating_counts.get(name, 0) + 1
        out[key] = k
    return out
