"""Reading plain rows: dicts (SQL result mappings) or objects (dataclasses, ORM rows).

Rules and reports accept either, so a test can feed the same data to the row-based
functions and to the SQL aggregates and compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_MISSING = object()


def get(row: Any, name: str, default: Any = None) -> Any:
    """Field ``name`` of a mapping or an object; ``default`` when absent."""
    if type(row) is dict:  # the common case, without the slower ABC check
        return row.get(name, default)
    if isinstance(row, Mapping):
        return row.get(name, default)
    value = getattr(row, name, _MISSING)
    return default if value is _MISSING else value


def to_timestamp(value: Any) -> float | None:
    """Epoch seconds from an int/float or a datetime (naive datetimes are taken as UTC)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        stamp: float = value.timestamp()
        return stamp
    if isinstance(value, bool):
        raise TypeError("a boolean is not a time")
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"not a time value: {value!r}")


def to_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from epoch seconds or a datetime."""
    ts = to_timestamp(value)
    return None if ts is None else datetime.fromtimestamp(ts, UTC)
