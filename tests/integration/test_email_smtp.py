"""Real SMTP exchanges: an aiosmtplib client -> our aiosmtpd listener on loopback; our replies
and acknowledgements -> a test aiosmtpd sink on another port, checked there."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from email.message import EmailMessage

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from ccserver.channels.email.compose import ParentMessage
from ccserver.channels.email.config import EmailSettings, ListenerSettings, OutboundSettings
from ccserver.channels.email.delivery import DeliveryStatus
from ccserver.channels.email.listener import SmtpListener
from ccserver.channels.email.memory_sink import InMemoryEmailSink
from ccserver.channels.email.outbound import OutboundMailer
from ccserver.channels.email.parsing import MailFlag
from ccserver.channels.email.service import EmailChannelService

DOMAIN = "mail.ccserver.test"


@dataclass
class RelaySink:
    """A test relay: stores every message it accepts; can be told to refuse."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    refuse_with: str | None = None  # e.g. "451 4.3.0 try later"
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_with:
            return self.refuse_with
        msg = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(msg, EmailMessage)
        self.messages.append((envelope.mail_from or "", list(envelope.rcpt_tos), msg))
        self.arrived.set()
        return "250 OK"


async def _serve(handler: object) -> tuple[asyncio.Server, int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="relay.test", loop=loop), "127.0.0.1", 0
    )
    return server, int(server.sockets[0].getsockname()[1])


@dataclass
class Stack:
    settings: EmailSettings
    sink: InMemoryEmailSink
    service: EmailChannelService
    mailer: OutboundMailer
    listener: SmtpListener
    relay: RelaySink
    port: int

    async def send(
        self, msg: EmailMessage | bytes, sender: str = "", rcpt: str = "support@example.com"
    ) -> None:
        if isinstance(msg, EmailMessage):
            await aiosmtplib.send(msg, hostname="127.0.0.1", port=self.port, start_tls=False)
        else:
            # A raw session so that a null reverse-path (MAIL FROM:<>) can be sent.
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=self.port, start_tls=False)
            await client.connect()
            try:
                await client.sendmail(sender, [rcpt], msg)
            finally:
                await client.quit()

    async def relayed(self, count: int) -> list[tuple[str, list[str], EmailMessage]]:
        async with asyncio.timeout(10):
            while len(self.relay.messages) < count:
                self.relay.arrived.clear()
                await self.relay.arrived.wait()
        return self.relay.messages


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    relay = RelaySink()
    relay_server, relay_port = await _serve(relay)
    settings = EmailSettings(
        message_id_domain=DOMAIN,
        from_address="support@example.com",
        listener=ListenerSettings(
            host="127.0.0.1", port=0, max_message_bytes=200_000, max_connections=3
        ),
        outbound=OutboundSettings(
            relay_host="127.0.0.1",
            relay_port=relay_port,
            timeout_seconds=5,
            backoff_initial_seconds=0.05,
            backoff_factor=2,
            backoff_max_seconds=0.2,
            max_attempts=4,
        ),
    )
    sink = InMemoryEmailSink()
    mailer = OutboundMailer(settings.outbound, jitter=lambda: 0.0)
    service = EmailChannelService(settings, sink, mailer)
    listener = SmtpListener(service, settings.listener)
    port = await listener.start()
    await mailer.start()
    try:
        yield Stack(settings, sink, service, mailer, listener, relay, port)
    finally:
        await mailer.aclose()
        await listener.aclose()
        relay_server.close()
        await relay_server.wait_closed()


async def eventually(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


def customer_mail(
    subject: str = "My order 42 has not arrived",
    body: str = "Where is it?",
    sender: str = "Alice Customer <alice@customer.example.com>",
    **headers: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = email.utils.make_msgid(domain="customer.example.com")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


async def test_inbound_mail_becomes_case_and_is_acknowledged_with_threading(stack: Stack) -> None:
    original = customer_mail()
    await stack.send(original)

    assert list(stack.sink.cases) == ["C-10001"]
    stored = stack.sink.cases["C-10001"].inbound[0]
    assert stored.subject == "My order 42 has not arrived"
    assert stored.from_address == "alice@customer.example.com"
    assert stack.sink.enqueued[0].case_number == "C-10001"

    [(env_from, rcpts, ack)] = await stack.relayed(1)
    assert env_from == "<>"  # RFC 3834: null reverse-path on automatic responses
    assert rcpts == ["alice@customer.example.com"]
    assert ack["Subject"] == "We received your message: My order 42 has not arrived [#C-10001]"
    assert ack["In-Reply-To"] == original["Message-ID"]
    assert ack["References"] == original["Message-ID"]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["Message-ID"].endswith(f"@{DOMAIN}>")
    assert "C-10001" in ack.get_content()


async def test_reply_to_ack_joins_case_and_agent_reply_threads(stack: Stack) -> None:
    await stack.send(customer_mail())
    [(_, _, ack)] = await stack.relayed(1)
    case = stack.sink.cases["C-10001"].ref

    # The agent answers from the console.
    first = stack.sink.cases["C-10001"].inbound[0]
    delivery = await stack.service.send_reply(
        case,
        to="alice@customer.example.com",
        body="Your parcel ships today. 配送は本日です。",
        agent_id="agent-7",
        agent_name="Bob",
        parent=ParentMessage(first.message_id, first.references, first.subject),
    )
    _, rcpts, reply = (await stack.relayed(2))[1]
    assert rcpts == ["alice@customer.example.com"]
    assert reply["Subject"] == "Re: My order 42 has not arrived [#C-10001]"
    assert reply["In-Reply-To"] == f"<{first.message_id}>"
    assert reply["Message-ID"] == f"<{delivery.id}>"
    assert "Bob" in str(reply["From"])
    assert reply.get_content().strip() == "Your parcel ships today. 配送は本日です。"
    async with asyncio.timeout(10):
        await stack.mailer.wait_idle()
    assert stack.mailer.status(delivery.id) is DeliveryStatus.SENT
    assert (delivery.id, DeliveryStatus.SENT) in stack.sink.status_log

    # The customer answers the agent's mail: In-Reply-To is our Message-ID.
    follow = customer_mail(subject=f"Re: {reply['Subject']}", body="Thanks!")
    follow["In-Reply-To"] = reply["Message-ID"]
    follow["References"] = f"{reply['References']} {reply['Message-ID']}"
    await stack.send(follow)
    assert list(stack.sink.cases) == ["C-10001"]
    assert len(stack.sink.cases["C-10001"].inbound) == 2
    assert stack.sink.enqueued[-1].preferred_agent_id == "agent-7"
    del ack


async def test_subject_token_joins_case_only_for_its_customer(stack: Stack) -> None:
    await stack.send(customer_mail())
    await stack.send(customer_mail(subject="Another question [#C-10001]"))
    assert list(stack.sink.cases) == ["C-10001"]
    # A stranger copying the token gets a case of their own.
    await stack.send(customer_mail(subject="Re: [#C-10001]", sender="mallory@evil.example.net"))
    assert list(stack.sink.cases) == ["C-10001", "C-10002"]
    assert any("ignored" in n for n in stack.sink.cases["C-10002"].inbound[0].notes)


async def test_oversized_mail_refused_with_552_and_clear_message(stack: Stack) -> None:
    big = customer_mail(body="x" * 300_000)
    with pytest.raises(aiosmtplib.SMTPResponseException) as info:
        await stack.send(big)
    assert info.value.code == 552
    assert "limit is 200000 bytes" in info.value.message
    assert stack.sink.cases == {}
    # The listener is still healthy afterwards.
    await stack.send(customer_mail())
    assert list(stack.sink.cases) == ["C-10001"]


async def test_oversized_data_without_size_declaration_gets_552(stack: Stack) -> None:
    # A client that does not declare SIZE in MAIL FROM is stopped at the DATA phase.
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=stack.port, start_tls=False)
    await client.connect()
    try:
        await client.ehlo()
        await client.mail("alice@customer.example.com")
        await client.rcpt("support@example.com")
        with pytest.raises(aiosmtplib.SMTPDataError) as info:
            await client.data(customer_mail(body="y" * 300_000).as_bytes())
        assert info.value.code == 552
        assert "200000 bytes" in info.value.message
    finally:
        await client.quit()
    assert stack.sink.cases == {}


async def test_connection_flood_gets_421_and_service_recovers(stack: Stack) -> None:
    held = [
        aiosmtplib.SMTP(hostname="127.0.0.1", port=stack.port, start_tls=False) for _ in range(3)
    ]
    for client in held:
        await client.connect()
    extra = aiosmtplib.SMTP(hostname="127.0.0.1", port=stack.port, start_tls=False)
    with pytest.raises(aiosmtplib.SMTPConnectResponseError) as info:
        await extra.connect()
    assert info.value.code == 421
    assert stack.listener.refused_busy == 1
    for client in held:
        await client.quit()
    await eventually(lambda: not stack.listener._active)
    await stack.send(customer_mail())
    assert list(stack.sink.cases) == ["C-10001"]


async def test_store_failure_answers_451_so_the_mta_retries(stack: Stack) -> None:
    stack.sink.fail_store = True
    with pytest.raises(aiosmtplib.SMTPResponseException) as info:
        await stack.send(customer_mail())
    assert info.value.code == 451
    stack.sink.fail_store = False
    await stack.send(customer_mail())
    assert list(stack.sink.cases) == ["C-10001"]


async def test_mail_bomb_is_stored_flagged_and_not_acknowledged(stack: Stack) -> None:
    stack.service = EmailChannelService(
        replace(stack.settings, flood=replace(stack.settings.flood, max_per_sender=5)),
        stack.sink,
        stack.mailer,
    )
    stack.listener.handler.service = stack.service
    for i in range(12):
        await stack.send(customer_mail(subject=f"spam {i}", body="buy now"))
    stored = [m for c in stack.sink.cases.values() for m in c.inbound]
    assert len(stored) == 12  # nothing dropped
    flagged = [m for m in stored if MailFlag.RATE_LIMITED in m.flags]
    assert len(flagged) == 7
    assert len(stack.sink.enqueued) == 5  # the bomb does not flood the queues
    async with asyncio.timeout(10):
        await stack.mailer.wait_idle()
    # Per-sender ack limit (3 per hour by default) caps the answers further.
    assert len(stack.relay.messages) == 3


@pytest.mark.parametrize(
    ("sender", "headers"),
    [
        ("MAILER-DAEMON@mx.customer.example.com", {}),
        ("alice@customer.example.com", {"Auto_Submitted": "auto-replied"}),
        ("alice@customer.example.com", {"Precedence": "bulk"}),
        ("alice@customer.example.com", {"List_Id": "<news.customer.example.com>"}),
    ],
)
async def test_no_acknowledgement_for_robots_and_lists(
    stack: Stack, sender: str, headers: dict[str, str]
) -> None:
    await stack.send(customer_mail(sender=sender, **headers))
    assert len(stack.sink.cases) == 1  # stored and routed anyway
    async with asyncio.timeout(10):
        await stack.mailer.wait_idle()
    assert stack.relay.messages == []


async def test_bounce_with_null_sender_is_stored_but_not_answered(stack: Stack) -> None:
    bounce = customer_mail(subject="Undelivered Mail Returned to Sender")
    await stack.send(bounce.as_bytes(), sender="")
    assert stack.sink.cases["C-10001"].inbound[0].envelope_from == "<>"
    async with asyncio.timeout(10):
        await stack.mailer.wait_idle()
    assert stack.relay.messages == []


async def test_html_only_mail_with_script_is_kept_and_text_is_inert(stack: Stack) -> None:
    msg = customer_mail()
    msg.set_content(
        "<html><head><script>alert('pwn')</script><style>p{}</style></head>"
        "<body><p>Hello &lt;b&gt;team&lt;/b&gt;</p><img src=x onerror=alert(1)></body></html>",
        subtype="html",
    )
    await stack.send(msg)
    stored = stack.sink.cases["C-10001"].inbound[0]
    assert stored.html is not None and "<script>" in stored.html  # original kept
    assert "alert" not in stored.text and "<img" not in stored.text
    assert stored.text == "Hello <b>team</b>"  # entities become literal text, never markup
    assert MailFlag.HTML_ONLY in stored.flags


async def test_relay_down_then_up_retries_and_reports(stack: Stack) -> None:
    stack.relay.refuse_with = "451 4.3.0 relay busy"
    await stack.send(customer_mail())
    case = stack.sink.cases["C-10001"].ref
    await eventually(
        lambda: any(s is DeliveryStatus.FAILED_RETRYING for _, s in stack.sink.status_log)
    )
    stack.relay.refuse_with = None
    [(_, _, ack)] = await stack.relayed(1)
    assert "C-10001" in ack["Subject"]
    ack_id = stack.sink.cases[case.case_number].outbound[0].id
    await eventually(lambda: stack.mailer.status(ack_id) is DeliveryStatus.SENT)
    statuses = [s for mid, s in stack.sink.status_log if mid == ack_id]
    assert statuses[0] is DeliveryStatus.QUEUED
    assert DeliveryStatus.FAILED_RETRYING in statuses
    assert statuses[-1] is DeliveryStatus.SENT


async def test_permanent_relay_refusal_is_failed_not_lost(stack: Stack) -> None:
    stack.relay.refuse_with = "554 5.7.1 rejected"
    await stack.send(customer_mail())
    ack_id = stack.sink.cases["C-10001"].outbound[0].id
    await eventually(lambda: stack.mailer.status(ack_id) is DeliveryStatus.FAILED)
    delivery = stack.mailer.queue.get(ack_id)
    assert delivery.attempts == 1
    assert delivery.last_error is not None and "554" in delivery.last_error
    # An operator can retry it once the relay is fixed.
    stack.relay.refuse_with = None
    await stack.mailer.retry_now(ack_id)
    await stack.relayed(1)


async def test_recipients_outside_accepted_domains_get_550(stack: Stack) -> None:
    strict = SmtpListener(
        stack.service,
        replace(stack.settings.listener, accept_domains=("example.com",), port=0),
    )
    port = await strict.start()
    try:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        try:
            await client.mail("alice@customer.example.com")
            with pytest.raises(aiosmtplib.SMTPRecipientRefused) as info:
                await client.rcpt("someone@elsewhere.example.org")
            assert info.value.code == 550
            await client.rcpt("Support@Example.com")  # domain match is case-insensitive
        finally:
            await client.quit()
    finally:
        await strict.aclose()


async def test_idle_sessions_are_dropped_after_the_session_timeout(stack: Stack) -> None:
    quick = SmtpListener(
        stack.service, replace(stack.settings.listener, port=0, session_timeout_seconds=0.3)
    )
    port = await quick.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert (await reader.readline()).startswith(b"220 ")
        async with asyncio.timeout(3):
            rest = await reader.read()  # returns at EOF: the server hung up on us
        assert rest == b"" or rest.startswith(b"421")
        writer.close()
        await writer.wait_closed()
    finally:
        await quick.aclose()
