"""Random-bytes fuzz target for the AMI codec (no atheris needed).

    .venv/bin/python -m tests.fuzz.ami_fuzz --iterations 20000 [--seed 1]

Each iteration mutates a real transcript (bit flips, inserted garbage, cut lines, huge lines),
feeds it in random splits and checks the invariants: no exception, errors counted, and a
sentinel event sent afterwards is always recovered (resynchronisation).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from ccserver.ami.protocol import AmiProtocol, Event, ProtocolError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
SENTINEL = b"\r\n\r\nEvent: Sentinel\r\n\r\n"


def mutate(rng: random.Random, data: bytearray) -> bytes:
    for _ in range(rng.randint(1, 8)):
        choice = rng.random()
        pos = rng.randrange(len(data) + 1)
        if choice < 0.3 and data:
            data[min(pos, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif choice < 0.5:
            data[pos:pos] = rng.randbytes(rng.randint(1, 64))
        elif choice < 0.7:
            del data[pos : pos + rng.randint(1, 200)]
        elif choice < 0.8:
            data[pos:pos] = b"x" * rng.randint(1000, 5000)
        else:
            data[pos:pos] = rng.choice([b"\r\n", b"\n", b":", b"\r", b"Response: Follows\r\n"])
    return bytes(data)


def run(iterations: int, seed: int) -> int:
    rng = random.Random(seed)
    corpus = [p.read_bytes() for p in sorted(FIXTURES.glob("*.in.txt"))]
    errors_seen = 0
    for _ in range(iterations):
        data = mutate(rng, bytearray(rng.choice(corpus)[: rng.randint(0, 4000)])) + SENTINEL
        proto = AmiProtocol(max_line=1024, max_message=16384)
        items = []
        pos = 0
        while pos < len(data):
            step = rng.randint(1, 512)
            proto.receive_data(data[pos : pos + step])
            items.extend(proto.events_received())
            pos += step
        last = items[-1] if items else None
        # A Follows block swallowed by garbage may hide the sentinel until its end marker;
        # anything else must recover it.
        if not (isinstance(last, Event) and last.name == "Sentinel") and b"Follows" not in data:
            raise AssertionError(f"sentinel lost (seed {seed}): {data[-300:]!r}")
        counted = sum(isinstance(i, ProtocolError) for i in items)
        assert counted == proto.errors
        errors_seen += counted
    return errors_seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    errors = run(args.iterations, args.seed)
    print(f"{args.iterations} iterations, {errors} protocol errors reported, no crash")


if __name__ == "__main__":
    main()
