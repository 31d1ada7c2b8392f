"""How each kind of outbox record is written into the main database.

A handler takes one connection (inside the drainer's transaction) and the payloads of a run of
consecutive records of the same kind, and writes them with as few statements as possible
(``executemany``). Handlers are *idempotent* on the primary key: a crash between the main
database's commit and the journal's delete replays a batch on the next start, and a replayed
insert must neither fail nor duplicate (``ON CONFLICT (pk) DO NOTHING``); an update is an
upsert keyed by id (``ON CONFLICT (pk) DO UPDATE`` of the columns the payload carries).

Payload values are converted by column type before binding (``outbox_values``).

Why not let the database unpack the journal's JSON (``INSERT … SELECT … FROM json_each`` /
``jsonb_array_elements``): measured, it moves more CPU into the database than it saves in
the client (SQLite 3.40 re-parses the element per ``->>``; PostgreSQL spends 2-3x COPY's
server time), and here client and database share the same cores.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    and_,
    bindparam,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

from ccserver.crm.outbox_values import (
    Payload,
    bind_processor,
    convert,
    converters,
    json_processor,
    runs_by_keys,
)

Handler = Callable[[AsyncConnection, list[Payload]], Awaitable[None]]


class _InsertPlan:
    """One compiled ``INSERT ... ON CONFLICT`` for a table, a dialect and a set of payload
    keys, plus the per-column work to turn a payload into the driver's parameter tuple.

    Why not ``conn.execute(stmt, list_of_dicts)``: SQLAlchemy then rebuilds every row's
    parameters through its generic machinery, which costs several times the database's own
    insert time at outbox rates. Here the statement is compiled once, and each row is just the
    type's own bind processors (the same functions SQLAlchemy would call) applied in column
    order, then one ``executemany`` through ``exec_driver_sql``.
    """

    def __init__(self, table: Table, dialect: Dialect, keys: tuple[str, ...], upsert: bool):
        conv = converters(table)
        pk = [c.key for c in table.primary_key.columns]
        # Payload columns, plus columns with a Python-side default the payload leaves out
        # (ids, created_at, empty JSON lists): SQLAlchemy would fill those on insert too.
        cols = [
            c
            for c in table.columns
            if c.key in keys or (c.default is not None and not c.default.is_sequence)
        ]
        ins = postgresql.insert(table) if dialect.name == "postgresql" else sqlite.insert(table)
        set_cols = [k for k in keys if k not in pk]
        stmt = (
            ins.on_conflict_do_update(
                index_elements=pk, set_={k: ins.excluded[k] for k in set_cols}
            )
            if upsert and set_cols
            else ins.on_conflict_do_nothing(index_elements=pk)
        )
        compiled = stmt.compile(dialect=dialect, column_keys=[c.key for c in cols])
        self.sql = compiled.string
        by_key = {c.key: c for c in cols}
        order = list(compiled.positiontup or ())
        if sorted(order) != sorted(by_key):
            # The compiled INSERT must bind exactly the table's columns (a SQLAlchemy change
            # that adds or renames binds would otherwise write values into wrong columns).
            raise RuntimeError(f"{table.name}: unexpected bind parameters {order}")
        self.steps: list[tuple[str, Any, Any, Any]] = []
        for key in order:
            col = by_key[key]
            default: Any = None
            if key not in keys and col.default is not None:
                default = col.default
            proc = bind_processor(col, dialect)
            conv_step = conv.get(key)
            if getattr(proc, "__name__", "") == "from_text":
                conv_step = None  # from_text converts text itself
            elif isinstance(col.type, JSON):
                proc = json_processor(col, dialect)
            self.steps.append((key, conv_step, proc, default))
        self.columns = [by_key[k].name for k in order]
        self.table = table
        self.upsert = upsert
        self.journal_sql: str | None = None  # see _journal_insert_sql

    def rows(self, payloads: list[Payload]) -> list[tuple[Any, ...]]:
        """Driver parameter tuples, built column by column: one tight comprehension per
        column is several times cheaper than a Python loop over every cell."""
        columns: list[list[Any]] = []
        for key, conv, proc, default in self.steps:
            if default is not None:
                if default.is_callable:
                    column = [default.arg(None) for _ in payloads]
                else:
                    column = [default.arg] * len(payloads)
            else:
                column = [p[key] for p in payloads]
                if conv is not None:
                    column = [conv(v) for v in column]
            if proc is not None:
                column = [None if v is None else proc(v) for v in column]
            columns.append(column)
        return list(zip(*columns, strict=True))


class _TableWriter:
    """The handler for one table: ``await h(conn, payloads)``, plans cached per key set."""

    def __init__(self, table: Table, *, upsert: bool) -> None:
        self.table, self.upsert = table, upsert
        self.__name__ = f"{'upsert' if upsert else 'insert'}_{table.name}"
        self._plans: dict[tuple[str, tuple[str, ...]], _InsertPlan] = {}

    async def __call__(self, conn: AsyncConnection, payloads: list[Payload]) -> None:
        for keys, run in runs_by_keys(payloads):
            await self._write(conn, keys, run)

    def _plan(self, dialect: Dialect, keys: tuple[str, ...]) -> _InsertPlan:
        plan = self._plans.get((dialect.name, keys))
        if plan is None:
            plan = self._plans[(dialect.name, keys)] = _InsertPlan(
                self.table, dialect, keys, self.upsert
            )
            plan.journal_sql = _journal_insert_sql(plan, dialect)
        return plan

    async def from_journal(self, conn: AsyncConnection, records: Sequence[JournaledRecord]) -> None:
        """Write records that are rows of the main database's journal table (SQLite): each
        run with one key set is one ``INSERT … SELECT`` over its seq range, no Python per
        row; a run the SQL cannot convert exactly takes the Python path."""
        for keys, run in _recordruns_by_keys(records):
            sql = self._plan(conn.dialect, keys).journal_sql
            if sql is not None:
                try:
                    await conn.exec_driver_sql(sql, (run[0].seq, run[-1].seq))
                    continue
                except sa_exc.OperationalError as exc:
                    if _REFUSED not in str(exc.orig):
                        raise
            await self._write(conn, keys, [r.payload for r in run])

    async def _write(
        self, conn: AsyncConnection, keys: tuple[str, ...], run: list[Payload]
    ) -> None:
        dialect = conn.dialect
        plan = self._plan(dialect, keys)
        rows = plan.rows(run)
        use_copy = not self.upsert and dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS
        if use_copy and await _copy_into(conn, plan, rows):
            return
        await conn.exec_driver_sql(plan.sql, rows)


_JOURNAL_TABLE = "outbox"  # the models' OutboxEntry: the outbox's journal on SQLite
_JSON_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII).fullmatch
# A value the SQL cannot convert exactly as the Python path would makes the statement fail
# with this error (SQLite evaluates it only on that branch: it depends on the row's seq);
# the run then takes the Python path, which converts or refuses each value itself.
_REFUSE = "json('!' || seq)"
_REFUSED = "malformed JSON"
_SECONDS = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]"


def _sql_utc_text(v: str) -> str:
    """SQLite: ISO text in exactly ``isoformat()``'s UTC shape -> the stored form, as
    ``from_text`` slices it; the round trip through julianday refuses impossible dates
    (month 13, 30 February, hour 24) as ``fromisoformat`` does."""
    valid = f"strftime('%Y-%m-%dT%H:%M:%S', julianday(substr({v}, 1, 19))) = substr({v}, 1, 19)"
    return (
        f"CASE WHEN {v} IS NULL THEN NULL"
        f" WHEN {v} GLOB '{_SECONDS}+00:00' AND {v} >= '0001' AND {valid}"
        f" THEN substr({v}, 1, 10) || ' ' || substr({v}, 12, 8) || '.000000'"
        f" WHEN {v} GLOB '{_SECONDS}.[0-9][0-9][0-9][0-9][0-9][0-9]+00:00' AND {v} >= '0001'"
        f" AND {valid} THEN substr({v}, 1, 10) || ' ' || substr({v}, 12, 15)"
        f" ELSE {_REFUSE} END"
    )


def _journal_insert_sql(plan: _InsertPlan, dialect: Dialect) -> str | None:
    """SQLite: the plan's INSERT as ``INSERT … SELECT`` from the journal rows of a seq range,
    the database unpacking each payload; None when a column needs Python (a default the
    payloads leave to Python, a type without an exact SQL conversion here)."""
    if dialect.name != "sqlite" or plan.upsert:
        return None
    quote = dialect.identifier_preparer.quote
    # Each payload value is extracted once, in a materialised step: the conversions below
    # name it several times, and SQLite would otherwise extract it again for each mention.
    inner: list[str] = []
    exprs: list[str] = []
    for i, (key, _conv, proc, default) in enumerate(plan.steps):
        if default is not None or not _JSON_KEY(key):
            return None
        col = plan.table.c[key]
        t = col.type.impl_instance if isinstance(col.type, TypeDecorator) else col.type
        v, vt = f"v{i}", f"t{i}"
        inner.append(f"json_extract(payload, '$.{key}') AS {v}")
        if getattr(proc, "__name__", "") == "from_text":
            exprs.append(_sql_utc_text(v))
        elif isinstance(col.type, JSON):
            # JSON null -> SQL NULL (as the Python path binds None); anything else its JSON
            # text (compact separators: the same value, read back equal).
            inner.append(f"payload -> '$.{key}' AS j{i}")
            exprs.append(f"CASE WHEN {v} IS NULL THEN NULL ELSE j{i} END")
        elif isinstance(t, Boolean):
            inner.append(f"json_type(payload, '$.{key}') AS {vt}")
            exprs.append(
                f"CASE {vt} WHEN 'true' THEN 1 WHEN 'false' THEN 0"
                f" WHEN 'null' THEN NULL ELSE {_REFUSE} END"
            )
        elif isinstance(t, Float) and not t.asdecimal:
            # The Python path binds float(v): numbers only (SQLite's REAL affinity makes an
            # integer a float the same way); text or booleans take the Python path.
            inner.append(f"json_type(payload, '$.{key}') AS {vt}")
            exprs.append(
                f"CASE {vt} WHEN 'real' THEN {v} WHEN 'integer' THEN {v}"
                f" WHEN 'null' THEN NULL ELSE {_REFUSE} END"
            )
        elif proc is None and isinstance(t, String | Integer) and not isinstance(t, Numeric):
            # Strings and integers bind unchanged; a JSON object or list is refused (the
            # Python path cannot bind one either).
            inner.append(f"json_type(payload, '$.{key}') AS {vt}")
            exprs.append(f"CASE WHEN {vt} IN ('object', 'array') THEN {_REFUSE} ELSE {v} END")
        else:
            return None
    pk = ", ".join(quote(c.name) for c in plan.table.primary_key.columns)
    return (
        f"WITH r AS MATERIALIZED (SELECT seq, {', '.join(inner)} FROM {_JOURNAL_TABLE}"
        " WHERE seq BETWEEN ? AND ?)"
        f" INSERT INTO {quote(plan.table.name)} ({', '.join(quote(c) for c in plan.columns)})"
        f" SELECT {', '.join(exprs)} FROM r WHERE true ORDER BY seq"
        f" ON CONFLICT ({pk}) DO NOTHING"
    )


class JournaledRecord(Protocol):
    seq: int
    payload: Payload


def _recordruns_by_keys(
    records: Sequence[JournaledRecord],
) -> Iterator[tuple[tuple[str, ...], list[JournaledRecord]]]:
    run: list[JournaledRecord] = []
    view: Any = None
    for r in records:
        if r.payload.keys() != view:
            if run:
                yield tuple(sorted(view)), run
            run = []
            view = r.payload.keys()
        run.append(r)
    if run:
        yield tuple(sorted(view)), run


async def _copy_into(conn: AsyncConnection, plan: _InsertPlan, rows: list[tuple[Any, ...]]) -> bool:
    """PostgreSQL: stream the rows with COPY (several times faster than a prepared
    ``executemany``). COPY has no ON CONFLICT, so it runs in a savepoint and a duplicate key
    (a replay after a crash) answers False: the caller then inserts with ON CONFLICT."""
    import asyncpg  # type: ignore[import-untyped]

    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    try:
        async with conn.begin_nested():
            await driver.copy_records_to_table(
                plan.table.name, records=rows, columns=plan.columns, schema_name=plan.table.schema
            )
    except asyncpg.UniqueViolationError:
        return False
    return True


COPY_MIN_ROWS = 64  # below this a prepared executemany is as fast and simpler


def insert_handler(table: Table) -> Handler:
    """Insert new rows; a row whose primary key exists already is left alone (replay)."""
    return _TableWriter(table, upsert=False)


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
    conv = converters(table)
    pk = [c.key for c in table.primary_key.columns]
    required = _required_columns(table)
    where = and_(*(table.c[k] == bindparam(f"pk__{k}") for k in pk))
    full_rows = _TableWriter(table, upsert=True)

    async def handle(conn: AsyncConnection, payloads: list[Payload]) -> None:
        for keys, run in runs_by_keys(payloads):
            set_cols = [k for k in keys if k not in pk]
            if required.issubset(keys):
                await full_rows(conn, run)
            elif set_cols:
                await _update_existing(conn, table, where, pk, set_cols, convert(run, conv))
            # else: only the key, nothing to change

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
