"""IMAP poller against a small fake IMAP4rev1 server speaking the real wire format (the
subset a poller uses: CAPABILITY, LOGIN, SELECT, UID SEARCH/FETCH/STORE, LOGOUT), driven
through the real aioimaplib client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage

import pytest

from ccserver.channels.email.config import EmailSettings, ImapSettings
from ccserver.channels.email.imap_poller import AioImapMailbox, ImapError, ImapPoller
from ccserver.channels.email.memory_sink import InMemoryEmailSink
from ccserver.channels.email.service import EmailChannelService


@dataclass
class FakeImapServer:
    user: str = "support"
    password: str = "s3cret"
    messages: dict[int, tuple[bytes, set[str]]] = field(default_factory=dict)  # uid -> (raw, flags)
    commands: list[str] = field(default_factory=list)

    def add(self, raw: bytes, *flags: str) -> int:
        uid = max(self.messages, default=0) + 1
        self.messages[uid] = (raw, set(flags))
        return uid

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1 UIDPLUS] fake IMAP ready\r\n")
        try:
            while line := await reader.readline():
                tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
                self.commands.append(rest)
                if self.reply(tag, rest.split(" "), writer):
                    break
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def reply(self, tag: str, words: list[str], w: asyncio.StreamWriter) -> bool:
        cmd = words[0].upper()
        uids = sorted(self.messages)
        if cmd == "CAPABILITY":
            w.write(b"* CAPABILITY IMAP4rev1 UIDPLUS\r\n" + f"{tag} OK done\r\n".encode())
        elif cmd == "LOGIN":
            ok = [a.strip('"') for a in words[1:3]] == [self.user, self.password]
            w.write(f"{tag} {'OK' if ok else 'NO [AUTHENTICATIONFAILED]'} LOGIN\r\n".encode())
        elif cmd == "SELECT":
            w.write(
                f"* {len(uids)} EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen)\r\n"
                f"* OK [UIDVALIDITY 7] ok\r\n{tag} OK [READ-WRITE] SELECT completed\r\n".encode()
            )
        elif cmd == "UID" and words[1].upper() == "SEARCH":
            found = " ".join(str(u) for u in uids if "\\Seen" not in self.messages[u][1])
            w.write(f"* SEARCH {found}\r\n{tag} OK SEARCH completed\r\n".encode())
        elif cmd == "UID" and words[1].upper() == "FETCH":
            uid = int(words[2])
            raw, _ = self.messages[uid]
            seq = uids.index(uid) + 1
            w.write(f"* {seq} FETCH (UID {uid} BODY[] {{{len(raw)}}}\r\n".encode() + raw + b")\r\n")
            w.write(f"{tag} OK FETCH completed\r\n".encode())
        elif cmd == "UID" and words[1].upper() == "STORE":
            uid = int(words[2])
            self.messages[uid][1].add("\\Seen")
            seq = uids.index(uid) + 1
            w.write(f"* {seq} FETCH (UID {uid} FLAGS (\\Seen))\r\n{tag} OK STORE\r\n".encode())
        elif cmd == "LOGOUT":
            w.write(f"* BYE\r\n{tag} OK LOGOUT\r\n".encode())
            return True
        else:
            w.write(f"{tag} BAD unknown\r\n".encode())
        return False


@pytest.fixture
async def imap() -> AsyncIterator[tuple[FakeImapServer, int]]:
    fake = FakeImapServer()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    try:
        yield fake, int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def mail(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"customer{n}@shop.example.com"
    msg["To"] = "support@example.com"
    msg["Subject"] = f"question {n}"
    msg["Message-ID"] = f"<q{n}@shop.example.com>"
    msg.set_content(f"body {n}\n")
    return msg.as_bytes()


def settings(port: int, password_env: str) -> ImapSettings:
    return ImapSettings(
        enabled=True,
        host="127.0.0.1",
        port=port,
        use_tls=False,
        username="support",
        password_env=password_env,
        timeout_seconds=5,
        batch_size=10,
    )


@dataclass
class FlakyReceiver:
    """Wraps the real service; fails the first ``fail`` calls (database outage)."""

    service: EmailChannelService
    fail: int = 0

    async def receive(
        self, raw: bytes, *, envelope_from: str | None = None, envelope_to: Sequence[str] = ()
    ) -> object:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("database unavailable")
        return await self.service.receive(raw)


async def test_poll_stores_unseen_and_marks_seen_only_after_store(
    imap: tuple[FakeImapServer, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, port = imap
    monkeypatch.setenv("CCS_TEST_IMAP_PW", "s3cret")
    fake.add(mail(1), "\\Seen")  # already handled by a human: not ours to take
    fake.add(mail(2))
    fake.add(mail(3))
    sink = InMemoryEmailSink()
    receiver = FlakyReceiver(EmailChannelService(EmailSettings(), sink), fail=1)
    poller = ImapPoller(
        AioImapMailbox(settings(port, "CCS_TEST_IMAP_PW")),
        receiver,
        settings(port, "CCS_TEST_IMAP_PW"),
    )
    try:
        first = await poller.poll_once()
        assert (first.seen, first.stored, first.failed) == (2, 1, 1)
        # uid 2 failed to store: still unseen on the server; uid 3 stored and seen.
        assert "\\Seen" not in fake.messages[2][1]
        assert "\\Seen" in fake.messages[3][1]
        assert all("BODY.PEEK[]" in c for c in fake.commands if "FETCH" in c.upper())

        second = await poller.poll_once()
        assert (second.seen, second.stored, second.failed) == (1, 1, 0)
        assert "\\Seen" in fake.messages[2][1]
        subjects = sorted(m.subject for c in sink.cases.values() for m in c.inbound)
        assert subjects == ["question 2", "question 3"]
    finally:
        await poller.aclose()


async def test_wrong_password_is_a_clear_error(
    imap: tuple[FakeImapServer, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, port = imap
    monkeypatch.setenv("CCS_TEST_IMAP_PW", "wrong")
    poller = ImapPoller(
        AioImapMailbox(settings(port, "CCS_TEST_IMAP_PW")),
        EmailChannelService(EmailSettings(), InMemoryEmailSink()),
        settings(port, "CCS_TEST_IMAP_PW"),
    )
    with pytest.raises(ImapError, match="login"):
        await poller.poll_once()
    await poller.aclose()


async def test_unreachable_server_is_an_imap_error(unused_port: int) -> None:
    mailbox = AioImapMailbox(settings(unused_port, "CCS_TEST_IMAP_UNSET"))
    with pytest.raises(ImapError, match="failed"):
        await mailbox.open()
    await mailbox.close()


async def test_background_poller_picks_up_new_mail_and_stops_cleanly(
    imap: tuple[FakeImapServer, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, port = imap
    monkeypatch.setenv("CCS_TEST_IMAP_PW", "s3cret")
    cfg = replace(settings(port, "CCS_TEST_IMAP_PW"), poll_interval_seconds=0.05)
    sink = InMemoryEmailSink()
    poller = ImapPoller(AioImapMailbox(cfg), EmailChannelService(EmailSettings(), sink), cfg)
    await poller.start()
    try:
        fake.add(mail(7))
        async with asyncio.timeout(10):
            while not sink.cases:  # noqa: ASYNC110 - polling a fake server's effect
                await asyncio.sleep(0.02)
        assert "\\Seen" in fake.messages[1][1]
    finally:
        await poller.aclose()
    assert poller.errors == 0
