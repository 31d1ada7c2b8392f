"""AMI benchmark: events parsed + dispatched per second, and event-to-decision latency.

    .venv/bin/python -m bench.ami [--quick]

1. codec+dispatch, one core: the recorded Asterisk 22 transcripts (tests/fixtures/ami) are
   replayed through ``AmiProtocol`` in 4 KiB chunks and every event is dispatched to a
   handler through ``AmiConnection``'s dispatch path (target >= 50,000 events/s).
2. loopback throughput: a feeder *process* speaking AMI (banner, Login) blasts events over
   TCP to an ``AmiConnection``; events counted in the connection's event callback.
3. latency at 10,000 events/s: the feeder paces events at 10k/s, each stamped with
   CLOCK_MONOTONIC (system-wide, comparable across processes); the callback ("the decision")
   records now - stamp. p50 / p99 / max reported. The feeder's socket keeps Nagle on, as
   Asterisk's AMI server does (its tcptls code never sets TCP_NODELAY): the client's
   immediate ACKs are what keep small events from waiting for a delayed ACK.

Results go to bench/results/ami.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import time
from pathlib import Path

from ccserver.ami.connection import AmiConnection
from ccserver.ami.protocol import AmiProtocol, Event, encode_message

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ami"
RESULTS = Path(__file__).resolve().parent / "results"

SAMPLE_EVENT = encode_message(
    [
        ("Event", "Newstate"),
        ("Privilege", "call,all"),
        ("Channel", "PJSIP/15551230000-00000001"),
        ("ChannelState", "6"),
        ("ChannelStateDesc", "Up"),
        ("CallerIDNum", "15551230000"),
        ("CallerIDName", "Test Customer"),
        ("ConnectedLineNum", "<unknown>"),
        ("ConnectedLineName", "<unknown>"),
        ("Language", "en"),
        ("AccountCode", ""),
        ("Context", "from-customer"),
        ("Exten", "s"),
        ("Priority", "2"),
        ("Uniqueid", "1795576333.6"),
        ("Linkedid", "1795576333.6"),
    ]
)


def _corpus() -> bytes:
    """Every recorded transcript without its banner line, concatenated."""
    parts = []
    for path in sorted(FIXTURES.glob("*.in.txt")):
        data = path.read_bytes()
        parts.append(data.split(b"\r\n", 1)[1])
    return b"".join(parts)


def bench_codec(min_events: int) -> dict[str, float]:
    corpus = _corpus()
    chunks = [corpus[i : i + 4096] for i in range(0, len(corpus), 4096)]
    conn = AmiConnection("127.0.0.1", 1, "u", "p")
    seen = [0]
    by_name: dict[str, int] = {}

    def handler(event: Event) -> None:
        # A cheap but real "decision": route on the event name and channel.
        seen[0] += 1
        by_name[event.name] = by_name.get(event.name, 0) + 1
        event.get("Channel")

    conn.add_event_handler(handler)
    proto = AmiProtocol(expect_banner=False, collect_lists=False)
    events = 0
    start = time.perf_counter()
    while events < min_events:
        for chunk in chunks:
            proto.receive_data(chunk)
            for item in proto.events_received():
                if isinstance(item, Event):
                    conn._dispatch(item)  # the connection's own dispatch path
                    events += 1
    elapsed = time.perf_counter() - start
    assert seen[0] == events
    return {"events": events, "seconds": elapsed, "events_per_s": events / elapsed}


def bench_stdlib_baseline(min_events: int) -> dict[str, float]:
    """The floor any Python AMI parser sits on: split messages and lines, build one dict per
    message, nothing else (no partial reads, no errors, no objects). Run alongside so the
    codec figure can be read against this machine's speed *now* (shared CI boxes vary)."""
    corpus = _corpus()
    events = 0
    start = time.perf_counter()
    while events < min_events:
        for block in corpus.decode().split("\r\n\r\n"):
            if block:
                dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
                events += 1
    elapsed = time.perf_counter() - start
    return {"events": events, "seconds": elapsed, "events_per_s": events / elapsed}


# -- feeder process -----------------------------------------------------------------------
def _feeder(port_queue: multiprocessing.Queue[int], mode: str, count: int, rate: int) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port_queue.put(server.getsockname()[1])
    conn, _ = server.accept()
    with conn, server:
        conn.sendall(b"Asterisk Call Manager/11.0.0\r\n")
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            buffer += conn.recv(4096)
        action_id = ""
        for line in buffer.split(b"\r\n"):
            if line.startswith(b"ActionID: "):
                action_id = line[10:].decode()
        conn.sendall(
            f"Response: Success\r\nActionID: {action_id}\r\n"
            "Message: Authentication accepted\r\n\r\n".encode()
        )
        time.sleep(0.2)
        if mode == "blast":
            batch = SAMPLE_EVENT * 100
            for _ in range(count // 100):
                conn.sendall(batch)
        else:
            # Paced: every millisecond, the events due by now, each stamped when sent.
            interval = 0.001
            per_tick = rate * interval
            sent = 0
            due = 0.0
            start = time.monotonic()
            while sent < count:
                due += per_tick
                n = int(due) - sent
                if n > 0:
                    stamp = time.monotonic_ns()
                    event = (
                        f"Event: Newstate\r\nPrivilege: call,all\r\nChannel: PJSIP/b-{sent:08x}"
                        f"\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nSent: {stamp}\r\n\r\n"
                    ).encode()
                    conn.sendall(event * n)
                    sent += n
                pause = start + (sent / rate) - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        conn.sendall(b"Event: BenchDone\r\n\r\n")
        conn.settimeout(120)
        while conn.recv(65536):  # until the client logs off and closes
            pass


async def _run_client(mode: str, count: int, rate: int) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = ctx.Queue()
    proc = ctx.Process(target=_feeder, args=(ports, mode, count, rate), daemon=True)
    proc.start()
    port = await asyncio.to_thread(ports.get, True, 30)
    done = asyncio.Event()
    received = [0]
    latencies: list[int] = []
    first = [0.0]

    def on_event(event: Event) -> None:
        if event.name == "BenchDone":
            done.set()
            return
        if received[0] == 0:
            first[0] = time.perf_counter()
        received[0] += 1
        stamp = event.get("Sent")
        if stamp is not None:
            latencies.append(time.monotonic_ns() - int(stamp))

    conn = AmiConnection("127.0.0.1", port, "bench", "bench", ping_interval=None)
    conn.add_event_handler(on_event)
    await conn.connect()
    try:
        await asyncio.wait_for(done.wait(), 120)
        elapsed = time.perf_counter() - first[0]
    finally:
        await conn.close()
        proc.join(5)
    result: dict[str, float] = {"events": received[0], "seconds": elapsed}
    if mode == "blast":
        result["events_per_s"] = received[0] / elapsed
    else:
        ordered = sorted(latencies)
        result.update(
            rate_per_s=rate,
            p50_ms=ordered[len(ordered) // 2] / 1e6,
            p99_ms=ordered[int(len(ordered) * 0.99)] / 1e6,
            max_ms=ordered[-1] / 1e6,
            mean_ms=statistics.fmean(ordered) / 1e6,
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small run (seconds)")
    args = parser.parse_args()
    codec_events = 100_000 if args.quick else 1_000_000
    blast_events = 50_000 if args.quick else 500_000
    paced_events = 20_000 if args.quick else 100_000

    baseline = bench_stdlib_baseline(codec_events)
    print(f"stdlib floor (split+dict):  {baseline['events_per_s']:,.0f} messages/s")
    codec = bench_codec(codec_events)
    print(
        f"codec+dispatch (one core):  {codec['events_per_s']:,.0f} events/s "
        f"({codec['events']:,} events in {codec['seconds']:.2f} s)"
    )
    blast = asyncio.run(_run_client("blast", blast_events, 0))
    print(
        f"loopback TCP end to end:    {blast['events_per_s']:,.0f} events/s "
        f"({blast['events']:,} events)"
    )
    paced = asyncio.run(_run_client("paced", paced_events, 10_000))
    # The same at a fifth of the rate: latency without queueing, for reading the first figure
    # on a loaded machine.
    light = asyncio.run(_run_client("paced", paced_events // 5, 2_000))
    for figures in (paced, light):
        print(
            f"event -> callback latency at {figures['rate_per_s']:,.0f} events/s over loopback: "
            f"p50 {figures['p50_ms']:.3f} ms, p99 {figures['p99_ms']:.3f} ms, "
            f"max {figures['max_ms']:.3f} ms ({figures['events']:,.0f} events)"
        )
    RESULTS.mkdir(exist_ok=True)
    out = {
        "quick": args.quick,
        "load_average": list(os.getloadavg()),
        "stdlib_floor": baseline,
        "codec_dispatch": codec,
        "codec_vs_floor": codec["events_per_s"] / baseline["events_per_s"],
        "loopback": blast,
        "latency": paced,
        "latency_2k": light,
    }
    (RESULTS / "ami.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"written {RESULTS / 'ami.json'}")


if __name__ == "__main__":
    main()
