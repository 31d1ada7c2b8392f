"""Consoles benchmark: open consoles per process and memory per connection, screen-pop
latency from the bus to the frame a console receives, and wallboard fan-out.

The server (the real aiohttp app: hub, auth, in-memory bus) runs in this process; the
consoles run in a child process driven by the ``websockets`` library, so client work does
not count against the server. Loopback only; every loop is bounded in count and time.

    python -m bench.consoles [--quick] [--consoles 10000] [--rate 10000] [--seconds 5]

Targets (DESIGN.md §11): >= 10,000 consoles at <= 40 KiB each; screen pop p99 <= 10 ms at
10,000 events/s with 5,000 consoles; wallboard fan-out >= 50,000 frames/s/core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import percentile, save_results, settled_rss_bytes

POP = {
    "customer": {"name": "Bench Customer", "tier": "gold", "customer_number": "C000001"},
    "complaints": [],
    "contacts": [{"channel": "voice", "notes": "x" * 200}] * 3,
    "orders": [{"order_number": "O-1", "status": "shipped"}] * 3,
}


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- client side (child process) -----------------------------------------------------------
async def _clients(spec: dict[str, Any]) -> dict[str, Any]:
    import websockets

    url = spec["url"]
    latencies: list[float] = []
    frames = 0
    opened = 0
    sem = asyncio.Semaphore(200)
    stop_at = time.time() + spec["listen_s"]
    ready = asyncio.Event()
    conns: list[Any] = []

    async def one(cookie: str, count_pops: bool) -> None:
        nonlocal frames, opened
        async with sem:
            ws = await websockets.connect(
                url,
                additional_headers={"Cookie": cookie},
                max_size=2**20,
                open_timeout=60,
                ping_interval=None,
            )
        conns.append(ws)
        opened += 1
        if opened == len(spec["cookies"]):
            ready.set()
        try:
            while time.time() < stop_at:
                raw = await ws.recv()
                now = time.time()
                frames += 1
                if count_pops and '"type":"offer"' in raw[:20]:
                    latencies.append(now - json.loads(raw)["data"]["t"])
        finally:
            ws.transport.abort()

    tasks = [
        asyncio.create_task(one(c, i < spec["pop_consoles"])) for i, c in enumerate(spec["cookies"])
    ]
    await asyncio.wait_for(ready.wait(), timeout=300)
    print("READY", flush=True)
    # The server says STOP on our stdin when it has finished sending.
    await asyncio.to_thread(sys.stdin.readline)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"opened": opened, "frames": frames, "latencies": latencies}


def client_main(spec_path: str) -> None:
    _raise_fd_limit()
    spec = json.loads(Path(spec_path).read_text())
    result = asyncio.run(_clients(spec))
    print("RESULT " + json.dumps(result), flush=True)


# --- server side ---------------------------------------------------------------------------
async def _server(args: argparse.Namespace) -> dict[str, Any]:
    from aiohttp import web
    from sqlalchemy import insert

    from ccserver.app import SERVICES, build_app
    from ccserver.crm.models import User
    from ccserver.settings import load_settings
    from ccserver.web.auth import AUTH
    from ccserver.web.hub import ALERTS_TOPIC, HUB, agent_topic
    from ccserver.web.sessions import SESSION_COOKIE, password_fingerprint

    tmp = Path(tempfile.mkdtemp(prefix="ccs-bench-"))
    settings = load_settings(
        environ={
            "CCSERVER_SERVER__DATA_DIR": str(tmp),
            "CCSERVER_ASTERISK__MODE": "off",
            "CCSERVER_LOGGING__LEVEL": "warning",
        }
    )
    app = build_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    services = app[SERVICES]
    n, sups = args.consoles, args.supervisors
    rows = [
        {
            "id": f"b{i:06d}",
            "username": f"bench{i}",
            "display_name": f"Bench {i}",
            "password_hash": "bench",
            "role": "supervisor" if i >= n else "agent",
            "active": True,
        }
        for i in range(n + sups)
    ]
    async with services.require_sessions().begin() as s:
        await s.execute(insert(User), rows)
    codec, now = app[AUTH].codec, time.time()
    cookies = [
        f"{SESSION_COOKIE}="
        + codec.issue(r["id"], str(r["role"]), password_fingerprint("bench"), now, 3600)[0]
        for r in rows
    ]
    spec_path = tmp / "spec.json"
    spec_path.write_text(
        json.dumps(
            {
                "url": f"ws://127.0.0.1:{port}/ws",
                "cookies": cookies,
                "pop_consoles": min(args.pop_consoles, n),
                "listen_s": args.seconds * 2 + 60,
            }
        )
    )
    base_rss = settled_rss_bytes()
    root = Path(__file__).resolve().parent.parent  # noqa: ASYNC240 (once, at start)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.consoles",
        "--client",
        str(spec_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=str(root),
    )
    assert child.stdout is not None
    t0 = time.perf_counter()
    line = await asyncio.wait_for(child.stdout.readline(), timeout=600)
    assert line.startswith(b"READY"), line
    open_s = time.perf_counter() - t0
    await asyncio.sleep(1.0)
    hub = app[HUB]
    opened_server = hub.connections
    per_conn = (settled_rss_bytes() - base_rss) / max(1, opened_server)

    bus = services.require_bus()
    # Screen pops: `rate` offers/s spread over the first pop_consoles agents.
    pops = min(args.pop_consoles, n)
    total = int(args.rate * args.seconds)
    interval = 1.0 / args.rate
    start = time.perf_counter()
    for k in range(total):
        target = start + k * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await bus.publish(
            agent_topic(f"b{k % pops:06d}"),
            {"type": "offer", "data": {"t": time.time(), "screen_pop": POP}},
        )
    pop_elapsed = time.perf_counter() - start
    await asyncio.sleep(1.0)
    # Fan-out: alerts go to every supervisor screen uncoalesced. Publish in small batches and
    # let the send queues drain between them (as a real alert rate would), so the figure is
    # the sustained frames/s the hub delivers, not how fast a flood trips the slow-consumer
    # bound. Frames counted are the ones written to sockets.
    sent_before = hub.frames_sent
    closed_before = hub.connections
    fan_start = time.perf_counter()
    fan_deadline = fan_start + args.seconds
    alerts = 0
    while time.perf_counter() < fan_deadline:
        for _ in range(5):
            await bus.publish(
                ALERTS_TOPIC, {"type": "alert", "data": {"kind": "bench", "n": alerts}}
            )
            alerts += 1
        # In-memory publish does not yield: give the hub's pump and writers their turn, and
        # wait while the sockets still have a backlog. The backlog is counted from the
        # frames owed (alerts x supervisor screens) minus those written: asking the hub
        # (pending_frames) walks all 10,200 send queues, which would cost the server more
        # time than the frames being measured.
        await asyncio.sleep(0)
        while (  # noqa: ASYNC110
            alerts * sups - (hub.frames_sent - sent_before) > sups * 2
            and time.perf_counter() < fan_deadline
        ):
            await asyncio.sleep(0.001)
    while hub.pending_frames() and time.perf_counter() < fan_deadline + 5:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    fan_elapsed = time.perf_counter() - fan_start
    fan_frames = hub.frames_sent - sent_before
    dropped = closed_before - hub.connections
    out, _ = await asyncio.wait_for(child.communicate(b"STOP\n"), timeout=120)
    result_line = next((ln for ln in out.decode().splitlines() if ln.startswith("RESULT ")), None)
    client = json.loads(result_line[7:]) if result_line else {"latencies": [], "frames": 0}
    lat_ms = [x * 1000 for x in client["latencies"]]
    await runner.cleanup()
    return {
        "consoles": n,
        "supervisors": sups,
        "open_seconds": round(open_s, 2),
        "connections_on_server": opened_server,
        "bytes_per_connection": round(per_conn),
        "kib_per_connection": round(per_conn / 1024, 1),
        "screen_pop": {
            "rate_target": args.rate,
            "rate_achieved": round(total / pop_elapsed),
            "consoles": pops,
            "received": len(lat_ms),
            "p50_ms": round(percentile(lat_ms, 50), 2),
            "p99_ms": round(percentile(lat_ms, 99), 2),
        },
        "fanout": {
            "alerts": alerts,
            "frames": fan_frames,
            "screens_dropped": dropped,
            "frames_per_s": round(fan_frames / fan_elapsed),
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--consoles", type=int, default=10_000)
    p.add_argument("--supervisors", type=int, default=200)
    p.add_argument("--pop-consoles", type=int, default=5_000)
    p.add_argument("--rate", type=float, default=10_000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--client")
    args = p.parse_args(argv)
    if args.client:
        client_main(args.client)
        return 0
    if args.quick:
        args.consoles, args.supervisors, args.pop_consoles = 500, 50, 500
        args.rate, args.seconds = 2000, 2.0
    _raise_fd_limit()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    figures = asyncio.run(_server(args))
    print(json.dumps(figures, indent=2))
    print(f"written to {save_results('consoles', figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
