"""Outbox payload values on their way into the main database.

Payloads come either straight from ``put()`` (Python values, top-level timestamps already as
the ISO text the journal holds) or back from the JSON journal after a restart (strings for
timestamps, dates, decimals): :func:`converters` turns them back by column type. The bind
processors here are faster equivalents of SQLAlchemy's own for the hot columns (SQLite
timestamps, JSON), each used only after it proved to give the very same text on samples.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import json.encoder as _json_c
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import JSON, Column, Date, DateTime, Numeric, Table, Time, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# The stdlib json C encoder (absent on some interpreters: then the column's own processor).
# JSON columns keep SQLAlchemy's exact text (", " separators, ASCII escapes), which orjson
# cannot produce, so they are not switched to orjson.
c_make_encoder: Any = getattr(_json_c, "c_make_encoder", None)


Payload = dict[str, Any]
Converter = Callable[[Any], Any]


_fromisoformat = dt.datetime.fromisoformat
# What ``isoformat()`` writes for an aware UTC datetime, with or without microseconds.
_canonical_utc = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?\+00:00", re.ASCII
).fullmatch


def to_datetime(v: Any) -> Any:
    return dt.datetime.fromisoformat(v) if isinstance(v, str) else v


def _to_date(v: Any) -> Any:
    return dt.date.fromisoformat(v) if isinstance(v, str) else v


def _to_time(v: Any) -> Any:
    return dt.time.fromisoformat(v) if isinstance(v, str) else v


def _to_decimal(v: Any) -> Any:
    return decimal.Decimal(v) if isinstance(v, str | int | float) else v


def _to_uuid(v: Any) -> Any:
    return uuid.UUID(v) if isinstance(v, str) else v


def converters(table: Table) -> dict[str, Converter]:
    out: dict[str, Converter] = {}
    for col in table.columns:
        t = col.type
        if isinstance(t, TypeDecorator):  # e.g. the models' UtcDateTime: convert for its impl
            t = t.impl_instance
        if isinstance(t, DateTime):
            out[col.key] = to_datetime
        elif isinstance(t, Date):
            out[col.key] = _to_date
        elif isinstance(t, Time):
            out[col.key] = _to_time
        elif isinstance(t, Numeric) and getattr(t, "asdecimal", False):
            out[col.key] = _to_decimal
        elif isinstance(t, Uuid) and getattr(t, "as_uuid", False):
            out[col.key] = _to_uuid
    return out


def runs_by_keys(payloads: list[Payload]) -> Iterator[tuple[tuple[str, ...], list[Payload]]]:
    """Split into consecutive runs with the same set of keys: ``executemany`` binds one
    column list, and keeping runs consecutive keeps the records' order."""
    if not payloads:
        return
    run: list[Payload] = [payloads[0]]
    view = payloads[0].keys()
    for p in payloads[1:]:
        if p.keys() != view:  # a set comparison in C: far cheaper than sorting every key list
            yield tuple(sorted(view)), run
            run = []
            view = p.keys()
        run.append(p)
    yield tuple(sorted(view)), run


def convert(payloads: list[Payload], conv: dict[str, Converter]) -> list[Payload]:
    if not conv:
        return payloads
    out: list[Payload] = []
    for p in payloads:
        q = dict(p)
        for key in conv.keys() & q.keys():
            q[key] = conv[key](q[key])
        out.append(q)
    return out


_SAMPLE_TIMES = (
    dt.datetime(2026, 3, 1, 12, 30, 5, tzinfo=dt.UTC),
    dt.datetime(1999, 12, 31, 23, 59, 59, 123456, tzinfo=dt.timezone(dt.timedelta(hours=9))),
)


def bind_processor(col: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column type's own bind processor for ``dialect``; for SQLite timestamps, a faster
    equivalent (one ``isoformat`` instead of SQLAlchemy's dict formatting) used only after it
    proved to give the very same text on sample values, so stored text stays comparable."""
    proc: Callable[[Any], Any] | None = col.type.dialect_impl(dialect).bind_processor(dialect)
    if proc is None or dialect.name != "sqlite":
        return proc
    generic: Callable[[Any], Any] = proc
    t = col.type
    decorator = t if isinstance(t, TypeDecorator) else None
    impl = t.impl_instance if isinstance(t, TypeDecorator) else t
    if not isinstance(impl, DateTime):
        return proc
    impl_proc: Callable[[Any], Any] = impl.dialect_impl(dialect).bind_processor(dialect) or (
        lambda v: v
    )

    def fast(value: Any) -> Any:
        if type(value) is dt.datetime and value.tzinfo is dt.UTC:  # the common case
            return value.isoformat(" ", "microseconds")[:26]  # minus "+00:00"
        if decorator is not None:
            value = decorator.process_bind_param(value, dialect)
        if type(value) is dt.datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return impl_proc(value) if decorator is not None else generic(value)

    def from_text(value: Any) -> Any:
        # Payloads carry timestamps as the ISO text the journal holds (see encode_record);
        # a UTC one in exactly isoformat()'s shape becomes SQLite's stored form by slicing,
        # after the same parse the Python conversion would do (so an impossible date such
        # as month 13 still fails the same way). Any other text or value: the full path.
        if type(value) is str and _canonical_utc(value) and _fromisoformat(value):
            if len(value) == 32:
                return value[:10] + " " + value[11:26]
            return value[:10] + " " + value[11:19] + ".000000"
        return fast(to_datetime(value))

    try:
        same = all(
            fast(v) == generic(v) == from_text(v.isoformat()) == from_text(v) for v in _SAMPLE_TIMES
        )
    except (TypeError, ValueError):
        same = False
    return from_text if same else proc


def json_processor(col: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """For JSON columns: ``json.dumps`` with an encoder built once (``dumps`` builds one per
    call, most of the cost for small values), used only when it gives the very same text
    as the column's own processor on sample values."""
    proc: Callable[[Any], Any] | None = col.type.dialect_impl(dialect).bind_processor(dialect)
    if proc is None or not isinstance(col.type, JSON) or c_make_encoder is None:
        return proc
    generic: Callable[[Any], Any] = proc
    encoder = c_make_encoder(
        {},
        json.JSONEncoder().default,
        _json_c.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )

    def fast(value: Any) -> Any:
        if type(value) is list or type(value) is dict:
            return "".join(encoder(value, 0))
        return generic(value)

    samples: list[Any] = [["main", 1, 2.5, None, True], {"k": "ünï 日本", "n": {"x": []}}, {}]
    try:
        same = all(fast(v) == generic(v) for v in samples)
    except (TypeError, ValueError):
        same = False
    return fast if same else proc
