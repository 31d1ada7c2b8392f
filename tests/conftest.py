"""Shared fixtures: every store test runs on SQLite and PostgreSQL, every bus test on the
in-memory bus and on Redis (DESIGN.md "one test suite over every implementation").

PostgreSQL and Redis are found at the usual local addresses (override with
CCSERVER_TEST_PG_URL / CCSERVER_TEST_REDIS_URL). When one is unreachable its half of the
matrix is skipped on a developer machine, and *fails* when CI=true, so CI cannot go green
without having tested both back ends.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

PG_URL = os.environ.get("CCSERVER_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CCSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    """Skip (developer machine) or fail (CI=true) when a back-end server is not reachable."""
    if _reachable(url, default_port):
        return
    message = f"{name} is not reachable at {url}"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it (start it, see README 'Tests')")
    pytest.skip(message)


def pytest_sessionstart(session: pytest.Session) -> None:
    """On CI both back ends are mandatory: stop at once, before any test, if one is missing."""
    if not IN_CI:
        return
    missing = [
        f"{name} at {url}"
        for name, url, port in (("PostgreSQL", PG_URL, 5432), ("Redis", REDIS_URL, 6379))
        if not _reachable(url, port)
    ]
    if missing:
        pytest.exit(f"CI=true but not reachable: {', '.join(missing)}", returncode=3)


def _pg_admin_dsn() -> str:
    return PG_URL.replace("postgresql+asyncpg://", "postgresql://")


async def _pg_exec(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_pg_admin_dsn())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    from ccserver.crm.migrate import upgrade

    await upgrade(url)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per test run; each test gets a copy (migrating costs more)."""
    path = tmp_path_factory.mktemp("template") / "ccserver.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str]:
    """One migrated PostgreSQL database per test run, used as the TEMPLATE of each test's
    database (CREATE DATABASE … TEMPLATE copies files: ~10x faster than migrating)."""
    require_service("PostgreSQL", PG_URL, 5432)
    name = f"ccs_tmpl_{uuid.uuid4().hex[:16]}"
    asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(_migrate(f"{PG_URL.rsplit('/', 1)[0]}/{name}"))
        yield name
    finally:
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def _pg_database(template: str | None) -> Iterator[str]:
    name = f"ccs_test_{uuid.uuid4().hex[:16]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"{clause}'))
    try:
        yield f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a migrated (schema at head, no rows) database of each kind, private to this
    test; the PostgreSQL one is dropped after it."""
    if request.param == "sqlite":
        target = tmp_path / "ccserver.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    with _pg_database(request.getfixturevalue("_pg_template")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database (no schema) of each kind, for migration tests."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    require_service("PostgreSQL", PG_URL, 5432)
    with _pg_database(None) as url:
        yield url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on this test's migrated database (both back ends)."""
    from ccserver.crm.database import create_engine

    eng = create_engine(db_url)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    from ccserver.crm.database import session_factory

    return session_factory(engine)


@pytest.fixture
def redis_url() -> str:
    """URL of the Redis used by tests (database 15); tests use unique key prefixes."""
    require_service("Redis", REDIS_URL, 6379)
    return REDIS_URL


@pytest.fixture
async def unused_port() -> AsyncIterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    yield port
