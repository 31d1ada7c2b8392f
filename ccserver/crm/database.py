"""Engine and session factories for the CRM store (SQLite by default, PostgreSQL by URL).

SQLite is tuned for a single busy process: WAL so readers never wait for the writer,
``synchronous=NORMAL`` (durable across process crashes, fast commits), foreign keys on
(SQLite leaves them off by default) and a busy timeout so a concurrent writer waits
instead of failing with "database is locked".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from ccserver.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 5000
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


def apply_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def normalise_url(url: str) -> str:
    """Accept the plain ``sqlite:///`` / ``postgresql://`` spellings and add the async driver."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An :class:`AsyncEngine` for ``url`` with the settings each back end needs."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with the raw URL in it
        raise ConfigError("database URL is not valid", details={"key": "database.url"}) from exc
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise ConfigError(
            f"unsupported database driver {parsed.drivername!r}",
            details={"key": "database.url", "supported": list(SUPPORTED_DRIVERS)},
        )
    if parsed.drivername.startswith("sqlite"):
        engine = _create_async_engine(url, echo=echo)
        event.listen(engine.sync_engine, "connect", apply_sqlite_pragmas)
        return engine
    return _create_async_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        pool_timeout=10,
        # No pre-ping: it costs a round trip on every checkout, doubling the caller-ID
        # lookup. After a server restart the first failing query marks a disconnect and
        # SQLAlchemy discards the whole pool, so one request fails (and the outbox retries).
        pool_pre_ping=False,
        pool_recycle=1800,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (no lazy reload on access)."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> bool:
    """True when the database answers a trivial query (for ``/readyz``)."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
