"""Inbound SMTP listener (aiosmtpd) running on the application's event loop.

The company's MTA forwards support mail here. We answer ``250`` only after the mail is
stored, ``451`` (the MTA retries later) when storing fails, and ``552`` with the limit
spelled out when a message is too big.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP, Envelope, Session

from ccserver.channels.email.config import ListenerSettings
from ccserver.channels.email.service import EmailChannelService

log = logging.getLogger(__name__)


class _Handler:
    def __init__(self, service: EmailChannelService, settings: ListenerSettings) -> None:
        self.service = service
        self.settings = settings
        self.received = 0
        self.failed = 0

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        if self.settings.accept_domains and domain not in self.settings.accept_domains:
            return f"550 5.1.1 <{address}>: recipient not handled here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            result = await self.service.receive(
                raw, envelope_from=envelope.mail_from, envelope_to=tuple(envelope.rcpt_tos)
            )
        except Exception:
            self.failed += 1
            log.exception("inbound mail could not be stored; asking the sender to retry")
            return "451 4.3.0 Temporary failure storing the message, please retry later"
        self.received += 1
        return f"250 2.0.0 OK: stored as case {result.case.case_number}"


class _Smtp(SMTP):
    """aiosmtpd's server with a size refusal that tells the sender what the limit is."""

    def __init__(
        self, *args: Any, limit_text: str, on_lost: Callable[[_Smtp], None], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._limit_text = limit_text
        self._on_lost = on_lost

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost(self)
        super().connection_lost(exc)

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str) and status.startswith("552 "):
            text = f"552 5.3.4 Message too big for this system: the limit is {self._limit_text}"
            await super().push(text)
            return
        await super().push(status)


class _Busy(asyncio.Protocol):
    """Answers 421 and hangs up: too many sessions open (RFC 5321 §4.2.3 transient)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(b"421 4.7.0 Too many connections, try again later\r\n")
        transport.close()


class SmtpListener:
    def __init__(self, service: EmailChannelService, settings: ListenerSettings) -> None:
        self.settings = settings
        self.handler = _Handler(service, settings)
        self._server: asyncio.Server | None = None
        # Weak: finished sessions disappear on their own; open ones are closed by aclose().
        self._sessions: weakref.WeakSet[_Smtp] = weakref.WeakSet()
        self._active: set[_Smtp] = set()  # connected sessions (bounded by max_connections)
        self.refused_busy = 0
        self.port: int | None = None

    def _factory(self) -> asyncio.Protocol:
        if len(self._active) >= self.settings.max_connections:
            self.refused_busy += 1
            return _Busy()
        limit = self.settings.max_message_bytes
        proto = _Smtp(
            self.handler,
            data_size_limit=limit,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=self.settings.hostname,
            ident="ccserver ESMTP",
            timeout=self.settings.session_timeout_seconds,
            loop=asyncio.get_running_loop(),
            limit_text=f"{limit} bytes ({limit / (1024 * 1024):.1f} MiB)",
            on_lost=self._active.discard,
        )
        self._sessions.add(proto)
        self._active.add(proto)
        return proto

    async def start(self) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._factory, host=self.settings.host, port=self.settings.port
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("email SMTP listener on %s:%s", self.settings.host, self.port)
        return self.port

    async def aclose(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for proto in list(self._sessions):
            if proto.transport is not None:
                proto.transport.close()
            task = getattr(proto, "_handler_coroutine", None)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._sessions.clear()
        await server.wait_closed()

    async def __aenter__(self) -> SmtpListener:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
