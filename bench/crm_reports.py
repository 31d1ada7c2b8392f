"""Row-based KPI and segmentation throughput, and export speed.

    .venv/bin/python -m bench.crm_reports [--quick] [--contacts N] [--orders N]

Figures: contact rows per second through ``contact_kpis_by`` (day x queue grouping with
FCR repeat detection over all rows), orders per second through ``segment_customers`` (RFM
quintiles, lifecycle, CLV, tiers), and rows per second written to CSV and XLSX. Data are
generated deterministically (seeded); pure CPU, no network. Each figure is the best of three
runs so a scheduler hiccup does not decide it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccserver.crm.rules.segmentation import SegmentationConfig, segment_customers
from ccserver.reports.export import to_csv, to_xlsx
from ccserver.reports.kpis import contact_kpis_by

RESULTS = Path(__file__).with_name("results") / "crm_reports.json"
T0 = 1_767_225_600.0  # 2026-01-01 UTC
DAY = 86400.0


def make_contacts(n: int, rng: random.Random) -> list[dict[str, Any]]:
    outcomes = ["answered"] * 8 + ["abandoned_queue", "self_service"]
    rows = []
    for _ in range(n):
        outcome = rng.choice(outcomes)
        rows.append(
            {
                "channel": rng.choice(["voice", "voice", "chat", "email"]),
                "direction": "inbound",
                "queue": f"q{rng.randrange(8)}",
                "agent_id": f"a{rng.randrange(50)}",
                "customer_id": f"c{rng.randrange(max(1, n // 3))}",
                "queued_at": T0 + rng.random() * 30 * DAY,
                "wait_s": rng.expovariate(1 / 25),
                "talk_s": rng.expovariate(1 / 240) if outcome == "answered" else 0.0,
                "hold_s": 0.0,
                "wrap_s": 30.0 if outcome == "answered" else 0.0,
                "outcome": outcome,
            }
        )
    return rows


def make_orders(n: int, rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "customer_id": f"c{rng.randrange(max(1, n // 4))}",
            "ordered_at": T0 - rng.random() * 730 * DAY,
            "total": round(rng.lognormvariate(4, 1), 2),
        }
        for _ in range(n)
    ]


def best_of(runs: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (a few seconds)")
    parser.add_argument("--contacts", type=int, default=None)
    parser.add_argument("--orders", type=int, default=None)
    args = parser.parse_args(argv)
    n_contacts = args.contacts or (5_000 if args.quick else 100_000)
    n_orders = args.orders or (5_000 if args.quick else 100_000)
    n_export = min(n_contacts, 2_000 if args.quick else 20_000)
    rng = random.Random(20260301)
    contacts = make_contacts(n_contacts, rng)
    orders = make_orders(n_orders, rng)

    kpi_s = best_of(3, lambda: contact_kpis_by(contacts, ("day", "queue")))
    seg_s = best_of(3, lambda: segment_customers(orders, T0, SegmentationConfig()))
    export_rows = contacts[:n_export]
    csv_s = best_of(3, lambda: to_csv(export_rows))
    xlsx_s = best_of(3, lambda: to_xlsx(export_rows))
    result = {
        "benchmark": "crm_reports",
        "quick": args.quick,
        "cpu_count": os.cpu_count(),
        "contacts": n_contacts,
        "orders": n_orders,
        "export_rows": n_export,
        "kpi_contacts_per_s": round(n_contacts / kpi_s),
        "kpi_elapsed_s": round(kpi_s, 4),
        "segmentation_orders_per_s": round(n_orders / seg_s),
        "segmentation_elapsed_s": round(seg_s, 4),
        "csv_rows_per_s": round(n_export / csv_s),
        "xlsx_rows_per_s": round(n_export / xlsx_s),
    }
    for key, value in result.items():
        print(f"{key:>28}: {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
