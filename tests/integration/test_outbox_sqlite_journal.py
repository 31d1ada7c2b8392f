"""With ``journal_in_main_db=True`` on SQLite the outbox journals in the main database's own
``outbox`` table and drains it
with SQL (``INSERT … SELECT`` from the journal rows): records are durable there when put
returns, survive a restart, keep their exact values, and values the SQL cannot convert
exactly take the Python path (which converts or refuses them as before)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ccserver.crm.database import create_engine
from ccserver.crm.migrate import upgrade
from ccserver.crm.models import Contact
from ccserver.crm.outbox import Outbox
from ccserver.domain import new_id

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
contacts = Contact.__table__


def full_contact(i: int, **extra: Any) -> dict[str, Any]:
    """Every column with a Python default given: a run of these can take the SQL path."""
    return {
        "id": new_id(),
        "interaction_id": f"ix-{i:04}",
        "channel": "voice",
        "direction": "inbound",
        "started_at": T0 + dt.timedelta(seconds=i, microseconds=i),
        "ended_at": T0 + dt.timedelta(seconds=i + 60),
        "wait_s": 1.5,
        "fcr": i % 2 == 0,
        "notes": f"note ünï {i}",
        "ivr_path": ["main", i],
        "attributes": {"n": i, "s": "x"},
        "created_at": T0,
        **extra,
    }


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/main.db"


def _main_journal_count(url: str) -> int:
    conn = sqlite3.connect(url.split("///", 1)[1])
    try:
        return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    finally:
        conn.close()


async def _contacts(url: str) -> dict[str, dict[str, Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            res = await conn.execute(select(contacts))
            return {r.interaction_id: dict(r._mapping) for r in res}
    finally:
        await engine.dispose()


async def test_put_is_durable_in_the_main_database_and_survives_a_restart(
    sqlite_url: str, tmp_path: Path
) -> None:
    await upgrade(sqlite_url)
    payloads = [full_contact(i) for i in range(300)]
    engine = create_engine(sqlite_url)
    journal = tmp_path / "outbox.journal"
    # A drainer that waits long for a fuller batch: the records sit in the journal.
    first = Outbox(engine, journal, batch_size=10_000, flush_interval=30.0, journal_in_main_db=True)
    await first.start()
    await first.put_many("contact.insert", payloads[:200])
    for p in payloads[200:]:
        await first.put("contact.insert", p)
    assert _main_journal_count(sqlite_url) == 300
    assert await first.close(deadline=0.05) is False  # "crash": left in the journal table
    assert _main_journal_count(sqlite_url) == 300
    assert await _contacts(sqlite_url) == {}

    second = Outbox(engine, journal, journal_in_main_db=True)
    await second.start()
    try:
        assert second.status().pending == 300
        await second.flush()
        assert second.status().dead_letters == 0
    finally:
        assert await second.close() is True
        await engine.dispose()
    assert _main_journal_count(sqlite_url) == 0  # deleted with the drain's commit
    # The database unpacked the journal rows itself: its JSON text is compact, where the
    # Python path writes SQLAlchemy's ", " separators.
    conn = sqlite3.connect(sqlite_url.split("///", 1)[1])
    try:
        raw = {r[0] for r in conn.execute("SELECT ivr_path FROM contacts WHERE notes != ''")}
    finally:
        conn.close()
    assert raw == {f'["main",{i}]' for i in range(300)}
    rows = await _contacts(sqlite_url)
    assert sorted(rows) == sorted(p["interaction_id"] for p in payloads)
    for p in payloads:
        row = rows[p["interaction_id"]]
        for key, value in p.items():
            assert row[key] == value, (key, row[key], value)


async def test_values_sql_cannot_convert_exactly_take_the_python_path(
    sqlite_url: str, tmp_path: Path
) -> None:
    await upgrade(sqlite_url)
    plus9 = dt.timezone(dt.timedelta(hours=9))
    good = [
        full_contact(0),
        # text in isoformat()'s UTC shape: converted in SQL
        full_contact(1, started_at="2026-01-05T09:00:01.250000+00:00"),
        # another offset, and text with a space: the Python path normalises them to UTC
        full_contact(2, started_at=dt.datetime(2026, 1, 5, 18, 0, 2, tzinfo=plus9)),
        full_contact(3, ended_at="2026-01-05 09:30:00+00:00"),
        full_contact(4, fcr=None, wait_s=None, queue=None, notes=None),
    ]
    # An impossible date in the canonical shape: SQL must not store it, Python refuses it.
    poison = full_contact(5, started_at="2026-02-30T09:00:00+00:00")
    after = full_contact(6)
    engine = create_engine(sqlite_url)
    outbox = Outbox(engine, tmp_path / "outbox.journal", journal_in_main_db=True)
    await outbox.start()
    try:
        await outbox.put_many("contact.insert", [*good, poison, after])
        await outbox.flush()
        status = outbox.status()
        dead = await outbox.dead_letters()
    finally:
        await outbox.close()
        await engine.dispose()
    assert status.dead_letters == 1
    assert [d.payload["interaction_id"] for d in dead] == ["ix-0005"]
    assert "ValueError" in dead[0].error
    rows = await _contacts(sqlite_url)
    assert sorted(rows) == ["ix-0000", "ix-0001", "ix-0002", "ix-0003", "ix-0004", "ix-0006"]
    assert rows["ix-0001"]["started_at"] == T0.replace(second=1, microsecond=250000)
    assert rows["ix-0002"]["started_at"] == T0.replace(second=2)
    assert rows["ix-0003"]["ended_at"] == T0.replace(minute=30)
    assert rows["ix-0004"]["fcr"] is None and rows["ix-0004"]["notes"] is None
    assert _main_journal_count(sqlite_url) == 0


async def test_journal_file_by_default(sqlite_url: str, tmp_path: Path) -> None:
    await upgrade(sqlite_url)
    engine = create_engine(sqlite_url)
    outbox = Outbox(engine, tmp_path / "j", batch_size=10_000, flush_interval=30.0)
    await outbox.start()
    try:
        await outbox.put("contact.insert", full_contact(1))
        assert _main_journal_count(sqlite_url) == 0
        assert await outbox.journal.count() == 1
    finally:
        await outbox.close(deadline=0.05)
        await engine.dispose()
