"""Backup and restore (ccserver/crm/BACKUP.md): a backup taken, the data changed, the backup
restored and the old data found again — SQLite always, PostgreSQL when pg_dump is installed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ccserver.crm.backup import BackupFailed, backup, pg_dump_command, restore
from ccserver.crm.database import create_engine, session_factory
from ccserver.crm.models import Customer


async def _names(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            return list(await s.scalars(select(Customer.display_name).order_by(Customer.id)))
    finally:
        await engine.dispose()


async def _add(url: str, name: str) -> None:
    engine = create_engine(url)
    try:
        async with session_factory(engine).begin() as s:
            n = int((await s.execute(select(func.count()).select_from(Customer))).scalar_one())
            s.add(Customer(customer_number=f"B{n}", display_name=name, name_key=name.lower()))
    finally:
        await engine.dispose()


async def test_backup_then_restore_brings_back_the_data(db_url: str, tmp_path: Path) -> None:
    if db_url.startswith("postgresql") and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    await _add(db_url, "Before Backup")
    dump = tmp_path / "backups" / "crm.backup"
    assert await backup(db_url, dump) == dump and dump.stat().st_size > 0
    await _add(db_url, "After Backup")
    assert await _names(db_url) == ["Before Backup", "After Backup"]
    await restore(db_url, dump)
    assert await _names(db_url) == ["Before Backup"]
    with pytest.raises(BackupFailed):
        await restore(db_url, tmp_path / "missing.backup")


def test_password_never_on_the_pg_command_line(tmp_path: Path) -> None:
    cmd, env = pg_dump_command("postgresql+asyncpg://cc:s3cret@db:5432/crm", tmp_path / "x")
    assert env == {"PGPASSWORD": "s3cret"}
    assert not any("s3cret" in part for part in cmd)
    assert "--dbname=postgresql://cc@db:5432/crm" in cmd
