"""Caller-ID lookup (the screen-pop hot path) with a million customers.

Loads N customers, each with one phone identity, into a fresh SQLite file and a fresh
PostgreSQL database (bulk: executemany / COPY), then times
``CustomerService.find_by_phone`` on phone numbers typed in assorted national and
international formats, end to end (normalisation + one indexed query + view).

    .venv/bin/python -m bench.lookup            # 1,000,000 customers
    .venv/bin/python -m bench.lookup --quick    # 100,000 customers

Prints p50/p99 per back end and writes ``bench/results/lookup.json``. Target: p99 <= 1 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from ccserver.crm import migrate
from ccserver.crm.customers import CustomerService
from ccserver.crm.database import create_engine, session_factory
from ccserver.domain import new_id

PG_URL = os.environ.get(
    "CCSERVER_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
RESULTS = Path(__file__).with_name("results") / "lookup.json"
BASE_NUMBER = 10_000_000  # Berlin numbers +49 30 1xxxxxxx: valid, 8-digit subscriber part
BATCH = 50_000


def phone(i: int) -> str:
    return f"+4930{BASE_NUMBER + i}"


def typed_formats(i: int) -> list[str]:
    """How a caller ID or an agent might present the same number."""
    sub = str(BASE_NUMBER + i)
    return [
        f"+4930{sub}",
        f"030 {sub}",
        f"0049 30 {sub[:4]} {sub[4:]}",
        f"(030) {sub[:4]}-{sub[4:]}",
        f"+49-30-{sub}",
    ]


def rows(n: int, now: dt.datetime) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for i in range(n):
        cid = new_id()
        name = f"Customer {i:07d}"
        customer = {
            "id": cid,
            "customer_number": f"C{i + 1:07d}",
            "display_name": name,
            "name_key": name.lower(),
            "lifetime_value": Decimal("0"),
            "consent_phone": True,
            "consent_email": True,
            "consent_sms": False,
            "consent_survey": True,
            "consent_marketing": False,
            "tags": "[]",
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        ident = {
            "id": new_id(),
            "customer_id": cid,
            "kind": "phone",
            "value": phone(i),
            "raw_value": phone(i),
            "is_primary": True,
            "verified": False,
            "created_at": now,
        }
        yield customer, ident


def _batches(
    n: int, now: dt.datetime
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    cs: list[dict[str, Any]] = []
    ids: list[dict[str, Any]] = []
    for c, i in rows(n, now):
        cs.append(c)
        ids.append(i)
        if len(cs) == BATCH:
            yield cs, ids
            cs, ids = [], []
    if cs:
        yield cs, ids


def load_sqlite(path: Path, n: int) -> None:
    """Bulk insert with the stdlib driver (executemany, one transaction per batch)."""
    now = dt.datetime.now(dt.UTC)
    stamp = now.replace(tzinfo=None).isoformat(sep=" ")
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA synchronous=OFF")  # loading only; the server uses NORMAL
        for cs, ids in _batches(n, now):
            for row in (*cs, *ids):
                row["created_at"] = stamp
                if "updated_at" in row:
                    row["updated_at"] = stamp
                    row["lifetime_value"] = 0
            cols_c = list(cs[0])
            cols_i = list(ids[0])
            con.executemany(
                f"INSERT INTO customers ({','.join(cols_c)}) "
                f"VALUES ({','.join('?' * len(cols_c))})",
                [tuple(r[k] for k in cols_c) for r in cs],
            )
            con.executemany(
                f"INSERT INTO customer_identities ({','.join(cols_i)}) "
                f"VALUES ({','.join('?' * len(cols_i))})",
                [tuple(r[k] for k in cols_i) for r in ids],
            )
            con.commit()
        con.execute("ANALYZE")
        con.commit()
    finally:
        con.close()


async def load_postgres(dsn: str, n: int) -> None:
    """Bulk load with COPY (asyncpg ``copy_records_to_table``)."""
    import asyncpg  # type: ignore[import-untyped]

    now = dt.datetime.now(dt.UTC)
    conn = await asyncpg.connect(dsn)
    try:
        for cs, ids in _batches(n, now):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "customers", records=[tuple(r.values()) for r in cs], columns=list(cs[0])
                )
                await conn.copy_records_to_table(
                    "customer_identities",
                    records=[tuple(r.values()) for r in ids],
                    columns=list(ids[0]),
                )
        await conn.execute("ANALYZE customers; ANALYZE customer_identities")
    finally:
        await conn.close()


async def measure(url: str, n: int, lookups: int, seed: int) -> dict[str, Any]:
    engine = create_engine(url)
    service = CustomerService(session_factory(engine), default_region="DE")
    rng = random.Random(seed)
    try:
        for _ in range(200):  # warm the pool, statement caches and phonenumbers metadata
            await service.find_by_phone(phone(rng.randrange(n)))
        samples: list[float] = []
        misses = 0
        for k in range(lookups):
            i = rng.randrange(n)
            raw = typed_formats(i)[k % 5]
            t0 = time.perf_counter()
            found = await service.find_by_phone(raw)
            samples.append(time.perf_counter() - t0)
            if found is None or found.customer_number != f"C{i + 1:07d}":
                misses += 1
        unknown_t0 = time.perf_counter()
        for k in range(200):
            await service.find_by_phone(f"+4940{BASE_NUMBER + k}")  # Hamburg: not loaded
        unknown_ms = (time.perf_counter() - unknown_t0) / 200 * 1000
    finally:
        await engine.dispose()
    samples.sort()
    ms = [s * 1000 for s in samples]
    return {
        "customers": n,
        "lookups": lookups,
        "wrong_or_missing": misses,
        "p50_ms": round(statistics.median(ms), 4),
        "p90_ms": round(ms[int(0.90 * len(ms)) - 1], 4),
        "p99_ms": round(ms[int(0.99 * len(ms)) - 1], 4),
        "max_ms": round(ms[-1], 4),
        "mean_ms": round(statistics.fmean(ms), 4),
        "unknown_number_mean_ms": round(unknown_ms, 4),
        "target_p99_ms": 1.0,
        "meets_target": ms[int(0.99 * len(ms)) - 1] <= 1.0,
    }


async def bench_sqlite(n: int, lookups: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lookup.db"
        url = f"sqlite+aiosqlite:///{path}"
        await migrate.upgrade(url)
        t0 = time.perf_counter()
        await asyncio.to_thread(load_sqlite, path, n)
        load_s = time.perf_counter() - t0
        result = await measure(url, n, lookups, seed=1)
    return {"load_s": round(load_s, 2), "load_rows_per_s": round(2 * n / load_s), **result}


async def bench_postgres(n: int, lookups: int) -> dict[str, Any]:
    import asyncpg

    admin = PG_URL.replace("postgresql+asyncpg://", "postgresql://")
    name = f"ccs_bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    base = PG_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    try:
        await migrate.upgrade(url)
        t0 = time.perf_counter()
        await load_postgres(url.replace("postgresql+asyncpg://", "postgresql://"), n)
        load_s = time.perf_counter() - t0
        result = await measure(url, n, lookups, seed=2)
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
    return {"load_s": round(load_s, 2), "load_rows_per_s": round(2 * n / load_s), **result}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    n = args.customers or (100_000 if args.quick else 1_000_000)
    lookups = args.lookups or (5_000 if args.quick else 20_000)
    out: dict[str, Any] = {
        "benchmark": "lookup",
        "quick": args.quick,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        # Context for the figures: other work on the machine inflates tail latency.
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if "sqlite" in args.backends:
        out["sqlite"] = await bench_sqlite(n, lookups)
        print("sqlite    ", json.dumps(out["sqlite"]))
    if "postgresql" in args.backends:
        try:
            out["postgresql"] = await bench_postgres(n, lookups)
            print("postgresql", json.dumps(out["postgresql"]))
        except OSError as exc:
            out["postgresql"] = {"skipped": f"PostgreSQL unreachable: {exc}"}
            print("postgresql skipped:", exc)
    out["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k customers, 5k lookups")
    parser.add_argument("--customers", type=int, default=0, help="override customer count")
    parser.add_argument("--lookups", type=int, default=0, help="override number of lookups")
    parser.add_argument(
        "--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    args = parser.parse_args()
    out = asyncio.run(main_async(args))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
