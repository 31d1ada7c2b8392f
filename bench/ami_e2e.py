"""Voice end to end over AMI: simulated calls through the whole stack.

    .venv/bin/python -m bench.ami_e2e [--quick]

Stack: Asterisk simulator (TCP, real AMI) -> AmiConnection -> VoiceChannel (IVR over
AsyncAGI, CRM caller-ID lookup, queue) -> ContactCenter/routing -> agent phone Originate ->
bridge. Built by ``ccserver.simulator.cli_simulate.running_center`` on a clock running
10x faster than the wall (time_scale 0.1): a 0.25 s prompt takes 25 ms, a phone answers in
100 ms; the simulated floor inside each span is printed next to it (the rest is ccserver,
the simulator and the loaded machine). Faster scales make routing's 20 s offer timer too
short for a burst on a busy box (RONA storms), which would measure the timer, not the code.

1. sequential calls: new interaction -> queued (IVR: language and menu digits pressed as
   soon as the menu listens, 'welcome' and 'please-hold' prompts, the CRM caller-ID lookup)
   and queued -> connected (offer, Originate, ring, answer, bridge), p50 / p99.
2. burst: N callers at once with N agents ready; wall time until all are connected and CPU
   seconds of this process per call.

Writes bench/results/ami_e2e.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from bench.common import percentile, save_results
from ccserver.simulator import Hangup, Press, Talk, WaitForAgent
from ccserver.simulator.cli_simulate import RunningCenter, SimOptions, running_center

SCALE = 0.1
# Simulated time inside the measured spans (prompt/ring lengths x SCALE), for reference.
FLOOR_QUEUED_MS = (0.25 + 0.25) * SCALE * 1000  # 'welcome' + 'please-hold' prompts
FLOOR_CONNECT_MS = (0.05 + 1.0) * SCALE * 1000  # dial + the phone's 1 s answer delay


def _script() -> list[Any]:
    return [Press("1"), Press("0"), WaitForAgent(10_000), Talk(1), Hangup()]


async def _poll(ready: Any, limit_s: float = 90.0) -> bool:
    """Until ``ready()``; False after ``limit_s`` (a stuck run is reported, not hung)."""
    for _ in range(int(limit_s / 0.01)):
        if ready():
            return True
        await asyncio.sleep(0.01)
    return False


def _spans(run: RunningCenter, first: int) -> tuple[list[float], list[float]]:
    """Real milliseconds dial-in -> queued and queued -> connected, from the interactions'
    own timestamps (on the run's fast clock: x SCALE back to wall time)."""
    to_queue, to_connect = [], []
    for i in run.seen[first:]:
        t = i.timestamps
        if "first_queued" in t and "first_connected" in t:
            to_queue.append((t["first_queued"] - t["new"]) * SCALE * 1000)
            to_connect.append((t["first_connected"] - t["first_queued"]) * SCALE * 1000)
    return to_queue, to_connect


async def sequential(run: RunningCenter, calls: int) -> dict[str, Any]:
    first = len(run.seen)
    for n in range(calls):
        handle = run.sim.place_call(run.numbers[n % len(run.numbers)], _script())
        await asyncio.wait_for(handle.finished, 30)
    to_queue, to_connect = _spans(run, first)
    return {
        "calls": calls,
        "connected": len(to_connect),
        "dial_to_queued_ms": {"p50": percentile(to_queue, 50), "p99": percentile(to_queue, 99)},
        "queued_to_connected_ms": {
            "p50": percentile(to_connect, 50),
            "p99": percentile(to_connect, 99),
        },
        "simulated_floor_ms": {"queued": FLOOR_QUEUED_MS, "connected": FLOOR_CONNECT_MS},
    }


async def burst(run: RunningCenter, calls: int) -> dict[str, Any]:
    first = len(run.seen)
    cpu0, t0 = time.process_time(), time.perf_counter()
    handles = [
        run.sim.place_call(run.numbers[n % len(run.numbers)], _script()) for n in range(calls)
    ]

    def all_connected() -> bool:
        made = run.seen[first:]
        return len(made) == calls and all("first_connected" in i.timestamps for i in made)

    finished = await _poll(all_connected)
    wall = time.perf_counter() - t0
    stuck = [
        (i.state.value, sorted(k for k in i.timestamps if k.startswith("first_")))
        for i in run.seen[first:]
        if "first_connected" not in i.timestamps
    ]
    cpu = time.process_time() - cpu0
    await asyncio.wait([h.finished for h in handles], timeout=30)
    _, to_connect = _spans(run, first)
    return {
        "calls": calls,
        "connected": len(to_connect),
        "interactions": len(run.seen) - first,
        "all_connected_in_time": finished,
        "not_connected": stuck[:10],
        "wall_s": round(wall, 3),
        "calls_per_s": round(calls / wall, 1),
        "cpu_ms_per_call": round(cpu / calls * 1000, 2),
        "queued_to_connected_ms_p99": percentile(to_connect, 99),
    }


async def main_async(quick: bool) -> dict[str, Any]:
    seq_calls, burst_calls = (10, 20) if quick else (40, 50)
    opts = SimOptions(agents=burst_calls, time_scale=SCALE, wrap_s=0.0)
    async with running_center(opts) as run:
        seq = await sequential(run, seq_calls)
        await asyncio.sleep(0.2)
        bst = await burst(run, burst_calls)
    return {"sequential": seq, "burst": bst, "time_scale": SCALE, "loadavg": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description="voice end-to-end benchmark")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(main_async(args.quick))
    seq, bst = result["sequential"], result["burst"]
    print(
        f"sequential {seq['calls']} calls: dial->queued p50 {seq['dial_to_queued_ms']['p50']:.1f} "
        f"ms p99 {seq['dial_to_queued_ms']['p99']:.1f} ms (sim floor {FLOOR_QUEUED_MS:.0f} ms); "
        f"queued->connected p50 {seq['queued_to_connected_ms']['p50']:.1f} ms "
        f"p99 {seq['queued_to_connected_ms']['p99']:.1f} ms (sim floor {FLOOR_CONNECT_MS:.0f} ms)"
    )
    print(
        f"burst {bst['calls']} calls: {bst['connected']} connected in {bst['wall_s']} s "
        f"({bst['calls_per_s']} calls/s), {bst['cpu_ms_per_call']} ms CPU per call; "
        f"loadavg {result['loadavg'][0]:.1f}"
    )
    print(f"-> {save_results('ami_e2e', result)}")


if __name__ == "__main__":
    main()
