"""IMAP mailbox poller (aioimaplib) for sites whose mail server cannot forward to us.

Each poll fetches UNSEEN messages with ``BODY.PEEK[]`` (which does not set \\Seen), hands
each to the same pipeline as SMTP, and sets \\Seen only after the mail is stored: a crash
or a database outage between fetch and store leaves the message unseen, so the next poll
takes it again. Nothing is deleted from the mailbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aioimaplib

from ccserver.channels.email.config import ImapSettings
from ccserver.channels.email.errors import EmailError

log = logging.getLogger(__name__)


class ImapError(EmailError):
    code = "email_imap_failed"
    http_status = 502


class ImapMailbox(Protocol):
    async def open(self) -> None: ...
    async def unseen(self) -> list[str]:
        """UIDs of unseen messages, oldest first."""
        ...

    async def fetch(self, uid: str) -> bytes: ...
    async def mark_seen(self, uid: str) -> None: ...
    async def close(self) -> None: ...


class InboundReceiver(Protocol):
    async def receive(
        self, raw: bytes, *, envelope_from: str | None = None, envelope_to: Sequence[str] = ()
    ) -> object: ...


_LITERAL = re.compile(rb"\{(\d+)\}$")


def _ok(response: Any, what: str) -> Any:
    if response.result != "OK":
        raise ImapError(f"IMAP {what} failed: {response.result} {response.lines!r}"[:500])
    return response


class AioImapMailbox:
    """:class:`ImapMailbox` over aioimaplib."""

    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        self._client: Any = None

    async def open(self) -> None:
        s = self.settings
        cls = aioimaplib.IMAP4_SSL if s.use_tls else aioimaplib.IMAP4
        client = cls(host=s.host, port=s.port, timeout=s.timeout_seconds)
        self._client = client
        try:
            await client.wait_hello_from_server()
            _ok(await client.login(s.username, s.password() or ""), "login")
            _ok(await client.select(s.mailbox), f"select {s.mailbox}")
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            await self.close()
            raise ImapError(f"IMAP connection to {s.host}:{s.port} failed: {exc!r}") from exc

    async def unseen(self) -> list[str]:
        response = _ok(await self._client.uid_search("UNSEEN", charset=None), "search")
        uids: list[str] = []
        for line in response.lines:
            text = bytes(line).decode("ascii", "replace").strip()
            if text and all(part.isdigit() for part in text.split()):
                uids.extend(text.split())
        return sorted(set(uids), key=int)

    async def fetch(self, uid: str) -> bytes:
        response = _ok(await self._client.uid("fetch", uid, "(BODY.PEEK[])"), f"fetch {uid}")
        lines = response.lines
        for i, line in enumerate(lines[:-1]):
            if isinstance(line, bytes | bytearray) and _LITERAL.search(bytes(line).rstrip()):
                return bytes(lines[i + 1])
        raise ImapError(f"IMAP fetch {uid}: no message body in the response")

    async def mark_seen(self, uid: str) -> None:
        _ok(await self._client.uid("store", uid, "+FLAGS", "(\\Seen)"), f"store {uid}")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.logout(), 2)
        # aioimaplib leaves its connection task behind when the server was never reached.
        task = getattr(client, "_client_task", None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        protocol = getattr(client, "protocol", None)
        transport = getattr(protocol, "transport", None)
        if transport is not None:
            transport.close()


@dataclass(frozen=True, slots=True)
class PollReport:
    seen: int  # unseen messages found
    stored: int
    failed: int  # left unseen, retried next poll


class ImapPoller:
    def __init__(
        self, mailbox: ImapMailbox, receiver: InboundReceiver, settings: ImapSettings
    ) -> None:
        self.mailbox = mailbox
        self.receiver = receiver
        self.settings = settings
        self._open = False
        self._task: asyncio.Task[None] | None = None
        self.errors = 0

    async def poll_once(self) -> PollReport:
        if not self._open:
            await self.mailbox.open()
            self._open = True
        try:
            uids = await self.mailbox.unseen()
            stored = failed = 0
            for uid in uids[: self.settings.batch_size]:
                raw = await self.mailbox.fetch(uid)
                try:
                    await self.receiver.receive(raw)
                except Exception:
                    failed += 1
                    log.exception("IMAP message %s not stored; left unseen for the next poll", uid)
                    continue
                await self.mailbox.mark_seen(uid)
                stored += 1
            return PollReport(len(uids), stored, failed)
        except Exception:
            # Connection state unknown: reconnect on the next poll.
            await self._reset()
            raise

    async def _reset(self) -> None:
        self._open = False
        with contextlib.suppress(Exception):
            await self.mailbox.close()

    async def _run(self) -> None:
        delay = self.settings.poll_interval_seconds
        while True:
            try:
                report = await self.poll_once()
                if report.seen > report.stored + report.failed:
                    delay = 0.0  # more than one batch waiting: go again at once
                else:
                    delay = self.settings.poll_interval_seconds
            except Exception as exc:
                self.errors += 1
                log.warning("IMAP poll failed (%s); retrying", exc)
                delay = min(self.settings.poll_interval_seconds, 5.0 * self.errors)
            await asyncio.sleep(delay)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="email-imap-poller")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._reset()
