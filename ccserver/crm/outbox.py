"""Durable outbox: every record the server writes reaches the main database, in order, even
when that database is away for a while or the process restarts meanwhile (DESIGN.md §7).

Flow::

    put(kind, payload) --group commit--> local journal (SQLite, WAL, fsync)  -> put returns
    drainer: journal order --batches, executemany--> main DB --commit--> delete from journal

* ``put`` returns once the record is durable in the journal. Puts that arrive while the journal
  is committing wait for the next commit together, so one fsync serves many puts.
* The drainer writes records strictly in journal order, in batches of consecutive records
  (one transaction per batch, one ``executemany`` per run of one kind), and deletes them from
  the journal only after the main database committed. Handlers are idempotent on the primary
  key, so a crash between the two replays the batch harmlessly.
* Connectivity failures (refused, reset, locked, timeouts) are retried with capped
  exponential back-off; one warning per outage, one info when it recovers.
* Any other failure (constraint violation, bad value, unknown kind) is a *poison* record: the
  batch is bisected to find it, it moves to the journal's dead-letter table with its error,
  and the records after it carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from ccserver.crm.outbox_handlers import Handler, build_handlers
from ccserver.crm.outbox_journal import (
    DeadLetter,
    Journal,
    JournalRecord,
    MainDbJournal,
    OutboxClosed,
    OutboxError,
    encode_record,
)
from ccserver.crm.outbox_retry import Backoff, is_connectivity_error

__all__ = [
    "Backoff",
    "DeadLetter",
    "Outbox",
    "OutboxClosed",
    "OutboxError",
    "OutboxStatus",
    "UnknownRecordKind",
    "is_connectivity_error",
]

log = logging.getLogger(__name__)


class UnknownRecordKind(OutboxError):
    code = "outbox_unknown_kind"


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    """What /readyz and /metrics report."""

    pending: int  # records durable in the journal, not yet in the main database
    oldest_age_s: float  # age of the oldest pending record (0 when none)
    last_error: str | None  # last main-database error (None once recovered)
    db_available: bool
    dead_letters: int  # records set aside since start
    committed: int  # records written to the main database since start


CommitObserver = Callable[[Sequence[JournalRecord], float], None]


def _report_delete_failure(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        # Harmless for the data (those rows are replayed and skipped after a restart), but
        # a journal that cannot delete will grow: say so.
        log.error("outbox: journal delete failed: %s", fut.exception())


def _default_metadata() -> MetaData:
    from ccserver.crm import models  # the CRM's declarative models, imported lazily

    base = getattr(models, "Base", None)
    md = getattr(base, "metadata", None) or getattr(models, "metadata", None)
    if not isinstance(md, MetaData):
        raise OutboxError("ccserver.crm.models exposes no Base.metadata for the outbox")
    return md


_NO_LOCK = contextlib.nullcontext()


class Outbox:
    def __init__(
        self,
        main_engine: AsyncEngine,
        journal_path: str | Path,
        *,
        handlers: Mapping[str, Handler] | None = None,
        batch_size: int = 5000,
        flush_interval: float = 0.002,
        backoff: Backoff | None = None,
        on_commit: CommitObserver | None = None,
        journal_in_main_db: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.engine = main_engine
        self.journal = Journal(journal_path)
        # journal_in_main_db (SQLite main database in a file only): journal in its ``outbox``
        # table (see MainDbJournal); the file at ``journal_path`` then only takes groups put
        # while that database is locked, and dead letters. PostgreSQL: always the file (an
        # outage must not lose a put). Off by default: measured on the shared 2-core machine
        # (bench.contact_writes --journal main|file, alternated), it halves single-put
        # throughput (~5-6k vs 11-14k rows/s): appends and drains then share one write lock
        # and take turns, where the separate file lets the journal's fsync overlap the drain;
        # CPU per row is about equal and p99 lag somewhat lower.
        db_file = main_engine.url.database if main_engine.dialect.name == "sqlite" else None
        self._main: MainDbJournal | None = (
            MainDbJournal(db_file)
            if journal_in_main_db
            and db_file
            and db_file != ":memory:"
            and "mode=memory" not in db_file
            else None
        )
        self._next_seq = 1  # journal numbers are global across both journals
        self._append_lock = asyncio.Lock()  # numbering and queue order of appends
        # Our own two writers of the SQLite file (journal appends, drain transactions) take
        # turns here instead of meeting in SQLite's busy wait, which sleeps in steps of up to
        # 100 ms and would count as an outage on an engine that fails fast.
        self._sqlite_writer = asyncio.Lock()
        self.handlers: dict[str, Handler] = dict(
            handlers if handlers is not None else build_handlers(_default_metadata())
        )
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.backoff = backoff or Backoff()
        self.on_commit = on_commit

        # The group of puts waiting for the next journal commit (see _journal_writer).
        self._g_kinds: list[str] = []
        self._g_texts: list[str] = []
        self._g_payloads: list[dict[str, Any]] = []
        self._g_put_at: list[float] = []
        self._g_waiters: list[tuple[asyncio.Future[int], int]] = []
        self._put_wakeup = asyncio.Event()
        self._queue: deque[JournalRecord] = deque()  # journaled, not yet in the main DB
        self._queue_wakeup = asyncio.Event()
        self._stop_wakeup = asyncio.Event()
        self._tickets = 0  # records accepted so far (put order)
        self._done = 0  # records finished (committed, dead-lettered or failed to journal)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._last_delete: asyncio.Future[None] | None = None
        self._accepting = False
        self._stopping = False
        self._db_available = True
        self._last_error: str | None = None
        self._outage_started: float | None = None
        self._committed = 0
        self._dead = 0

    # --- life cycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the journal, queue what a previous run left in it, start the background tasks."""
        await self.journal.open()
        leftover = await self.journal.load_pending()
        self._next_seq = await self.journal.max_seq() + 1
        if self._main is not None:
            try:
                await self._main.open()
            except (OutboxError, sqlite3.Error) as exc:
                log.warning("outbox: journal kept in %s only: %s", self.journal.path, exc)
                await self._main.close()
                self._main = None
        if self._main is not None:
            leftover = sorted(leftover + await self._main.load_pending(), key=lambda r: r.seq)
            self._next_seq = max(self._next_seq, await self._main.max_seq() + 1)
        self._queue.extend(leftover)
        self._tickets += len(leftover)
        if leftover:
            log.info("outbox: %d records left from a previous run will be written", len(leftover))
            self._queue_wakeup.set()
        self._accepting = True
        self._tasks = [
            asyncio.create_task(self._journal_writer(), name="outbox-journal-writer"),
            asyncio.create_task(self._drainer(), name="outbox-drainer"),
        ]

    async def close(self, deadline: float = 10.0) -> bool:
        """Stop accepting puts and drain to the main database for at most ``deadline`` seconds.

        Returns True when everything was written; False leaves the rest in the journal for the
        next start (nothing is lost either way)."""
        if not self._tasks:
            await self.journal.close()
            if self._main is not None:
                await self._main.close()
            return True
        self._accepting = False
        drained = True
        try:
            async with asyncio.timeout(deadline):
                await self.flush()
        except TimeoutError:
            drained = False
            log.warning("outbox: closing with %d records still in the journal", len(self._queue))
        self._stopping = True
        self._stop_wakeup.set()
        self._put_wakeup.set()
        self._queue_wakeup.set()
        # The tasks notice _stopping at their next safe point (between transactions). Let the
        # transaction in flight finish (SQLite's busy wait is 5 s), then cancel one stuck in a
        # hung connection: its records stay in the journal either way.
        grace = min(6.0, max(1.0, deadline))
        _done, still_running = await asyncio.wait(self._tasks, timeout=grace)
        for task in still_running:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for _target, fut in self._waiters:
            if not fut.done():
                fut.set_exception(OutboxClosed("the outbox closed before the records were written"))
        self._waiters.clear()
        if self._last_delete is not None:
            with contextlib.suppress(Exception):
                await self._last_delete
        await self.journal.close()
        if self._main is not None:
            await self._main.close()
        return drained

    # --- writing ---------------------------------------------------------------------------
    async def put(self, kind: str, payload: dict[str, Any]) -> int:
        """Append one record; returns its journal sequence number once it is durable.

        The payload must be JSON-serialisable (datetimes, dates, decimals, UUIDs and enums
        are encoded) and must not be mutated after the call."""
        self._check_accepting(kind)
        text, converted = encode_record(payload)  # a TypeError surfaces here, not later
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._g_kinds.append(kind)
        self._g_texts.append(text)
        self._g_payloads.append(converted)
        self._g_put_at.append(time.monotonic())
        self._g_waiters.append((fut, 1))
        self._tickets += 1
        self._put_wakeup.set()
        return await fut

    async def put_many(self, kind: str, payloads: Sequence[dict[str, Any]]) -> list[int]:
        """Append several records of one kind in order; one durable commit for all."""
        if not payloads:
            return []
        self._check_accepting(kind)
        pairs = [encode_record(p) for p in payloads]
        n = len(pairs)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._g_kinds.extend([kind] * n)
        self._g_texts.extend([text for text, _ in pairs])
        self._g_payloads.extend([converted for _, converted in pairs])
        self._g_put_at.extend([time.monotonic()] * n)
        self._g_waiters.append((fut, n))
        self._tickets += n
        self._put_wakeup.set()
        first = await fut
        return list(range(first, first + n))

    def _check_accepting(self, kind: str) -> None:
        if not self._accepting:
            raise OutboxClosed("the outbox is not accepting writes (not started or closing)")
        if kind not in self.handlers:
            raise UnknownRecordKind(
                f"no outbox handler for record kind {kind!r}", details={"kind": kind}
            )

    async def _journal_writer(self) -> None:
        # The group waiting for the next journal commit is kept as parallel flat lists, not
        # one object per put: at tens of thousands of puts a second, per-put objects and
        # loops are a visible share of the CPU.
        while True:
            await self._put_wakeup.wait()
            self._put_wakeup.clear()
            if not self._g_waiters:
                if self._stopping:
                    return
                continue
            kinds, texts, payloads = self._g_kinds, self._g_texts, self._g_payloads
            put_ats, waiters = self._g_put_at, self._g_waiters
            self._g_kinds, self._g_texts, self._g_payloads = [], [], []
            self._g_put_at, self._g_waiters = [], []
            created = time.time()  # wall clock for the whole group: it waited a few ms at most
            entries = list(zip(kinds, texts, repeat(created)))
            async with self._append_lock:
                try:
                    seqs, in_main = await self._append(entries)
                except Exception as exc:  # disk full, I/O error: the puts fail, loudly
                    log.error("outbox: journal append failed: %s", exc)
                    for fut, _n in waiters:
                        if not fut.done():
                            fut.set_exception(OutboxError(f"journal append failed: {exc}"))
                    self._finish(len(texts))
                    continue
                self._next_seq = seqs[-1] + 1
                self._queue.extend(
                    map(
                        JournalRecord,
                        seqs,
                        kinds,
                        payloads,
                        repeat(created),
                        put_ats,
                        texts,
                        repeat(in_main),
                    )
                )
            i = 0
            for fut, n in waiters:
                if not fut.done():  # a put cancelled meanwhile: its record is kept anyway
                    fut.set_result(seqs[i])
                i += n
            self._queue_wakeup.set()
            if self._stopping and not self._g_waiters:
                return

    async def _append(self, entries: list[tuple[str, str, float]]) -> tuple[list[int], bool]:
        """Journal one group; returns its numbers and whether it went to the main database."""
        if self._main is not None and self._db_available:
            try:
                async with self._sqlite_writer:
                    return await self._main.append(entries, self._next_seq), True
            except sqlite3.OperationalError as exc:  # locked / busy: do not wait it out
                log.debug("outbox: main database busy, group journaled in the file: %s", exc)
        return await self.journal.append(entries, self._next_seq), False

    # --- draining --------------------------------------------------------------------------
    async def _drainer(self) -> None:
        while True:
            if self._stopping:  # close() already waited for the drain it allows
                return
            if not self._queue:
                self._queue_wakeup.clear()
                await self._queue_wakeup.wait()
                continue
            if len(self._queue) < self.batch_size and self.flush_interval > 0:
                # Let a few more puts land so the batch is worth a transaction.
                await asyncio.sleep(self.flush_interval)
            batch = list(itertools.islice(self._queue, self.batch_size))
            # One batch, one journal: records from the main database's table are moved in
            # SQL and deleted in the same transaction, the file's after the commit.
            store = batch[0].in_main
            cut = next((i for i, r in enumerate(batch) if r.in_main is not store), None)
            if cut is not None:
                del batch[cut:]
            try:
                await self._write_isolating(batch)
            except Exception as exc:  # connectivity: keep everything, back off, retry
                self._note_outage(exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_wakeup.wait(), self.backoff.next_delay())
                continue
            self._note_available()

    async def _write_isolating(self, records: list[JournalRecord]) -> None:
        """Write ``records`` in one transaction; if that fails for a reason other than
        connectivity, bisect to set the poison record(s) aside and write the rest in order.
        Raises only connectivity errors."""
        try:
            await self._write(records)
        except Exception as exc:
            if is_connectivity_error(exc):
                raise
            if len(records) == 1:
                await self._dead_letter(records[0], exc)
                return
            mid = len(records) // 2
            await self._write_isolating(records[:mid])
            await self._write_isolating(records[mid:])
            return
        committed_at = time.monotonic()
        if not records[0].in_main:  # (the main database's journal rows went with the commit)
            # Forget them in the journal without waiting: the journal's single thread keeps
            # the deletes in order behind earlier work, and a crash before it runs only
            # replays rows the idempotent handlers skip. close() waits for the last one.
            self._last_delete = asyncio.ensure_future(self.journal.delete_through(records[-1].seq))
            self._last_delete.add_done_callback(_report_delete_failure)
        for _ in records:
            self._queue.popleft()
        self._committed += len(records)
        self._finish(len(records))
        if self.on_commit is not None:
            self.on_commit(records, committed_at)

    async def _write(self, records: list[JournalRecord]) -> None:
        for r in records:
            if r.kind not in self.handlers:  # e.g. a journal left by a newer version
                raise UnknownRecordKind(f"no outbox handler for record kind {r.kind!r}")
        in_main = records[0].in_main
        async with self._sqlite_writer if self._main is not None else _NO_LOCK:
            await self._write_txn(records, in_main)

    async def _write_txn(self, records: list[JournalRecord], in_main: bool) -> None:
        async with self.engine.begin() as conn:
            for kind, run in itertools.groupby(records, key=lambda r: r.kind):
                handler = self.handlers[kind]
                from_journal = getattr(handler, "from_journal", None) if in_main else None
                if from_journal is not None:
                    await from_journal(conn, list(run))
                else:
                    await handler(conn, [r.payload for r in run])
            if in_main:
                await conn.exec_driver_sql(
                    "DELETE FROM outbox WHERE seq BETWEEN ? AND ?",
                    (records[0].seq, records[-1].seq),
                )

    async def _dead_letter(self, record: JournalRecord, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        log.error(
            "outbox: record %d (%s) set aside as dead letter: %s", record.seq, record.kind, error
        )
        await self.journal.move_to_dead_letter([(record, error)])
        if record.in_main and self._main is not None:
            await self._main.delete_seqs([record.seq])
        self._queue.popleft()
        self._dead += 1
        self._finish(1)

    def _note_outage(self, exc: BaseException) -> None:
        self._last_error = f"{type(exc).__name__}: {exc}"[:500]
        if self._db_available:
            self._db_available = False
            self._outage_started = time.monotonic()
            log.warning(
                "outbox: main database unavailable, keeping writes in the journal and retrying: %s",
                self._last_error,
            )

    def _note_available(self) -> None:
        self.backoff.reset()
        if not self._db_available:
            self._db_available = True
            down = time.monotonic() - (self._outage_started or time.monotonic())
            log.info(
                "outbox: main database is back after %.1f s; %d records pending",
                down,
                len(self._queue),
            )
            self._last_error = None

    # --- waiting and status ----------------------------------------------------------------
    def _finish(self, n: int) -> None:
        self._done += n
        still: list[tuple[int, asyncio.Future[None]]] = []
        for target, fut in self._waiters:
            if self._done >= target:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((target, fut))
        self._waiters = still

    async def flush(self) -> None:
        """Wait until every record put before this call is in the main database (or set
        aside as a dead letter). Bound it with ``asyncio.timeout`` where needed."""
        target = self._tickets
        if self._done >= target:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, fut))
        try:
            await fut
        finally:
            if fut.cancelled():  # the caller gave up (timeout / cancel): drop its waiter
                self._waiters = [(t, f) for t, f in self._waiters if f is not fut]

    def status(self) -> OutboxStatus:
        oldest = time.time() - self._queue[0].created_at if self._queue else 0.0
        return OutboxStatus(
            pending=len(self._queue),
            oldest_age_s=max(0.0, oldest),
            last_error=self._last_error,
            db_available=self._db_available,
            dead_letters=self._dead,
            committed=self._committed,
        )

    async def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        return await self.journal.dead_letters(limit)

    async def requeue_dead_letters(self, seqs: Sequence[int] | None = None) -> int:
        """After the cause is fixed (a missing customer created, a handler corrected), put
        dead letters back in line, after everything pending; returns how many."""
        if not self._accepting:
            raise OutboxClosed("the outbox is not running")
        async with self._append_lock:
            records = await self.journal.requeue_dead_letters(seqs, self._next_seq)
            if records:
                self._next_seq = records[-1].seq + 1
            self._queue.extend(records)
        self._tickets += len(records)
        self._queue_wakeup.set()
        return len(records)
