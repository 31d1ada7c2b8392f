"""Values written through the outbox come back exactly as put, whichever write path the
outbox takes (prepared executemany, COPY on PostgreSQL for longer runs), including after a
restart from the journal (payloads then come back from JSON text)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ccserver.crm.database import create_engine
from ccserver.crm.migrate import upgrade
from ccserver.crm.models import Base, Contact
from ccserver.crm.outbox import Outbox
from ccserver.domain import new_id

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
contacts = Contact.__table__


def varied_contacts() -> list[dict[str, Any]]:
    plus9 = dt.timezone(dt.timedelta(hours=9))
    return [
        {  # every kind of column, all set
            "id": new_id(),
            "interaction_id": "ix-1",
            "channel": "voice",
            "direction": "outbound",
            "queue": "sales",
            "started_at": T0.replace(microsecond=123456),
            "answered_at": T0 + dt.timedelta(seconds=7),
            "wait_s": 7.25,
            "talk_s": 0.0,
            "fcr": True,
            "notes": 'quotes " and \\ and ünïcödé 日本語 ✓',
            "ivr_path": ["main", {"menu": 2}],
            "attributes": {"dnis": "+4930123456", "nested": {"n": 1.5, "ok": False}},
            "created_at": T0,
        },
        {  # nulls, and the defaulted columns (id, direction, created_at, JSON) left out
            "interaction_id": "ix-2",
            "channel": "chat",
            "started_at": T0,
            "fcr": False,
            "queue": None,
            "wait_s": None,
        },
        {  # non-UTC offset, and a timestamp given as text (space, not "T")
            "id": new_id(),
            "interaction_id": "ix-3",
            "channel": "email",
            "started_at": dt.datetime(2026, 1, 5, 18, 0, tzinfo=plus9),
            "ended_at": "2026-01-05 09:30:00+00:00",
            # ISO forms Python parses that are not isoformat()'s own: week date, comma
            "queued_at": "2026-W02-1T09:00:05+00:00",
            "answered_at": "2026-01-05T09:00:09,250000+00:00",
            "wait_s": 3,
        },
    ]


def expected(p: dict[str, Any]) -> dict[str, Any]:
    return {
        k: dt.datetime.fromisoformat(v) if isinstance(v, str) and k.endswith("_at") else v
        for k, v in p.items()
    }


async def _rows(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    async with engine.connect() as conn:
        res = await conn.execute(select(contacts).order_by(contacts.c.interaction_id))
        rows = {r.interaction_id: dict(r._mapping) for r in res}
        # Stored as the database compares them (SQLite: the text form of every other
        # timestamp), not only read back equal: an equality query finds each one.
        for key in ("queued_at", "answered_at"):
            col = contacts.c[key]
            found = await conn.execute(select(func.count()).where(col == rows["ix-3"][key]))
            assert found.scalar() == 1, key
        return rows


def copies(payload: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """``n`` rows like ``payload``: a run long enough for PostgreSQL's COPY path."""
    return [{**payload, "id": new_id(), "interaction_id": f"ix-1-{k:03}"} for k in range(n)]


def _check(rows: dict[str, dict[str, Any]], payloads: list[dict[str, Any]]) -> None:
    assert sorted(rows) == sorted(p["interaction_id"] for p in payloads)
    for p in payloads:
        row = rows[p["interaction_id"]]
        for key, value in expected(p).items():
            assert row[key] == value, (p["interaction_id"], key, row[key], value)
    defaulted = rows["ix-2"]
    assert defaulted["id"] and defaulted["direction"] == "inbound"
    assert defaulted["ivr_path"] == [] and defaulted["attributes"] == {}
    assert defaulted["created_at"].tzinfo is not None


async def test_values_round_trip_on_every_write_path(db_url: str, tmp_path: Path) -> None:
    await upgrade(db_url)
    engine = create_engine(db_url)
    payloads = varied_contacts()
    payloads += copies(payloads[0], 80)
    audit = {
        "id": new_id(),
        "actor": "agent1",
        "action": "read",
        "entity": "customer",
        "entity_id": "c1",
        "at": T0,
        "details": {"ip": "127.0.0.1"},
    }
    outbox = Outbox(engine, tmp_path / "journal")
    await outbox.start()
    try:
        await outbox.put_many("contact.insert", payloads)
        await outbox.put("audit.insert", audit)
        await outbox.flush()
        assert outbox.status().dead_letters == 0
    finally:
        await outbox.close()
        rows = await _rows(engine)
        async with engine.connect() as conn:
            audit_rows = (await conn.execute(select(Base.metadata.tables["audit_log"]))).all()
        await engine.dispose()
    _check(rows, payloads)
    assert [r.at for r in audit_rows] == [T0]


async def test_records_restarted_from_the_journal_keep_their_values(
    db_url: str, tmp_path: Path
) -> None:
    await upgrade(db_url)
    payloads = varied_contacts()
    payloads += copies(payloads[0], 80)
    journal = tmp_path / "journal"
    # First run: the main database is unreachable (closed port / unopenable file), so
    # everything stays in the journal.
    if db_url.startswith("sqlite"):
        away = create_engine(f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/x.db")
    else:
        away = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    first = Outbox(away, journal)
    await first.start()
    await first.put_many("contact.insert", payloads)
    assert await first.close(deadline=0.3) is False
    await away.dispose()

    engine = create_engine(db_url)
    second = Outbox(engine, journal)
    await second.start()
    try:
        assert second.status().pending == len(payloads)
        await second.flush()
        assert second.status().dead_letters == 0
    finally:
        await second.close()
        rows = await _rows(engine)
        await engine.dispose()
    _check(rows, payloads)
