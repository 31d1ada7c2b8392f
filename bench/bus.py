"""Event bus throughput and node-to-node latency.

    .venv/bin/python -m bench.bus [--quick] [--events N] [--rate R] [--redis-url URL]

*Throughput*: one node publishes N events and another node's subscriber receives them;
events/s is N over the time from the first publish to the last event received. Three ways
of publishing: one publisher awaiting each event, many concurrent publisher tasks (as in the
server, where every interaction task publishes its own events), and ``publish_many``.
On Redis the two nodes are two ``RedisBus`` instances in this one process (so the figure is
for a process doing both the publishing and the receiving), talking over loopback.
*Events per CPU second*: the same count over this process's CPU time (publisher and
subscriber node together), which is what one core would do on a machine that is not shared.
*Latency*: events published at a steady ``--rate`` per second; per event, the time from the
``publish`` call to its delivery on the other node (p50/p99/max).
Targets (DESIGN §11 / issue): >= 30,000 events/s per process, p99 <= 5 ms node to node.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import redis.asyncio as redis

from bench.common import percentile
from ccserver.bus import InMemoryBus, Subscription
from ccserver.bus.redis_streams import RedisBus

REDIS_URL = os.environ.get("CCSERVER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
RESULTS = Path(__file__).with_name("results") / "bus.json"
TOPIC = "queue.stats"
MODES = ("sequential", "concurrent", "batched")
PAYLOAD: dict[str, Any] = {
    "queue": "sales",
    "waiting": 12,
    "longest_wait_s": 42.5,
    "agents": {"available": 3, "busy": 17, "wrap_up": 2},
}


async def _drain(sub: Subscription, n: int, stamps: list[float] | None) -> float:
    received = 0
    async for msg in sub:
        if stamps is not None:
            stamps.append(time.perf_counter() - msg.data["t"])
        received += 1
        if received == n:
            break
    return time.perf_counter()


async def throughput(pub: Any, sub_bus: Any, n: int, mode: str) -> dict[str, Any]:
    """``sequential``: one publisher awaiting each publish; ``concurrent``: windows of
    concurrent publisher tasks; ``batched``: ``publish_many`` of 500 events at a time."""
    async with sub_bus.subscribe([TOPIC]) as sub:
        consumer = asyncio.create_task(_drain(sub, n, None))
        started = time.perf_counter()
        cpu_started = time.process_time()
        if mode == "sequential":
            for i in range(n):
                await pub.publish(TOPIC, {**PAYLOAD, "n": i})
        elif mode == "concurrent":
            window = 1000
            for offset in range(0, n, window):
                end = min(n, offset + window)
                await asyncio.gather(
                    *(pub.publish(TOPIC, {**PAYLOAD, "n": i}) for i in range(offset, end))
                )
        else:
            batch = 500
            for offset in range(0, n, batch):
                end = min(n, offset + batch)
                await pub.publish_many([(TOPIC, {**PAYLOAD, "n": i}) for i in range(offset, end)])
        published = time.perf_counter()
        finished = await asyncio.wait_for(consumer, 300)
        cpu = time.process_time() - cpu_started
    return {
        "mode": mode,
        "events": n,
        "events_per_s": round(n / (finished - started)),
        "publish_events_per_s": round(n / (published - started)),
        # CPU seconds this process spent: on a shared, loaded machine wall-clock rates
        # understate what one dedicated core does; events per CPU second does not.
        "events_per_cpu_s": round(n / cpu) if cpu > 0 else None,
    }


async def latency(pub: Any, sub_bus: Any, n: int, rate: int) -> dict[str, float]:
    stamps: list[float] = []
    tick = 0.001
    per_tick = max(1, rate // 1000)
    async with sub_bus.subscribe([TOPIC]) as sub:
        consumer = asyncio.create_task(_drain(sub, n, stamps))
        sent = 0
        tasks: list[asyncio.Task[str]] = []
        start = time.perf_counter()
        while sent < n:
            batch = min(per_tick, n - sent)
            for _ in range(batch):
                # Fire-and-forget like the runtime does: the id is not waited for here.
                tasks.append(
                    asyncio.create_task(pub.publish(TOPIC, {**PAYLOAD, "t": time.perf_counter()}))
                )
            sent += batch
            next_at = start + (sent / per_tick) * tick
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await asyncio.wait_for(consumer, 60)
        await asyncio.gather(*tasks)
    ms = [s * 1000 for s in stamps]
    return {
        "events": n,
        "rate_per_s": rate,
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3),
    }


async def run_memory(n: int, n_lat: int, rate: int) -> dict[str, Any]:
    bus = InMemoryBus(queue_size=n + 1)
    await bus.start()
    try:
        return {
            "throughput": [await throughput(bus, bus, n, m) for m in MODES],
            "latency": await latency(bus, bus, n_lat, rate),
        }
    finally:
        await bus.close()


async def run_redis(url: str, n: int, n_lat: int, rate: int) -> dict[str, Any]:
    prefix = f"ccs:bench:{uuid.uuid4().hex[:8]}:"
    kwargs: dict[str, Any] = {"prefix": prefix, "history_maxlen": 10_000, "queue_size": n + 1}
    node_a, node_b = RedisBus(url, **kwargs), RedisBus(url, **kwargs)
    await node_a.start()
    await node_b.start()
    try:
        if not await node_a.ping():
            raise SystemExit(f"Redis is not reachable at {url}")
        return {
            # One awaited publish at a time is one round trip each: a smaller count.
            "throughput": [
                await throughput(node_a, node_b, n // 10 if m == "sequential" else n, m)
                for m in MODES
            ],
            "latency": await latency(node_a, node_b, n_lat, rate),
        }
    finally:
        await node_a.close()
        await node_b.close()
        client = redis.Redis.from_url(url)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (seconds)")
    parser.add_argument("--events", type=int, default=None, help="events for throughput")
    parser.add_argument("--rate", type=int, default=2000, help="events/s for the latency run")
    parser.add_argument("--redis-url", default=REDIS_URL)
    args = parser.parse_args()
    load = os.getloadavg()
    n = args.events or (20_000 if args.quick else 200_000)
    n_lat = 2_000 if args.quick else 20_000
    results: dict[str, Any] = {
        "memory": await run_memory(n, n_lat, args.rate),
        "redis": await run_redis(args.redis_url, n, n_lat, args.rate),
        "quick": args.quick,
        "load_average_at_start": load,
        "cpus": os.cpu_count(),
        "targets": {"events_per_s": 30_000, "p99_ms": 5.0},
    }
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)"
    )
    for name in ("memory", "redis"):
        for t in results[name]["throughput"]:
            print(
                f"{name:7} {t['mode']:10} {t['events_per_s']:>9,} events/s end to end "
                f"({t['publish_events_per_s']:,}/s published; "
                f"{t['events_per_cpu_s']:,} per CPU second)"
            )
        lat = results[name]["latency"]
        print(
            f"{name:7} latency at {lat['rate_per_s']:,} events/s: p50 {lat['p50_ms']} ms, "
            f"p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
