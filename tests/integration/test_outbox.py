"""The durable outbox against real SQLite and PostgreSQL: order, batching, outages, restarts,
poison records. Outages are real: SQLite is held under an exclusive write lock by another
connection; PostgreSQL is reached through a TCP proxy that the test stops and restarts."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ccserver.crm.database import create_engine
from ccserver.crm.migrate import upgrade
from ccserver.crm.models import Contact
from ccserver.crm.outbox import (
    Backoff,
    Outbox,
    OutboxClosed,
    UnknownRecordKind,
    is_connectivity_error,
)
from ccserver.crm.outbox_journal import Journal, JournalRecord, encode_payload
from ccserver.domain import new_id

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
contacts = Contact.__table__


def contact(i: int, *, prev: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "interaction_id": f"ix-{i}",
        "channel": "voice",
        "started_at": T0 + dt.timedelta(seconds=i),
        "notes": str(i),
        "related_contact_id": prev,
        **extra,
    }


# --- outage makers ---------------------------------------------------------------------------
class Outage(Protocol):
    async def begin(self) -> None: ...
    async def end(self) -> None: ...


class SqliteWriteLock:
    """Another connection holds the write lock: every writer gets "database is locked"."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None

    async def begin(self) -> None:
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=0.01)
        # The drainer grabs the write lock many times a second; keep trying between its
        # transactions rather than trusting one busy wait on a loaded machine.
        async with asyncio.timeout(20):
            while True:
                try:
                    self.conn.execute("BEGIN EXCLUSIVE")
                    return
                except sqlite3.OperationalError:
                    await asyncio.sleep(0.001)

    async def end(self) -> None:
        if self.conn is not None:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.conn.close()
            self.conn = None


class TcpProxy:
    """Forwards a loopback port to PostgreSQL; ``begin`` drops every connection and stops
    listening (connections are refused), ``end`` listens again on the same port."""

    def __init__(self, port: int, target_port: int) -> None:
        self.port, self.target_port = port, target_port
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        for a, b in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(a, b))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for w in self.writers:
            w.transport.abort()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for w in self.writers:
            w.close()
            with contextlib.suppress(ConnectionError, OSError):
                await w.wait_closed()
        self.writers.clear()
        if self.server is not None:
            await self.server.wait_closed()
            self.server = None

    async def begin(self) -> None:
        await self.stop()

    async def end(self) -> None:
        await self.start()


@dataclass
class Env:
    url: str  # direct URL, for checking what landed
    outbox_engine: AsyncEngine  # what the outbox writes through (proxy / short lock timeout)
    check_engine: AsyncEngine
    outage: Outage
    journal: Path
    committed: list[Sequence[JournalRecord]] = field(default_factory=list)

    def outbox(self, **kw: Any) -> Outbox:
        kw.setdefault("backoff", Backoff(base=0.01, cap=0.1))
        kw.setdefault("on_commit", lambda recs, _t: self.committed.append(list(recs)))
        return Outbox(self.outbox_engine, self.journal, **kw)

    async def rows(self) -> list[dict[str, Any]]:
        async with self.check_engine.connect() as conn:
            res = await conn.execute(select(contacts).order_by(contacts.c.started_at))
            return [dict(r._mapping) for r in res]

    async def count(self) -> int:
        async with self.check_engine.connect() as conn:
            n = (await conn.execute(select(func.count()).select_from(contacts))).scalar()
            return int(n or 0)


def _sqlite_fast_fail_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=20")  # fail fast while the test holds the lock
        cur.close()

    return engine


@pytest.fixture
async def env(db_url: str, tmp_path: Path, unused_port: int) -> AsyncIterator[Env]:
    await upgrade(db_url)
    check = create_engine(db_url)
    proxy: TcpProxy | None = None
    if db_url.startswith("sqlite"):
        outbox_engine = _sqlite_fast_fail_engine(db_url)
        outage: Outage = SqliteWriteLock(db_url.split("///", 1)[1])
    else:
        parsed = make_url(db_url)
        proxy = TcpProxy(unused_port, parsed.port or 5432)
        await proxy.start()
        proxied = parsed.set(host="127.0.0.1", port=unused_port)
        outbox_engine = create_engine(proxied.render_as_string(hide_password=False))
        outage = proxy
    e = Env(db_url, outbox_engine, check, outage, tmp_path / "data" / "outbox.journal")
    try:
        yield e
    finally:
        if isinstance(outage, SqliteWriteLock):
            await outage.end()
        await outbox_engine.dispose()
        await check.dispose()
        if proxy is not None:
            await proxy.stop()


async def wait_until(predicate: Any, limit_s: float = 10.0) -> None:
    """Poll a status predicate (the outbox exposes status, not events, by design)."""
    async with asyncio.timeout(limit_s):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


# --- tests -----------------------------------------------------------------------------------
async def test_writes_arrive_in_order_in_batches(env: Env) -> None:
    outbox = env.outbox(batch_size=500)
    await outbox.start()
    try:
        # A chain: each contact references the previous one (a foreign key), so any
        # reordering across or within batches would fail and show up as a dead letter.
        payloads: list[dict[str, Any]] = []
        prev = None
        for i in range(2000):
            payloads.append(contact(i, prev=prev))
            prev = payloads[-1]["id"]
        first = payloads[0]["id"]
        puts = [outbox.put("contact.insert", p) for p in payloads[:1000]]
        # Updates interleaved with inserts: the last one put must be the one that stays.
        puts += [
            outbox.put("contact.update", {"id": first, "disposition": f"d{k}"}) for k in range(5)
        ]
        puts += [outbox.put("contact.insert", p) for p in payloads[1000:]]
        seqs = await asyncio.gather(*puts)
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        await outbox.flush()
        status = outbox.status()
        assert status.pending == 0 and status.dead_letters == 0
        assert status.committed == 2005
    finally:
        await outbox.close()

    rows = await env.rows()
    assert [r["notes"] for r in rows] == [str(i) for i in range(2000)]
    assert rows[0]["disposition"] == "d4"
    assert rows[0]["started_at"] == T0  # datetimes round-trip aware
    # Batched: far fewer transactions than records, and committed in journal order.
    assert 1 < len(env.committed) <= 2005 // 10
    committed_seqs = [r.seq for batch in env.committed for r in batch]
    assert committed_seqs == sorted(seqs)
    j = Journal(env.journal)
    await j.open()
    try:
        assert await j.count() == 0
    finally:
        await j.close()


@pytest.mark.slow
@pytest.mark.parametrize("in_main", [False, True], ids=["journal_file", "journal_in_main_db"])
async def test_outage_mid_stream_loses_nothing(
    env: Env, caplog: pytest.LogCaptureFixture, in_main: bool
) -> None:
    if in_main and not env.url.startswith("sqlite"):
        pytest.skip("the journal lives in the main database on SQLite only")
    caplog.set_level(logging.INFO, logger="ccserver.crm.outbox")
    # In the main database, puts made while it is locked go to the journal file.
    outbox = env.outbox(batch_size=50, flush_interval=0.001, journal_in_main_db=in_main)
    await outbox.start()
    payloads = [contact(i) for i in range(600)]
    try:

        async def producer() -> None:
            for p in payloads:
                await outbox.put("contact.insert", p)
                await asyncio.sleep(0.001)

        task = asyncio.create_task(producer())
        await wait_until(lambda: outbox.status().committed >= 100)
        await env.outage.begin()
        await wait_until(lambda: not outbox.status().db_available)
        await asyncio.sleep(0.4)  # several retries during the outage
        status = outbox.status()
        assert status.pending > 0
        assert status.last_error
        assert status.oldest_age_s > 0.1
        committed_during = status.committed
        await env.outage.end()
        await task  # every put returned although the database was away
        async with asyncio.timeout(20):
            await outbox.flush()
        status = outbox.status()
        assert status.db_available and status.last_error is None and status.pending == 0
        assert status.committed == 600 > committed_during
    finally:
        await outbox.close()

    rows = await env.rows()
    assert [r["id"] for r in rows] == [p["id"] for p in payloads]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()
    assert any("is back" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)


async def test_restart_with_pending_journal_drains_on_start(env: Env) -> None:
    payloads = [contact(i) for i in range(120)]
    await env.outage.begin()
    first = env.outbox()
    await first.start()
    await first.put_many("contact.insert", payloads[:100])
    for p in payloads[100:]:
        await first.put("contact.insert", p)
    assert await first.close(deadline=0.3) is False  # database still away: left in journal

    with pytest.raises(OutboxClosed):
        await first.put("contact.insert", contact(999))
    assert await env.count() == 0
    await env.outage.end()

    second = env.outbox()
    await second.start()
    assert second.status().pending == 120
    try:
        async with asyncio.timeout(20):
            await second.flush()
    finally:
        assert await second.close() is True
    assert [r["id"] for r in await env.rows()] == [p["id"] for p in payloads]


async def test_poison_records_go_to_dead_letter_and_do_not_block(env: Env) -> None:
    outbox = env.outbox()
    await outbox.start()
    good = [contact(i) for i in range(5)]
    missing_customer = contact(10, customer_id="no-such-customer")  # foreign key violation
    no_channel = contact(11, channel=None)  # NOT NULL violation
    try:
        await outbox.put("contact.insert", good[0])
        await outbox.put("contact.insert", missing_customer)
        await outbox.put_many("contact.insert", good[1:3])
        await outbox.put("contact.insert", no_channel)
        await outbox.put_many("contact.insert", good[3:])
        await outbox.flush()
        assert outbox.status().dead_letters == 2
        dead = await outbox.dead_letters()
    finally:
        await outbox.close()
    assert [r["id"] for r in await env.rows()] == [p["id"] for p in good]
    assert [d.payload["id"] for d in dead] == [missing_customer["id"], no_channel["id"]]
    assert all("IntegrityError" in d.error for d in dead)
    assert dead[0].kind == "contact.insert"

    # Dead letters stay aside: a restart neither replays nor loses them.
    again = env.outbox()
    await again.start()
    assert again.status().pending == 0
    assert len(await again.dead_letters()) == 2
    await again.close()


async def test_replay_after_crash_before_journal_delete_is_idempotent(env: Env) -> None:
    payloads = [contact(i) for i in range(30)]
    outbox = env.outbox()
    await outbox.start()
    await outbox.put_many("contact.insert", payloads)
    await outbox.put("contact.update", {"id": payloads[0]["id"], "disposition": "sold"})
    await outbox.close()
    # Simulate a crash after the main-database commit but before the journal delete: the
    # same records are in the journal again at the next start.
    j = Journal(env.journal)
    await j.open()
    await j.append([("contact.insert", encode_payload(p), 0.0) for p in payloads])
    await j.append(
        [("contact.update", encode_payload({"id": payloads[0]["id"], "disposition": "sold"}), 0.0)]
    )
    await j.close()

    replay = env.outbox()
    await replay.start()
    assert replay.status().pending == 31
    await replay.flush()
    assert replay.status().dead_letters == 0
    await replay.close()
    rows = await env.rows()
    assert [r["id"] for r in rows] == [p["id"] for p in payloads]
    assert rows[0]["disposition"] == "sold"


async def test_put_rejects_what_it_cannot_keep(env: Env) -> None:
    outbox = env.outbox()
    with pytest.raises(OutboxClosed):
        await outbox.put("contact.insert", contact(0))  # not started
    await outbox.start()
    try:
        with pytest.raises(UnknownRecordKind):
            await outbox.put("nonsense.insert", {"id": "x"})
        with pytest.raises(TypeError):
            await outbox.put("contact.insert", {"id": "x", "blob": object()})
        assert await outbox.put_many("contact.insert", []) == []
        await outbox.flush()
        assert outbox.status().committed == 0
    finally:
        await outbox.close()


async def test_other_record_kinds_use_the_models_tables(env: Env) -> None:
    outbox = env.outbox()
    await outbox.start()
    c = contact(1)
    try:
        await outbox.put("contact.insert", c)
        await outbox.put(
            "message.insert",
            {"id": new_id(), "contact_id": c["id"], "direction": "inbound", "body_text": "hello"},
        )
        await outbox.put(
            "audit.insert",
            {
                "id": new_id(),
                "actor": "agent1",
                "action": "read",
                "entity": "customer",
                "entity_id": "c1",
                "at": T0,
                "details": {"ip": "127.0.0.1"},
            },
        )
        await outbox.put(
            "survey_response.insert", {"id": new_id(), "contact_id": c["id"], "csat": 5, "nps": 9}
        )
        await outbox.flush()
        assert outbox.status().dead_letters == 0
    finally:
        await outbox.close()
    async with env.check_engine.connect() as conn:
        for table in ("messages", "audit_log", "survey_responses"):
            n = (await conn.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar()
            assert n == 1, table


def test_connectivity_errors_are_told_apart_from_bad_records() -> None:
    assert is_connectivity_error(ConnectionRefusedError())
    assert is_connectivity_error(TimeoutError())
    locked = sa_exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert is_connectivity_error(locked)
    bad = sa_exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("NOT NULL failed"))
    assert not is_connectivity_error(bad)
    assert not is_connectivity_error(ValueError("naive datetime"))

    b = Backoff(base=0.1, cap=1.0)
    delays = [b.next_delay() for _ in range(8)]
    assert all(0.05 <= d <= 1.0 for d in delays)
    assert delays[-1] >= 0.5  # grew to the cap
    b.reset()
    assert b.next_delay() <= 0.1


async def test_dead_letters_can_be_requeued_once_fixed(env: Env) -> None:
    outbox = env.outbox()
    await outbox.start()
    customer_id = new_id()
    orphan = contact(1, customer_id=customer_id)  # its customer does not exist yet
    try:
        await outbox.put("contact.insert", orphan)
        await outbox.flush()
        [dead] = await outbox.dead_letters()
        assert await outbox.requeue_dead_letters([dead.seq + 1000]) == 0  # no such letter
        await outbox.put(
            "customer.insert",
            {
                "id": customer_id,
                "customer_number": "C777777",
                "display_name": "Fixed Later",
                "name_key": "fixed later",
            },
        )
        await outbox.flush()
        assert await outbox.requeue_dead_letters() == 1
        await outbox.flush()
        assert await outbox.dead_letters() == []
    finally:
        await outbox.close()
    rows = await env.rows()
    assert [(r["id"], r["customer_id"]) for r in rows] == [(orphan["id"], customer_id)]
