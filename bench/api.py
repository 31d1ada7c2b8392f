"""REST API latency over loopback: the customer search box (phone typed in assorted formats)
and the audited read of one customer, through the whole server (auth, middlewares, JSON).

Builds the real application on a fresh SQLite file with the demo data set, calls it with an
API token (one SHA-256 lookup per request), sequentially and with 16 concurrent callers.

    .venv/bin/python -m bench.api            # 20,000 customers, 1,000 requests per case
    .venv/bin/python -m bench.api --quick    # 2,000 customers, 300 requests per case

Prints p50/p99 and requests/s per case; writes ``bench/results/api.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from sqlalchemy import select

from bench.common import percentile, save_results
from ccserver.app import SERVICES, build_app
from ccserver.crm.demo_data import generate_demo_data
from ccserver.crm.models import CustomerIdentity
from ccserver.crm.users import UserService
from ccserver.settings import load_settings

CONCURRENCY = 16


def _typed(e164: str, rng: random.Random) -> str:
    """The number as a person might paste it: spaced, with 00, or as stored."""
    digits = e164[1:]
    style = rng.randrange(3)
    if style == 0:
        return "+" + " ".join(digits[i : i + 3] for i in range(0, len(digits), 3))
    if style == 1:
        return "00" + digits
    return e164


async def _time(
    n: int, call: Callable[[int], Awaitable[None]], concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    next_i = iter(range(n))

    async def worker() -> None:
        for i in next_i:
            t = time.perf_counter()
            await call(i)
            latencies.append((time.perf_counter() - t) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, n / (time.perf_counter() - started)


async def run(customers: int, requests: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ccs-bench-api-") as tmp:
        settings = load_settings(
            environ={
                **{k: v for k, v in os.environ.items() if not k.startswith("CCSERVER_")},
                "CCSERVER_SERVER__DATA_DIR": str(Path(tmp) / "data"),
                "CCSERVER_ASTERISK__MODE": "off",
                "CCSERVER_LOGGING__LEVEL": "warning",
            }
        )
        app = build_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            services = app[SERVICES]
            assert services.engine is not None
            await generate_demo_data(services.engine, customers=customers, seed=3, with_users=False)
            users = UserService(services.require_sessions())
            owner = await users.create_user("bench", "bench password", role="agent")
            token, _ = await users.create_token("bench", scopes=["*"], user_id=owner.id)
            async with services.require_sessions()() as s:
                rows = (
                    await s.execute(
                        select(CustomerIdentity.value, CustomerIdentity.customer_id).where(
                            CustomerIdentity.kind == "phone"
                        )
                    )
                ).all()
            rng = random.Random(5)
            sample = [rng.choice(rows) for _ in range(requests)]
            base = f"http://127.0.0.1:{port}/api/v1/customers"
            headers = {"Authorization": f"Bearer {token}"}
            results: dict[str, Any] = {"customers": customers, "requests": requests}
            async with ClientSession(headers=headers) as http:

                async def search(i: int) -> None:
                    phone, cid = sample[i]
                    async with http.get(base, params={"q": _typed(phone, rng)}) as r:
                        body = await r.json()
                        assert r.status == 200 and body["items"][0]["id"] == cid, body

                async def read(i: int) -> None:
                    async with http.get(f"{base}/{sample[i][1]}") as r:
                        assert r.status == 200
                        await r.read()

                for name, call in (("search_by_phone", search), ("read_customer", read)):
                    for conc in (1, CONCURRENCY):
                        lat, rate = await _time(requests, call, conc)
                        key = f"{name}_c{conc}"
                        results[key] = {
                            "p50_ms": round(percentile(lat, 50), 2),
                            "p99_ms": round(percentile(lat, 99), 2),
                            "requests_per_s": round(rate),
                        }
                        r = results[key]
                        print(
                            f"{key:<24} p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
                            f"{r['requests_per_s']:6d} req/s"
                        )
            return results
        finally:
            await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    customers, requests = (2_000, 300) if args.quick else (20_000, 1_000)
    results = asyncio.run(run(customers, requests))
    results["quick"] = args.quick
    # Loopback figures depend on what else the machine runs: keep the load with them.
    results["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(f"results: {save_results('api', results)}")


if __name__ == "__main__":
    main()
