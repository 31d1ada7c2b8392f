"""Email channel figures: parse throughput per kind of mail, and the whole inbound path over
real SMTP on loopback (client -> aiosmtpd listener -> parse/thread/store/ack) with the
acknowledgements relayed to a loopback aiosmtpd sink.

    .venv/bin/python -m bench.email_pipeline [--quick]

Bounded loops, loopback only. Writes bench/results/email_pipeline.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

from ccserver.channels.email.config import EmailSettings, ListenerSettings, OutboundSettings
from ccserver.channels.email.listener import SmtpListener
from ccserver.channels.email.memory_sink import InMemoryEmailSink
from ccserver.channels.email.outbound import OutboundMailer
from ccserver.channels.email.parsing import parse_email
from ccserver.channels.email.service import EmailChannelService

RESULTS = Path(__file__).with_name("results") / "email_pipeline.json"
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "email"


def _samples() -> dict[str, bytes]:
    plain = EmailMessage()
    plain["From"] = "Alice <alice@mail.example.com>"
    plain["To"] = "support@example.com"
    plain["Subject"] = "Order 42 [#C-10001]"
    plain["Message-ID"] = "<p1@mail.example.com>"
    plain.set_content("Hello,\n\nwhere is my order?\n" * 20)
    with_att = EmailMessage()
    with_att["From"] = "bob@mail.example.com"
    with_att["Subject"] = "photo"
    with_att.set_content("see attached")
    with_att.add_attachment(
        b"\x89PNG" + bytes(200_000), maintype="image", subtype="png", filename="damage.png"
    )
    out = {"plain_text_1k": plain.as_bytes(), "attachment_200k": with_att.as_bytes()}
    for name in ("iso2022jp.eml", "gb2312.eml", "utf8_alternative.eml", "html_only_script.eml"):
        path = FIXTURES / name
        if path.exists():
            out[name.removesuffix(".eml")] = path.read_bytes()
    return out


def _variants(raw: bytes, count: int) -> list[bytes]:
    """Copies with their own Subject and Message-ID, so header caching cannot flatter the
    figure more than real traffic would (MIME boundaries still repeat)."""
    out = []
    for i in range(count):
        v = raw.replace(b"Subject: ", b"Subject: [v%d] " % i, 1)
        v = v.replace(b"Message-ID: <", b"Message-ID: <v%d." % i, 1)
        out.append(v)
    return out


def bench_parse(n: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, raw in _samples().items():
        count = max(50, n // 10) if len(raw) > 100_000 else n
        mails = _variants(raw, count)
        t0, c0 = time.perf_counter(), time.process_time()
        for one in mails:
            parse_email(one)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        # CPU time per mail is the figure that survives a busy machine; wall rate is shown too.
        figures[name] = {
            "mails_per_s": round(count / dt),
            "cpu_ms_per_mail": round(cpu / count * 1000, 3),
            "mails_per_cpu_s": round(count / cpu),
            "bytes": len(raw),
        }
        print(
            f"parse {name:<22} {count / dt:>8,.0f} mails/s wall, {count / cpu:>8,.0f} per CPU-s"
            f"  ({len(raw):,} bytes)"
        )
    return figures


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        return "250 OK"


async def bench_smtp(mails: int, concurrency: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    relay = _Sink()
    relay_server = await loop.create_server(
        lambda: SMTP(relay, hostname="relay.bench", loop=loop), "127.0.0.1", 0
    )
    relay_port = int(relay_server.sockets[0].getsockname()[1])
    settings = EmailSettings(
        message_id_domain="bench.ccserver.local",
        listener=ListenerSettings(port=0),
        outbound=OutboundSettings(relay_port=relay_port, timeout_seconds=10),
    )
    sink = InMemoryEmailSink()
    mailer = OutboundMailer(settings.outbound)
    service = EmailChannelService(settings, sink, mailer)
    listener = SmtpListener(service, settings.listener)
    port = await listener.start()
    await mailer.start()
    latencies: list[float] = []

    async def client(worker: int, count: int) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        try:
            for i in range(count):
                msg = EmailMessage()
                # Distinct senders so neither the flood guard nor the ack limit kicks in.
                msg["From"] = f"customer{worker}-{i}@mail.example.com"
                msg["To"] = "support@example.com"
                msg["Subject"] = f"question {worker}-{i}"
                msg["Message-ID"] = f"<b{worker}-{i}@mail.example.com>"
                msg.set_content("Hello, where is my order?\n" * 10)
                t = time.perf_counter()
                await smtp.send_message(msg)
                latencies.append(time.perf_counter() - t)
        finally:
            await smtp.quit()

    per = mails // concurrency
    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client(w, per) for w in range(concurrency)))
    inbound_s = time.perf_counter() - t0
    async with asyncio.timeout(120):
        await mailer.wait_idle()
    total_s = time.perf_counter() - t0
    cpu_s = time.process_time() - c0  # includes the benchmark's own SMTP clients and relay
    await mailer.aclose()
    await listener.aclose()
    relay_server.close()
    await relay_server.wait_closed()
    done = per * concurrency
    latencies.sort()
    fig = {
        "mails": done,
        "concurrency": concurrency,
        "inbound_mails_per_s": round(done / inbound_s),
        "smtp_latency_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "smtp_latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "acks_relayed": relay.count,
        "acks_per_s_end_to_end": round(relay.count / total_s),
        "cpu_ms_per_mail_incl_clients_and_relay": round(cpu_s / max(done, 1) * 1000, 2),
    }
    print(
        f"SMTP inbound {fig['inbound_mails_per_s']:,} mails/s over {concurrency} connections; "
        f"250 after store p50 {fig['smtp_latency_p50_ms']} ms p99 {fig['smtp_latency_p99_ms']} ms; "
        f"{relay.count} acks relayed ({fig['acks_per_s_end_to_end']:,}/s end to end); "
        f"{fig['cpu_ms_per_mail_incl_clients_and_relay']} CPU-ms per mail incl. clients+relay"
    )
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small run")
    args = parser.parse_args()
    n_parse, n_smtp = (300, 200) if args.quick else (3000, 2000)
    result = {"parse": bench_parse(n_parse), "smtp": asyncio.run(bench_smtp(n_smtp, 8))}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"quick": args.quick, **result}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
