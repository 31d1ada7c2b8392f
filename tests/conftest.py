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
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

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


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database of each kind; the PostgreSQL one is created for this test
    and dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'ccserver.db'}"
        return
    require_service("PostgreSQL", PG_URL, 5432)
    name = f"ccs_test_{uuid.uuid4().hex[:16]}"
    asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
    base = PG_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
