"""Backup and restore of the CRM database (procedure: ``ccserver/crm/BACKUP.md``).

* SQLite: SQLite's online backup API (``sqlite3.Connection.backup``) copies a consistent
  snapshot while the server keeps writing — copying the file (and its WAL) by hand can tear.
* PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists``; the
  password, when the URL has one, goes to the tools in ``PGPASSWORD`` rather than on the
  command line (which other users can read in ``ps``).

Restores are for a stopped server: restoring under a running one swaps data beneath it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from ccserver.errors import CcserverError, ConfigError


class BackupFailed(CcserverError):
    code = "backup_failed"


def sqlite_path(database_url: str) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise ConfigError(f"not an SQLite file URL: {url.render_as_string(hide_password=True)}")
    return Path(url.database)


def _copy_sqlite(source: Path, dest: Path, *, clear_wal: bool = False) -> None:
    if not source.exists():
        raise BackupFailed(f"no database file at {source}")
    if clear_wal:
        for suffix in ("-wal", "-shm"):
            Path(f"{dest}{suffix}").unlink(missing_ok=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()


async def backup_sqlite(source: Path, dest: Path) -> Path:
    """A consistent copy of the live database ``source`` at ``dest`` (online backup API)."""
    await asyncio.to_thread(_copy_sqlite, source, dest)
    return dest


async def restore_sqlite(backup: Path, target: Path) -> None:
    """Replace ``target``'s content with ``backup`` (server stopped). Stale WAL/SHM files of
    the old database are removed so they cannot be replayed over the restored one."""
    await asyncio.to_thread(_copy_sqlite, backup, target, clear_wal=True)


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    url = make_url(database_url)
    env = {}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url._replace(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def pg_dump_command(database_url: str, dest: Path) -> tuple[list[str], dict[str, str]]:
    """The ``pg_dump`` command line and extra environment for a custom-format dump."""
    dsn, env = _libpq(database_url)
    return ["pg_dump", "--format=custom", "--no-owner", f"--file={dest}", f"--dbname={dsn}"], env


def pg_restore_command(database_url: str, backup: Path) -> tuple[list[str], dict[str, str]]:
    """The ``pg_restore`` command line: drop what exists, recreate from the dump."""
    dsn, env = _libpq(database_url)
    cmd = ["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={dsn}", str(backup)]
    return cmd, env


async def _run(cmd: list[str], env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    _out, err = await proc.communicate()
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise BackupFailed(
            f"{cmd[0]} failed with exit code {proc.returncode}: {lines[-1] if lines else ''}",
            details={"stderr": err.decode("utf-8", "replace")[-2000:]},
        )


async def backup(database_url: str, dest: Path) -> Path:
    """Back up the database at ``database_url`` (SQLite or PostgreSQL) to ``dest``."""
    if make_url(database_url).get_backend_name() == "sqlite":
        return await backup_sqlite(sqlite_path(database_url), dest)
    await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
    await _run(*pg_dump_command(database_url, dest))
    return dest


async def restore(database_url: str, backup_file: Path) -> None:
    """Restore ``backup_file`` into the database at ``database_url`` (server stopped)."""
    if make_url(database_url).get_backend_name() == "sqlite":
        await restore_sqlite(backup_file, sqlite_path(database_url))
        return
    await _run(*pg_restore_command(database_url, backup_file))
