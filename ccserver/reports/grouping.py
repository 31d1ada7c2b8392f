"""Grouping rows for reports: by calendar period (day / week / month) or by any field.

Periods are calendar buckets in a given time zone (UTC by default): ``2026-03-02`` for a
day, ``2026-W10`` for an ISO week, ``2026-03`` for a month. Any other dimension is a field
name read from the row (``queue``, ``agent_id``, ``channel``, ``segment`` ...); a row without
a value for a dimension is grouped under None, never dropped, so group totals always add up
to the overall total.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from ccserver.crm.rules.rows import get

PERIODS = ("day", "week", "month")

GroupKey = tuple[Any, ...]


def period_bucket(ts: float | None, period: str, tz: tzinfo = UTC) -> str | None:
    if ts is None:
        return None
    moment = datetime.fromtimestamp(ts, tz)
    if period == "day":
        return moment.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return moment.strftime("%Y-%m")
    raise ValueError(f"unknown period {period!r} (known: {', '.join(PERIODS)})")


def group_key(
    row: Any, by: Sequence[str], time_of: Callable[[Any], float | None], tz: tzinfo = UTC
) -> GroupKey:
    return tuple(
        period_bucket(time_of(row), dim, tz) if dim in PERIODS else get(row, dim) for dim in by
    )


def sort_key(key: GroupKey) -> tuple[tuple[int, str], ...]:
    # None sorts last; values compare as text so mixed types never raise.
    return tuple((1, "") if v is None else (0, str(v)) for v in key)


def group_rows(
    rows: Iterable[Any],
    by: Sequence[str],
    time_of: Callable[[Any], float | None],
    tz: tzinfo = UTC,
) -> dict[GroupKey, list[Any]]:
    """Rows split by the dimensions in ``by``, groups ordered by key."""
    groups: dict[GroupKey, list[Any]] = {}
    for row in rows:
        groups.setdefault(group_key(row, by, time_of, tz), []).append(row)
    return {k: groups[k] for k in sorted(groups, key=sort_key)}
