"""The outbox's local journal: an append-only SQLite file that survives the main database.

Why a separate local file: when the main database is PostgreSQL and it goes away, a write the
server has acknowledged must still survive a process restart, so it has to be on local disk.
SQLite in WAL mode with ``synchronous=FULL`` gives a crash-safe append for the price of one
fsync per transaction; the outbox pays that price once per *group* of puts (group commit).

All SQLite work runs on one dedicated thread: the stdlib ``sqlite3`` module blocks, and one
thread keeps the connection's use strictly serial without locks of our own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import sqlite3
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ccserver.errors import CcserverError, StoreUnavailable


class OutboxError(CcserverError):
    """Root of the outbox's own errors."""

    code = "outbox_error"


class OutboxClosed(StoreUnavailable):
    """A put arrived after close() (or before start()): the write was not accepted."""

    code = "outbox_closed"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter (
    seq        INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at REAL NOT NULL,
    failed_at  REAL NOT NULL,
    error      TEXT NOT NULL
);
"""


def _json_default(value: Any) -> Any:
    """Encode the non-JSON types record payloads carry that orjson does not know natively
    (it does datetimes, dates, times, UUIDs, enums, tuples and dataclasses itself)."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"outbox payload value of type {type(value).__name__} is not serialisable")


_dumps = orjson.dumps
loads = orjson.loads


def encode_json(value: Any) -> str:
    """Any JSON-able value, with the same encoding of non-JSON types as the payloads.

    orjson writes timestamps as RFC 3339, exactly ``isoformat()``'s text for the aware and
    naive datetimes payloads carry, so records read back after a restart parse the same.
    Raises TypeError (orjson.JSONEncodeError is one) for what it cannot encode."""
    return _dumps(value, default=_json_default).decode()


def encode_record(payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The journal text of ``payload`` and the payload as the drain writes it.

    The payload itself is kept (not a converted copy): the handlers take Python values as
    well as the journal's text (records read back after a restart), so fresh records skip
    the text round trip of their timestamps (format, then parse again for PostgreSQL)."""
    return _dumps(payload, default=_json_default).decode(), payload


def encode_payload(payload: dict[str, Any]) -> str:
    return encode_json(payload)


@dataclass(slots=True)
class JournalRecord:
    """One journaled write. ``put_at`` is the monotonic time of the put (for commit lag)."""

    seq: int
    kind: str
    payload: dict[str, Any]
    created_at: float  # wall-clock time of the put (survives restarts, for oldest_age_s)
    put_at: float
    encoded: str = ""  # the payload's journal text (empty when not at hand)
    in_main: bool = False  # journaled in the main SQLite database's ``outbox`` table


@dataclass(frozen=True, slots=True)
class DeadLetter:
    seq: int
    kind: str
    payload: dict[str, Any]
    created_at: float
    failed_at: float
    error: str


class Journal:
    """Append / read / delete on the local journal file; every method is a coroutine that runs
    its SQLite work on the journal's own thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    # --- life cycle ------------------------------------------------------------------------
    async def open(self) -> None:
        if self._executor is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-journal")
        await self._run(self._open_sync)

    def _open_sync(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk when it returns, so an acknowledged put survives a crash.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(_SCHEMA)
        self._conn = conn

    async def close(self) -> None:
        if self._executor is None:
            return
        try:
            await self._run(self._close_sync)
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._executor is None:
            raise OutboxClosed("the outbox journal is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise OutboxClosed("the outbox journal is not open")
        return self._conn

    # --- append (group commit) ---------------------------------------------------------------
    async def append(self, entries: Sequence[tuple[str, str, float]], first: int = 0) -> list[int]:
        """Append ``(kind, encoded_payload, created_at)`` rows in one transaction; return
        their sequence numbers, in order (consecutive, from ``first`` at least)."""
        result: list[int] = await self._run(self._append_sync, entries, (), first)
        return result

    async def max_seq(self) -> int:
        """The highest sequence number this journal ever used (0 when none)."""
        result: int = await self._run(self._max_seq_sync)
        return result

    def _max_seq_sync(self) -> int:
        db = self._db()
        (last,) = db.execute("SELECT MAX(seq) FROM journal").fetchone()
        (dead,) = db.execute("SELECT MAX(seq) FROM dead_letter").fetchone()
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").fetchone()
        return max(int(last or 0), int(dead or 0), int(row[0]) if row else 0)

    def _append_sync(
        self,
        entries: Sequence[tuple[str, str, float]],
        revived: Sequence[int] = (),
        floor: int = 0,
    ) -> list[int]:
        """Insert ``entries`` in one transaction; ``revived`` dead letters leave the
        dead-letter table in that same transaction (a requeue is all or nothing)."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            # Number the rows ourselves (past the highest ever used, which sqlite_sequence
            # keeps even after deletes) so the caller gets every seq without a row-by-row
            # round trip; numbers are never reused, dead letters keep theirs.
            cur = db.execute("SELECT MAX(seq) FROM journal")
            (last,) = cur.fetchone()
            cur = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'journal'")
            row = cur.fetchone()
            # ``floor``: numbers the outbox's other journal (the main database's) used.
            first = max(int(last or 0) + 1, (int(row[0]) if row else 0) + 1, floor)
            seqs = list(range(first, first + len(entries)))
            db.executemany(
                "INSERT INTO journal (seq, kind, payload, created_at) VALUES (?, ?, ?, ?)",
                [(s, k, p, c) for s, (k, p, c) in zip(seqs, entries, strict=True)],
            )
            if revived:
                db.executemany("DELETE FROM dead_letter WHERE seq = ?", [(r,) for r in revived])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return seqs

    # --- read back (recovery after a restart) --------------------------------------------
    async def load_pending(self) -> list[JournalRecord]:
        result: list[JournalRecord] = await self._run(self._load_sync)
        return result

    def _load_sync(self) -> list[JournalRecord]:
        now = time.monotonic()
        wall = time.time()
        rows = (
            self._db()
            .execute("SELECT seq, kind, payload, created_at FROM journal ORDER BY seq")
            .fetchall()
        )
        # put_at is reconstructed from the wall-clock age so commit lag stays meaningful.
        return [
            JournalRecord(int(s), str(k), loads(p), float(c), now - max(0.0, wall - c), p)
            for s, k, p, c in rows
        ]

    async def count(self) -> int:
        result: int = await self._run(
            lambda: int(self._db().execute("SELECT COUNT(*) FROM journal").fetchone()[0])
        )
        return result

    # --- delete after the main database committed -----------------------------------------
    async def delete_through(self, seq: int) -> None:
        """Forget every record up to and including ``seq`` (they are in the main database)."""
        await self._run(self._delete_sync, seq)

    def _delete_sync(self, seq: int) -> None:
        db = self._db()
        db.execute("DELETE FROM journal WHERE seq <= ?", (seq,))

    # --- dead letters -------------------------------------------------------------------------
    async def move_to_dead_letter(self, records: Iterable[tuple[JournalRecord, str]]) -> None:
        await self._run(self._dead_sync, list(records))

    def _dead_sync(self, records: list[tuple[JournalRecord, str]]) -> None:
        db = self._db()
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT OR REPLACE INTO dead_letter (seq, kind, payload, created_at, failed_at,"
                " error) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (r.seq, r.kind, r.encoded or encode_payload(r.payload), r.created_at, now, err)
                    for r, err in records
                ],
            )
            db.executemany("DELETE FROM journal WHERE seq = ?", [(r.seq,) for r, _ in records])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        result: list[DeadLetter] = await self._run(self._dead_list_sync, limit)
        return result

    def _dead_list_sync(self, limit: int) -> list[DeadLetter]:
        rows = (
            self._db()
            .execute(
                "SELECT seq, kind, payload, created_at, failed_at, error FROM dead_letter"
                " ORDER BY seq LIMIT ?",
                (limit,),
            )
            .fetchall()
        )
        return [
            DeadLetter(int(s), str(k), loads(p), float(c), float(f), str(e))
            for s, k, p, c, f, e in rows
        ]

    async def requeue_dead_letters(
        self, seqs: Sequence[int] | None = None, first: int = 0
    ) -> list[JournalRecord]:
        """Move dead letters (all, or those numbered ``seqs``) back to the end of the journal,
        in their original order, under new sequence numbers (from ``first`` at least)."""
        result: list[JournalRecord] = await self._run(self._requeue_sync, seqs, first)
        return result

    def _requeue_sync(self, seqs: Sequence[int] | None, first: int = 0) -> list[JournalRecord]:
        db = self._db()
        rows = db.execute(
            "SELECT seq, kind, payload, created_at FROM dead_letter ORDER BY seq"
        ).fetchall()
        if seqs is not None:
            wanted = set(seqs)
            rows = [r for r in rows if r[0] in wanted]
        if not rows:
            return []
        new_seqs = self._append_sync(
            [(k, p, c) for _s, k, p, c in rows], revived=[r[0] for r in rows], floor=first
        )
        now = time.monotonic()
        return [
            JournalRecord(seq, str(k), loads(p), float(c), now, p)
            for seq, (_s, k, p, c) in zip(new_seqs, rows, strict=True)
        ]

    async def dead_letter_count(self) -> int:
        result: int = await self._run(
            lambda: int(self._db().execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0])
        )
        return result


_UTC = dt.UTC


class MainDbJournal(Journal):
    """The journal as the main SQLite database's own ``outbox`` table (DESIGN.md's model
    ``OutboxEntry``): same file, same WAL, so the drain moves rows from ``outbox`` into their
    tables with one ``INSERT … SELECT`` and deletes them in the same transaction, with no
    Python per row and nothing to replay. Appends still commit with ``synchronous=FULL`` on
    this connection, so a put is durable when it returns, as with the separate file.

    While another connection holds the main database's write lock, an append waits at most
    ``busy_timeout_ms`` and then raises ``sqlite3.OperationalError``: the outbox then keeps
    that group in the separate journal file instead (a put must not wait out an outage)."""

    def __init__(self, path: str | Path, busy_timeout_ms: int = 1000) -> None:
        super().__init__(path)
        self.busy_timeout_ms = busy_timeout_ms

    def _open_sync(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # durable at commit, like the file journal
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'"
            ).fetchone()
            if found is None:
                raise OutboxError("the main database has no outbox table (not migrated)")
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _append_sync(
        self,
        entries: Sequence[tuple[str, str, float]],
        revived: Sequence[int] = (),
        floor: int = 0,
    ) -> list[int]:
        if revived:
            raise OutboxError("dead letters are requeued into the journal file")
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            (last,) = db.execute("SELECT MAX(seq) FROM outbox").fetchone()
            first = max(int(last or 0) + 1, floor)
            seqs = list(range(first, first + len(entries)))
            # created_at as the models' UtcDateTime stores it (naive UTC text); one value per
            # group, as in the file journal. ``id`` is unique in the model: the seq's text.
            db.executemany(
                "INSERT INTO outbox (seq, id, kind, payload, created_at, attempts)"
                " VALUES (?, ?, ?, ?, ?, 0)",
                [
                    (s, str(s), k, p, _sqlite_time(c))
                    for s, (k, p, c) in zip(seqs, entries, strict=True)
                ],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return seqs

    def _max_seq_sync(self) -> int:
        (last,) = self._db().execute("SELECT MAX(seq) FROM outbox").fetchone()
        return int(last or 0)

    def _load_sync(self) -> list[JournalRecord]:
        now = time.monotonic()
        wall = time.time()
        rows = (
            self._db()
            .execute("SELECT seq, kind, payload, created_at FROM outbox ORDER BY seq")
            .fetchall()
        )
        out: list[JournalRecord] = []
        for s, k, p, c in rows:
            created = dt.datetime.fromisoformat(c).replace(tzinfo=_UTC).timestamp()
            put_at = now - max(0.0, wall - created)
            out.append(JournalRecord(int(s), str(k), loads(p), created, put_at, p, True))
        return out

    async def count(self) -> int:
        result: int = await self._run(
            lambda: int(self._db().execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        )
        return result

    async def delete_seqs(self, seqs: Sequence[int]) -> None:
        """Forget these records (set aside as dead letters in the journal file)."""
        await self._run(self._delete_seqs_sync, list(seqs))

    def _delete_seqs_sync(self, seqs: list[int]) -> None:
        self._db().executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])


def _sqlite_time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, _UTC).isoformat(" ", "microseconds")[:26]
