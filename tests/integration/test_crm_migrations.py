"""The Alembic migrations build exactly the schema the models describe, on both back ends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from ccserver.crm import migrate
from ccserver.crm.database import create_engine, ping, session_factory
from ccserver.crm.models import Base, Role


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_fresh_database_has_no_revision_then_head_after_upgrade(empty_db_url: str) -> None:
    assert await migrate.current(empty_db_url) is None
    await migrate.upgrade(empty_db_url)
    assert await migrate.current(empty_db_url) == migrate.head_revision()
    # A second upgrade is a no-op, as `ccserver run` does it on every start.
    await migrate.upgrade(empty_db_url)
    assert await migrate.current(empty_db_url) == migrate.head_revision()


async def test_migrated_schema_equals_models(empty_db_url: str) -> None:
    await migrate.upgrade(empty_db_url)
    engine = create_engine(empty_db_url)
    try:
        async with engine.connect() as conn:
            diffs = await conn.run_sync(_diff)
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert diffs == []
    assert set(Base.metadata.tables) <= tables


async def test_downgrade_to_base_removes_every_table(empty_db_url: str) -> None:
    await migrate.upgrade(empty_db_url)
    await migrate.upgrade(empty_db_url, "head")
    engine = create_engine(empty_db_url)
    try:
        from alembic import command

        def _down(connection: Connection) -> None:
            cfg = migrate.alembic_config()
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "base")

        async with engine.begin() as conn:
            await conn.run_sync(_down)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert not (set(Base.metadata.tables) & tables)


async def test_default_roles_are_seeded(empty_db_url: str) -> None:
    await migrate.upgrade(empty_db_url)
    engine = create_engine(empty_db_url)
    try:
        async with session_factory(engine)() as session:
            roles = {r.name: r for r in (await session.scalars(select(Role))).all()}
    finally:
        await engine.dispose()
    assert set(roles) == {"agent", "supervisor", "admin"}
    assert roles["admin"].permissions == ["*"]
    assert "supervise" not in roles["agent"].permissions


async def test_ping_reports_reachability(empty_db_url: str) -> None:
    engine = create_engine(empty_db_url)
    try:
        assert await ping(engine) is True
    finally:
        await engine.dispose()
    closed = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    try:
        assert await ping(closed) is False
    finally:
        await closed.dispose()


async def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.connect() as conn:
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
            sync = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
    finally:
        await engine.dispose()
    assert (mode, fks, sync) == ("wal", 1, 1)


def test_unsupported_url_is_a_config_error() -> None:
    import pytest

    from ccserver.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        create_engine("mysql+pymysql://x@y/z")
    assert info.value.details["key"] == "database.url"
