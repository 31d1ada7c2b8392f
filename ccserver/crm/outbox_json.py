"""PostgreSQL unpacks the outbox's JSON itself: one statement per run, no per-row Python.

The journal already holds every payload as JSON text. Handing PostgreSQL one JSON array per
run of records (``INSERT … SELECT … FROM jsonb_array_elements($1)``) replaces the per-cell
conversions, bind processing and driver encoding of the Python path, which cost several
times the database's own insert in client CPU.

Every column expression checks that the value has exactly the form the Python path would
accept (a string for text, a number for numbers, a timestamp with an explicit offset …).
Any other value makes the statement fail *on purpose* (a cast of a non-number to integer);
the caller then writes that run through the Python path, which keeps its exact semantics:
conversions, errors, dead letters. So this module is only ever an optimisation.

Why not SQLite too: its JSON functions (3.40) re-parse the element text for every
``->>``, which measured slower than the Python path with ``executemany``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    String,
    Table,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from ccserver.crm.outbox_journal import encode_json

# ISO 8601 with an explicit offset, as ``datetime.isoformat()`` writes an aware value; a naive
# one (no offset) is refused so the Python path can reject it as it always has.
_TIMESTAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d:\d\d$"
_DATE = r"^\d{4}-\d\d-\d\d$"
_UTC_SAMPLE = dt.datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=dt.UTC)


def _value_class(col: Column[Any], dialect: Dialect) -> str | None:
    """How the JSON path writes this column, or None when only the Python path can."""
    t = col.type
    if isinstance(t, TypeDecorator):
        # Only a timestamp decorator whose bind step leaves an aware UTC value as it is
        # (the models' UtcDateTime): PostgreSQL then stores what the JSON text says.
        impl = t.impl_instance
        if not (isinstance(impl, DateTime) and impl.timezone):
            return None
        proc = t.dialect_impl(dialect).bind_processor(dialect)
        return "ts" if (proc(_UTC_SAMPLE) if proc else _UTC_SAMPLE) == _UTC_SAMPLE else None
    if isinstance(t, JSON):
        return "json"
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, Enum):
        return None
    if isinstance(t, Integer) or (isinstance(t, Float) and not t.asdecimal):
        return "num"
    if isinstance(t, String):
        return "str"
    if isinstance(t, DateTime):
        return "ts" if t.timezone else None
    if isinstance(t, Date):
        return "date"
    return None  # Decimals, UUIDs, times, binary: the Python path


def _expr(cls: str, jb: str, typ: str) -> str:
    """The column value from the jsonb field ``jb``, or a deliberate error."""
    if cls == "json":
        return f"CAST({jb} AS {typ})"
    txt = f"({jb} #>> '{{}}')"
    refuse = "CAST('outbox: refused by the JSON path, row ' || e.n AS integer)"
    err = f"CAST(CAST({refuse} AS text) AS {typ})"
    is_null = f"WHEN jsonb_typeof({jb}) = 'null' THEN NULL"
    if cls == "str":  # no cast: an over-long value fails as it would through the driver
        return f"CASE WHEN jsonb_typeof({jb}) = 'string' THEN {txt} {is_null} ELSE {err} END"
    json_type = {"num": "number", "bool": "boolean"}.get(cls)
    if json_type is not None:
        ok = f"jsonb_typeof({jb}) = '{json_type}'"
        return f"CASE WHEN {ok} THEN CAST({txt} AS {typ}) {is_null} ELSE {err} END"
    pattern = _TIMESTAMP if cls == "ts" else _DATE
    return (
        f"CASE WHEN jsonb_typeof({jb}) = 'string' AND {txt} ~ '{pattern}'"
        f" THEN CAST({txt} AS {typ}) {is_null} ELSE {err} END"
    )


class JsonInsertPlan:
    """``INSERT … SELECT … ON CONFLICT (pk) DO NOTHING`` from one JSON array parameter, for
    one table and one set of payload keys.

    Columns the payloads leave out but that have a Python-side default (ids, created_at,
    empty JSON lists) travel next to each payload: each element is then ``[payload,
    [default, …]]``, built by :meth:`document`, as SQLAlchemy would fill them on insert."""

    def __init__(self, sql: str, defaults: list[Any]) -> None:
        self.sql = sql
        self.defaults = defaults

    @classmethod
    def build(cls, table: Table, dialect: Dialect, keys: tuple[str, ...]) -> JsonInsertPlan | None:
        """The plan, or None when some column can only go through the Python path."""
        if dialect.name != "postgresql" or not table.primary_key.columns:
            return None
        present = [c for c in table.columns if c.key in keys]
        missing = [c for c in table.columns if c.key not in keys and c.default is not None]
        defaults = [c.default for c in missing]
        if any(d is None or not (d.is_callable or d.is_scalar) for d in defaults):
            return None
        exprs: list[str] = []
        for i, col in enumerate(present + missing):
            value_class = _value_class(col, dialect)
            if value_class is None or not col.key.isidentifier():
                return None
            if i < len(present):
                jb = f"((e.doc -> 0) -> '{col.key}')" if missing else f"(e.doc -> '{col.key}')"
            else:
                jb = f"((e.doc -> 1) -> {i - len(present)})"
            exprs.append(_expr(value_class, jb, col.type.compile(dialect=dialect)))
        quote = dialect.identifier_preparer.quote
        names = ", ".join(quote(c.name) for c in present + missing)
        pk = ", ".join(quote(c.name) for c in table.primary_key.columns)
        sql = (
            f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names})"
            f" SELECT {', '.join(exprs)}"
            " FROM jsonb_array_elements(CAST($1 AS jsonb)) WITH ORDINALITY AS e(doc, n)"
            # Journal order, so that of two records with one key the first wins, as with
            # one INSERT per record.
            f" ORDER BY e.n ON CONFLICT ({pk}) DO NOTHING"
        )
        return cls(sql, defaults)

    def document(self, encoded: list[str]) -> str:
        """The JSON array parameter for payloads whose journal text is ``encoded``."""
        if not self.defaults:
            return f"[{','.join(encoded)}]"
        parts = []
        for text in encoded:
            values = [d.arg(None) if d.is_callable else d.arg for d in self.defaults]
            parts.append(f"[{text},{encode_json(values)}]")
        return f"[{','.join(parts)}]"
