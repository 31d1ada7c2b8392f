"""How the caller-ID query reaches the database, chosen per back end for latency.

The lookup is one indexed SELECT; what dominates its latency is the plumbing around it:

- PostgreSQL (asyncpg): natively asynchronous. Run the statement on an AUTOCOMMIT
  connection so no BEGIN/ROLLBACK round trips surround the single SELECT.
- SQLite file: aiosqlite sends every driver call (cursor, execute, fetch, rollback on
  return) to its connection thread and back — about five thread hops per lookup, which
  on a busy two-core machine cost milliseconds. Instead, the whole lookup runs in *one*
  ``asyncio.to_thread`` call on a small synchronous engine over the same file (WAL lets
  it read concurrently with the server's writer). Measured on the same loaded machine:
  p50 0.33 ms instead of 3 ms.
- SQLite in memory (tests): the database exists only inside the async engine's
  connection, so the async path is used.

The synchronous engine is shared by every service built on the same async engine and is
disposed together with it (``engine_disposed`` event), so nothing needs closing by hand.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Engine, RowMapping, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine

from ccserver.crm.customer_rows import IDENTITY_LOOKUP
from ccserver.crm.database import apply_sqlite_pragmas


class IdentityReader(Protocol):
    async def fetch(self, kind: str, value: str) -> Sequence[RowMapping]: ...


class AsyncEngineReader:
    def __init__(self, engine: AsyncEngine) -> None:
        autocommit = engine.dialect.name == "postgresql"
        self._engine = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if autocommit else engine
        )

    async def fetch(self, kind: str, value: str) -> Sequence[RowMapping]:
        async with self._engine.connect() as conn:
            result = await conn.execute(IDENTITY_LOOKUP, {"kind": kind, "value": value})
            rows: Sequence[RowMapping] = result.mappings().all()
            return rows


class SqliteThreadReader:
    def __init__(self, url: Any) -> None:
        self._engine = create_sync_engine(url)
        event.listen(self._engine, "connect", apply_sqlite_pragmas)

    def _fetch(self, params: dict[str, str]) -> Sequence[RowMapping]:
        with self._engine.connect() as conn:
            return conn.execute(IDENTITY_LOOKUP, params).mappings().all()

    async def fetch(self, kind: str, value: str) -> Sequence[RowMapping]:
        return await asyncio.to_thread(self._fetch, {"kind": kind, "value": value})

    def dispose(self) -> None:
        self._engine.dispose()


_SQLITE_READERS: weakref.WeakKeyDictionary[Engine, SqliteThreadReader] = weakref.WeakKeyDictionary()


def _is_sqlite_file(engine: AsyncEngine) -> bool:
    url = engine.url
    if engine.dialect.name != "sqlite":
        return False
    database = url.database or ""
    return database not in ("", ":memory:") and "mode=memory" not in str(url.query)


def reader_for(engine: AsyncEngine) -> IdentityReader:
    """The fastest reader for ``engine``'s back end (one per engine for SQLite files)."""
    if not _is_sqlite_file(engine):
        return AsyncEngineReader(engine)
    sync = engine.sync_engine
    reader = _SQLITE_READERS.get(sync)
    if reader is None:
        reader = SqliteThreadReader(engine.url.set(drivername="sqlite"))
        _SQLITE_READERS[sync] = reader
        event.listen(sync, "engine_disposed", lambda _engine: reader.dispose())
    return reader
