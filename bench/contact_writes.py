"""Contact rows written through the durable outbox: throughput and commit lag.

    .venv/bin/python -m bench.contact_writes [--quick] [--rows N] [--backend sqlite|postgresql|both]
        [--journal main|file]

``--journal main`` puts SQLite's journal in the main database's ``outbox`` table (the outbox's
``journal_in_main_db=True``), to compare with the default separate journal file.

Each contact goes ``put`` -> journal (fsync'd group commit) -> drainer -> main database.
*rows/s* is rows over the time from the first put until the last row is committed in the main
database; *commit lag* is, per row, the time from its put to the main-database commit that
holds it. Producers are many concurrent tasks, as in the server (one per interaction), each
either putting single rows or small batches (``put_many``). Loopback only; bounded runs.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ccserver.crm.database import create_engine
from ccserver.crm.migrate import upgrade
from ccserver.crm.outbox import Outbox
from ccserver.crm.outbox_journal import JournalRecord
from ccserver.domain import new_id

PG_URL = os.environ.get(
    "CCSERVER_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
RESULTS = Path(__file__).with_name("results") / "contact_writes.json"
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def make_contact(i: int) -> dict[str, Any]:
    start = T0 + dt.timedelta(seconds=i)
    return {
        "id": new_id(),
        "interaction_id": f"ix-{i}",
        "channel": ("voice", "email", "chat")[i % 3],
        "direction": "inbound",
        "queue": f"q{i % 8}",
        "agent_id": f"agent{1000 + i % 50}",
        "started_at": start,
        "answered_at": start + dt.timedelta(seconds=12),
        "ended_at": start + dt.timedelta(seconds=200),
        "wait_s": 12.0,
        "talk_s": 188.0,
        "outcome": "answered",
        "disposition": "resolved",
        "notes": "customer asked about delivery date",
        "ivr_path": ["main", "orders"],
        "attributes": {"dnis": "+4930123456"},
        "created_at": start,
    }


def calibrate() -> float:
    """CPU microseconds of a fixed stdlib-only workload (JSON-encode one contact, format its
    timestamps). The machine is shared: CPU per row divided by this is comparable across runs
    made under different load, and across versions of the outbox."""
    p = make_contact(1)
    t0 = time.process_time()
    for _ in range(2000):
        json.dumps(p, default=str)
        [v.isoformat() for v in p.values() if isinstance(v, dt.datetime)]
    return (time.process_time() - t0) / 2000 * 1e6


def percentile(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else 0.0


async def run_one(
    url: str,
    rows: int,
    producers: int,
    per_put: int,
    journal: Path,
    rate: float = 0.0,
    journal_in_main_db: bool = False,
) -> dict[str, Any]:
    """Write ``rows`` contacts; ``rate`` > 0 paces the producers to that many rows/s in
    total (an offered load below capacity, where commit lag is not just queueing)."""
    await upgrade(url)
    calib_before = calibrate()
    engine = create_engine(url)
    lags: list[float] = []
    batches: list[int] = []

    def observe(records: Sequence[JournalRecord], committed_at: float) -> None:
        batches.append(len(records))
        lags.extend(committed_at - r.put_at for r in records)

    batch_size = 1000 if rate else 5000  # paced: smaller batches, lower lag
    outbox = Outbox(
        engine,
        journal,
        batch_size=batch_size,
        flush_interval=0.002,
        on_commit=observe,
        journal_in_main_db=journal_in_main_db,
    )
    await outbox.start()
    payloads = [make_contact(i) for i in range(rows)]
    chunks = [payloads[i : i + per_put] for i in range(0, rows, per_put)]

    async def producer(k: int) -> None:
        interval = per_put * producers / rate if rate else 0.0
        due = time.perf_counter() + k * interval / producers
        for chunk in chunks[k::producers]:
            if interval:
                due += interval
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if per_put == 1:
                await outbox.put("contact.insert", chunk[0])
            else:
                await outbox.put_many("contact.insert", chunk)

    try:
        t0 = time.perf_counter()
        cpu0 = time.process_time()  # all threads of this process (journal, SQLite, loop)
        await asyncio.gather(*(producer(k) for k in range(producers)))
        t_put = time.perf_counter() - t0
        await outbox.flush()
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        status = outbox.status()
    finally:
        await outbox.close()
        await engine.dispose()
    assert status.committed == rows and status.dead_letters == 0, status
    calib = (calib_before + calibrate()) / 2
    return {
        "rows": rows,
        "producers": producers,
        "rows_per_put": per_put,
        "rows_per_s": round(rows / elapsed),
        "put_phase_s": round(t_put, 3),
        # Client-side CPU per row: unlike rows/s, barely moved by other load on the machine.
        "cpu_us_per_row": round(cpu / rows * 1e6, 1),
        "calibration_us": round(calib, 2),
        "cpu_per_row_in_calibration_units": round(cpu / rows * 1e6 / calib, 2),
        "elapsed_s": round(elapsed, 3),
        "lag_p50_ms": round(percentile(lags, 0.50) * 1000, 1),
        "lag_p99_ms": round(percentile(lags, 0.99) * 1000, 1),
        "lag_max_ms": round(max(lags) * 1000, 1),
        "db_transactions": len(batches),
        "mean_batch": round(statistics.fmean(batches), 1),
    }


async def _pg_exec(sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def bench_backend(
    backend: str, rows: int, modes: list[tuple[int, int]], journal_in_main_db: bool = False
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    # As fast as possible first; then paced at 60% of the best rate seen, for the lag.
    plan: list[tuple[int, int, float]] = [(p, n, 0.0) for p, n in modes]
    plan.append((200, 1, -1.0))
    for producers, per_put, rate in plan:
        if rate < 0:
            rate = 0.6 * max(r["rows_per_s"] for r in results)
        with tempfile.TemporaryDirectory(prefix="ccs-bench-") as tmp:
            journal = Path(tmp) / "outbox.journal"
            if backend == "sqlite":
                res = await run_one(
                    f"sqlite+aiosqlite:///{tmp}/main.db",
                    rows,
                    producers,
                    per_put,
                    journal,
                    rate,
                    journal_in_main_db,
                )
            else:
                name = f"ccs_bench_{uuid.uuid4().hex[:12]}"
                await _pg_exec(f'CREATE DATABASE "{name}"')
                try:
                    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
                    res = await run_one(url, rows, producers, per_put, journal, rate)
                finally:
                    await _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        res["backend"] = backend
        res["journal"] = "main" if journal_in_main_db and backend == "sqlite" else "file"
        res["paced_rows_per_s"] = round(rate)
        results.append(res)
        paced = f"paced {round(rate):>6}/s" if rate else "unpaced     "
        print(
            f"{backend:10} journal={res['journal']:4} producers={producers:4} "
            f"rows/put={per_put:3} {paced} "
            f"{res['rows_per_s']:>8,} rows/s  lag p50 {res['lag_p50_ms']:6.1f} ms  "
            f"p99 {res['lag_p99_ms']:6.1f} ms  max {res['lag_max_ms']:6.1f} ms  "
            f"({res['db_transactions']} txns, mean batch {res['mean_batch']}, "
            f"{res['cpu_us_per_row']} us CPU/row = "
            f"{res['cpu_per_row_in_calibration_units']} calibration units)",
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.contact_writes", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small run (20,000 rows)")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--journal", choices=["main", "file"], default="file")
    args = ap.parse_args(argv)
    rows = args.rows or (20_000 if args.quick else 200_000)
    # (concurrent producers, rows per put): single-row puts from many interactions, and
    # small batches as a busy channel adapter would hand over.
    modes = [(200, 1), (50, 100)]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    out: dict[str, Any] = {
        "benchmark": "contact_writes",
        "targets": {
            "sqlite_rows_per_s": 50_000,
            "postgresql_rows_per_s": 25_000,
            "lag_p99_ms": 250,
        },
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "results": [],
    }
    for backend in backends:
        out["results"] += asyncio.run(
            bench_backend(backend, rows, modes, journal_in_main_db=args.journal == "main")
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
