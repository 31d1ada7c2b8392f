"""How each kind of outbox record is written into the main database.

A handler takes one connection (inside the drainer's transaction) and the payloads of a run of
consecutive records of the same kind, and writes them with as few statements as possible
(``executemany``). Handlers are *idempotent* on the primary key: a crash between the main
database's commit and the journal's delete replays a batch on the next start, and a replayed
insert must neither fail nor duplicate (``ON CONFLICT (pk) DO NOTHING``); an update is an
upsert keyed by id (``ON CONFLICT (pk) DO UPDATE`` of the columns the payload carries).

Payloads come either straight from ``put()`` (Python values) or back from the JSON journal
after a restart (strings for timestamps, dates, decimals), so each handler converts by column
type before binding.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from sqlalchemy import Date, DateTime, MetaData, Numeric, Table, Time, Uuid, and_, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

Payload = dict[str, Any]
Handler = Callable[[AsyncConnection, list[Payload]], Awaitable[None]]
_Converter = Callable[[Any], Any]


def _to_datetime(v: Any) -> Any:
    return dt.datetime.fromisoformat(v) if isinstance(v, str) else v


def _to_date(v: Any) -> Any:
    return dt.date.fromisoformat(v) if isinstance(v, str) else v


def _to_time(v: Any) -> Any:
    return dt.time.fromisoformat(v) if isinstance(v, str) else v


def _to_decimal(v: Any) -> Any:
    return decimal.Decimal(v) if isinstance(v, str | int | float) else v


def _to_uuid(v: Any) -> Any:
    return uuid.UUID(v) if isinstance(v, str) else v


def _converters(table: Table) -> dict[str, _Converter]:
    out: dict[str, _Converter] = {}
    for col in table.columns:
        t = col.type
        if isinstance(t, TypeDecorator):  # e.g. the models' UtcDateTime: convert for its impl
            t = t.impl_instance
        if isinstance(t, DateTime):
            out[col.key] = _to_datetime
        elif isinstance(t, Date):
            out[col.key] = _to_date
        elif isinstance(t, Time):
            out[col.key] = _to_time
        elif isinstance(t, Numeric) and getattr(t, "asdecimal", False):
            out[col.key] = _to_decimal
        elif isinstance(t, Uuid) and getattr(t, "as_uuid", False):
            out[col.key] = _to_uuid
    return out


def _runs_by_keys(payloads: list[Payload]) -> Iterator[tuple[tuple[str, ...], list[Payload]]]:
    """Split into consecutive runs with the same set of keys: ``executemany`` binds one
    column list, and keeping runs consecutive keeps the records' order."""
    run: list[Payload] = []
    keys: tuple[str, ...] = ()
    for p in payloads:
        k = tuple(sorted(p))
        if run and k != keys:
            yield keys, run
            run = []
        keys = k
        run.append(p)
    if run:
        yield keys, run


def _convert(payloads: list[Payload], conv: dict[str, _Converter]) -> list[Payload]:
    if not conv:
        return payloads
    out: list[Payload] = []
    for p in payloads:
        q = dict(p)
        for key in conv.keys() & q.keys():
            q[key] = conv[key](q[key])
        out.append(q)
    return out


def _dialect_insert(conn: AsyncConnection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"outbox handlers support sqlite and postgresql, not {name}")


def insert_handler(table: Table) -> Handler:
    """Insert new rows; a row whose primary key exists already is left alone (replay)."""
    conv = _converters(table)
    pk = [c.name for c in table.primary_key.columns]

    async def handle(conn: AsyncConnection, payloads: list[Payload]) -> None:
        stmt = _dialect_insert(conn, table).on_conflict_do_nothing(index_elements=pk)
        for _keys, run in _runs_by_keys(payloads):
            await conn.execute(stmt, _convert(run, conv))

    handle.__name__ = f"insert_{table.name}"
    return handle


class RowNotFound(LookupError):
    """An update named a primary key that is not in the table (nothing to update)."""


def _required_columns(table: Table) -> frozenset[str]:
    """Columns an INSERT cannot do without: NOT NULL and no default of any kind."""
    return frozenset(
        c.key
        for c in table.columns
        if not c.nullable
        and c.default is None
        and c.server_default is None
        and not (c.primary_key and c.autoincrement is True)
    )


def upsert_handler(table: Table) -> Handler:
    """Insert or update by primary key, touching only the columns the payload carries.

    A payload that carries a whole row (every required column) is an upsert
    (``ON CONFLICT (pk) DO UPDATE``); a partial one (``{"id": ..., "disposition": ...}``) is
    an ``UPDATE ... WHERE pk = ...`` that must find its row, else it is a poison record
    (:class:`RowNotFound`) rather than a silent no-op."""
    conv = _converters(table)
    pk = [c.key for c in table.primary_key.columns]
    required = _required_columns(table)
    where = and_(*(table.c[k] == bindparam(f"pk__{k}") for k in pk))

    async def handle(conn: AsyncConnection, payloads: list[Payload]) -> None:
        base = _dialect_insert(conn, table)
        for keys, run in _runs_by_keys(payloads):
            rows = _convert(run, conv)
            set_cols = [k for k in keys if k not in pk]
            if not set_cols:
                await conn.execute(base.on_conflict_do_nothing(index_elements=pk), rows)
            elif required.issubset(keys):
                updates = {k: base.excluded[k] for k in set_cols}
                stmt = base.on_conflict_do_update(index_elements=pk, set_=updates)
                await conn.execute(stmt, rows)
            else:
                await _update_existing(conn, table, where, pk, set_cols, rows)

    handle.__name__ = f"upsert_{table.name}"
    return handle


async def _update_existing(
    conn: AsyncConnection,
    table: Table,
    where: Any,
    pk: list[str],
    set_cols: list[str],
    rows: list[Payload],
) -> None:
    stmt = update(table).where(where).values({k: bindparam(f"v__{k}") for k in set_cols})
    params = [
        {**{f"pk__{k}": r[k] for k in pk}, **{f"v__{k}": r[k] for k in set_cols}} for r in rows
    ]
    if len(params) == 1:
        result = await conn.execute(stmt, params[0])
        if result.rowcount == 0:
            raise RowNotFound(f"{table.name}: no row with {pk} = {[rows[0][k] for k in pk]}")
        return
    result = await conn.execute(stmt, params)
    # Drivers that report an executemany row count let a batch prove every row was found;
    # a short count makes the outbox bisect down to the missing one (single-row path).
    if 0 <= result.rowcount < len(params):
        raise RowNotFound(f"{table.name}: {len(params) - result.rowcount} rows to update missing")


# record kind prefix -> table name in DESIGN.md §7
_KIND_TABLES: dict[str, str] = {
    "customer": "customers",
    "customer_identity": "customer_identities",
    "contact": "contacts",
    "message": "messages",
    "complaint": "complaints",
    "follow_up": "follow_ups",
    "survey": "surveys",
    "survey_response": "survey_responses",
    "order": "orders",
    "audit": "audit_log",
}


def build_handlers(metadata: MetaData) -> dict[str, Handler]:
    """The registry for every table in ``metadata``: ``"<table>.insert"`` and
    ``"<table>.upsert"``, plus the short record names the server uses (``contact.insert``,
    ``contact.update``, ``message.insert``, ``audit.insert``, ``survey_response.insert`` …).
    """
    handlers: dict[str, Handler] = {}
    for name, table in metadata.tables.items():
        if not table.primary_key.columns:
            continue
        handlers[f"{name}.insert"] = insert_handler(table)
        handlers[f"{name}.upsert"] = upsert_handler(table)
    for kind, tname in _KIND_TABLES.items():
        if f"{tname}.insert" in handlers:
            handlers[f"{kind}.insert"] = handlers[f"{tname}.insert"]
            handlers[f"{kind}.update"] = handlers[f"{tname}.upsert"]
    return handlers
