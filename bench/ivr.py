"""IVR engine throughput: whole calls through the shipped default flow, no I/O.

    .venv/bin/python -m bench.ivr [--quick] [--calls N]

Each call is a scripted caller on ``config/ivr/main.toml`` (language choice, caller-ID
identification, hours check, menus, order-status self-service or routing), cycling through
six scripts. Reported: calls/s and events/s for sessions alone, the same through the
AsyncAGI driver (actions rendered to AGI lines, results parsed back), p50/p99 of one
``handle()`` call, and the time to load + validate the flow file (the reload cost).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import percentile
from ccserver.channels.voice.ivr_driver import AgiCommand, VoiceIvrDriver
from ivr import actions as a
from ivr import events as e
from ivr.loader import load_flow
from ivr.model import Flow
from ivr.session import IvrSession

FLOW_FILE = Path(__file__).parents[1] / "config" / "ivr" / "main.toml"
RESULTS = Path(__file__).with_name("results") / "ivr.json"

CUSTOMER = {"id": "42", "tier": "standard", "open_complaints": 0}
ORDER = {"status": "shipped", "shipped_on": "2026-11-20"}
# Each script: keypad inputs in order ("T" = timeout); lookups are answered from CRM below.
SCRIPTS = [
    ["2", "1", "1", "98765", "9"],  # ja: order status self-service, then goodbye
    ["1", "2"],  # en: billing
    ["3", "9", "7", "4"],  # th: two invalid keys, then technical support
    ["4", "3"],  # zh: complaints
    ["T", "T", "0"],  # no language chosen: default, agent
    ["1", "1", "9", "0"],  # orders menu, back, agent
]
CRM: dict[str, Any] = {
    "customer_by_phone": CUSTOMER,
    "customer_by_account": CUSTOMER,
    "queue_open": {"open": True},
    "order_status": ORDER,
}


def run_sessions(flow: Flow, calls: int) -> dict[str, Any]:
    lat: list[float] = []
    events = 0
    t0 = time.perf_counter()
    for i in range(calls):
        script = iter(SCRIPTS[i % len(SCRIPTS)])
        s = IvrSession(flow, "voice", 0.0, caller_id="15551230000")
        now = 0.0
        ev: e.IvrEvent = e.Started(now)
        while True:
            t = time.perf_counter_ns()
            batch = s.handle(ev)
            lat.append((time.perf_counter_ns() - t) / 1000)
            events += 1
            if s.finished:
                break
            now += 1.0
            last = batch[-1]
            if isinstance(last, a.Lookup):
                ev = e.LookupResult(now, CRM[last.kind])
            else:
                key = next(script)
                ev = e.Timeout(now) if key == "T" else e.Digits(now, key)
        s.path_record()
    wall = time.perf_counter() - t0
    return {
        "calls": calls,
        "events": events,
        "calls_per_s": round(calls / wall),
        "events_per_s": round(events / wall),
        "handle_p50_us": round(statistics.median(lat), 2),
        "handle_p99_us": round(percentile(lat, 99), 2),
    }


def run_voice_driver(flow: Flow, calls: int) -> dict[str, Any]:
    commands = 0
    t0 = time.perf_counter()
    for i in range(calls):
        script = iter(SCRIPTS[i % len(SCRIPTS)])
        d = VoiceIvrDriver(IvrSession(flow, "voice", 0.0, caller_id="15551230000"))
        d.start(0.0)
        now = 0.0
        while (step := d.next_step()) is not None:
            now += 1.0
            if isinstance(step, AgiCommand):
                commands += 1
                if step.kind == "getdata":
                    key = next(script)
                    d.on_result("200 result= (timeout)" if key == "T" else f"200 result={key}", now)
                else:
                    d.on_result("200 result=0 endpos=1000", now)
            elif isinstance(step, a.Lookup):
                d.lookup_result(CRM[step.kind], now)
    wall = time.perf_counter() - t0
    return {
        "calls": calls,
        "agi_commands": commands,
        "calls_per_s": round(calls / wall),
        "agi_commands_per_s": round(commands / wall),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.ivr", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small run (CI smoke)")
    parser.add_argument("--calls", type=int, default=None)
    args = parser.parse_args(argv)
    calls = args.calls or (2_000 if args.quick else 50_000)

    loads = []
    for _ in range(5 if args.quick else 30):
        t = time.perf_counter()
        flow = load_flow(FLOW_FILE)
        loads.append((time.perf_counter() - t) * 1000)
    result = {
        "flow": FLOW_FILE.name,
        "nodes": len(flow.nodes),
        "load_validate_ms_median": round(statistics.median(loads), 3),
        "sessions": run_sessions(flow, calls),
        "voice_driver": run_voice_driver(flow, calls),
    }
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
