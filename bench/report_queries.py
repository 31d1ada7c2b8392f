"""SQL-side KPI report time on SQLite (ccserver.reports.queries).

    .venv/bin/python -m bench.report_queries [--quick] [--contacts N]

Fills a fresh migrated SQLite file with N generated contacts (seeded; 2 000 customers over
90 days, so most answered contacts have a repeat to look for), then times ``contact_kpis_sql`` for
``day x queue`` and ``month x segment`` (the FCR ``NOT EXISTS`` is the costly part) and
the full ``kpi_table_sql`` by week. Best of three runs per figure; loopback file only.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.common import save_results
from ccserver.crm.database import create_engine, session_factory
from ccserver.crm.migrate import upgrade
from ccserver.crm.models import Contact, Customer
from ccserver.domain import new_id
from ccserver.reports.queries import contact_kpis_sql, kpi_table_sql

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
OUTCOMES = ("answered",) * 8 + ("abandoned_queue", "abandoned_ivr")


def _rows(n: int, customers: list[str], rng: random.Random) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for k in range(n):
        outcome = rng.choice(OUTCOMES)
        rows.append(
            {
                "id": new_id(),
                "interaction_id": f"i{k}",
                "customer_id": rng.choice(customers) if rng.random() < 0.9 else None,
                "channel": rng.choice(("voice", "voice", "chat", "email")),
                "direction": "inbound",
                "queue": rng.choice(("general", "orders", "billing", "complaints")),
                "agent_id": f"a{rng.randrange(50)}" if outcome == "answered" else None,
                "started_at": T0 + dt.timedelta(seconds=rng.uniform(0, 90 * 86400)),
                "outcome": outcome,
                "wait_s": rng.expovariate(1 / 25),
                "talk_s": rng.uniform(30, 600) if outcome == "answered" else None,
                "ivr_path": [],
                "attributes": {},
            }
        )
    return rows


async def _best(fn: Any, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        best = min(best, time.perf_counter() - start)
    return best


async def run(contacts: int) -> dict[str, Any]:
    rng = random.Random(9)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade(url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        try:
            async with sessions.begin() as s:
                customers = []
                for c in range(2000):
                    cid = new_id()
                    customers.append(cid)
                    s.add(
                        Customer(
                            id=cid,
                            customer_number=f"B{c}",
                            display_name=f"c{c}",
                            name_key=f"c{c}",
                            segment=rng.choice(("retail", "business", None)),
                        )
                    )
            rows = _rows(contacts, customers, rng)
            for start in range(0, len(rows), 5000):
                async with sessions.begin() as s:
                    await s.execute(insert(Contact), rows[start : start + 5000])

            async def by(dims: list[str]) -> None:
                async with sessions() as s:
                    await contact_kpis_sql(s, dims)

            async def table() -> None:
                async with sessions() as s:
                    await kpi_table_sql(s, ["week"])

            day_queue = await _best(lambda: by(["day", "queue"]))
            month_segment = await _best(lambda: by(["month", "segment"]))
            full = await _best(table)
        finally:
            await engine.dispose()
    return {
        "contacts": contacts,
        "day_queue_s": round(day_queue, 4),
        "month_segment_s": round(month_segment, 4),
        "kpi_table_week_s": round(full, 4),
        "contacts_per_s_day_queue": round(contacts / day_queue),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (10 000 contacts)")
    parser.add_argument("--contacts", type=int, default=100_000)
    args = parser.parse_args()
    contacts = 10_000 if args.quick else max(1, min(args.contacts, 2_000_000))
    result = asyncio.run(run(contacts))
    for key, value in result.items():
        print(f"{key:>26}: {value}")
    print(f"written to {save_results('report_queries', result)}")


if __name__ == "__main__":
    main()
