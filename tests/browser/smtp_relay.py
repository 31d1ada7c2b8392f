"""A test SMTP relay (aiosmtpd) on its own thread and event loop, for the synchronous
browser tests: the live server's replies arrive here and are read with :meth:`wait_for`."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, Envelope, Session


class ThreadedRelay:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refusal: str | None = None  # e.g. "550 5.1.1 mailbox unavailable"
        self._lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="smtp-relay")
        self._server: asyncio.Server | None = None
        self.port = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refusal is not None:
            return self.refusal
        msg = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(msg, EmailMessage)
        with self._lock:
            self.messages.append(msg)
        return "250 OK"

    async def _serve(self) -> int:
        self._server = await self.loop.create_server(
            lambda: SMTP(self, hostname="relay.test", loop=self.loop), "127.0.0.1", 0
        )
        return int(self._server.sockets[0].getsockname()[1])

    def start(self) -> None:
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(10)

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def wait_for(
        self, predicate: Callable[[EmailMessage], bool], seconds: float = 20.0
    ) -> EmailMessage:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                found = [m for m in self.messages if predicate(m)]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError("no such message reached the relay")
