"""Outbound mail through an SMTP relay (aiosmtplib) with a retry queue.

``OutboundMailer`` owns one background task (started by :meth:`start`, stopped by
:meth:`aclose`) that drains :class:`DeliveryQueue`. Every status change is reported to
``on_status`` so the console can show "sending failed, retrying at …" and nothing is lost
silently. Acknowledgements go out with a null envelope sender (RFC 3834 §3.3) so that a
bounce of an acknowledgement can never come back and start a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from email.message import EmailMessage
from email.utils import getaddresses
from types import TracebackType
from typing import Protocol

import aiosmtplib

from ccserver.channels.email.config import OutboundSettings
from ccserver.channels.email.delivery import Backoff, Delivery, DeliveryQueue, DeliveryStatus
from ccserver.channels.email.errors import RelayError

log = logging.getLogger(__name__)


class MailTransport(Protocol):
    async def send(self, sender: str, recipients: Sequence[str], data: bytes) -> str:
        """Hand one message to the next hop; returns the relay's reply text.
        Raises :class:`RelayError` (``permanent`` for 5xx)."""
        ...


class SmtpRelayTransport:
    """One SMTP session per message (relays drop idle connections; volume is modest)."""

    def __init__(self, settings: OutboundSettings) -> None:
        self.settings = settings

    async def send(self, sender: str, recipients: Sequence[str], data: bytes) -> str:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.relay_host,
            port=s.relay_port,
            use_tls=s.use_tls,
            start_tls=s.start_tls,
            timeout=s.timeout_seconds,
            username=s.username or None,
            password=s.password() if s.username else None,
        )
        try:
            # Not ``async with``: its exit sends QUIT and waits, which makes cancellation
            # (shutdown) hang on a slow relay. The finally clause closes synchronously.
            await client.connect()
            errors, reply = await client.sendmail(sender, list(recipients), data)
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            permanent = all(500 <= c < 600 for c in codes)
            raise RelayError(
                f"relay refused recipients: {exc}", permanent=permanent, smtp_code=codes[0]
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise RelayError(
                f"relay answered {exc.code} {exc.message}",
                permanent=500 <= exc.code < 600,
                smtp_code=exc.code,
            ) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise RelayError(f"relay unreachable: {exc!r}", permanent=False) from exc
        finally:
            if client.is_connected:
                client.close()
        if errors:
            # Some recipients refused, others accepted: delivered to those that accepted.
            log.warning("relay refused some recipients: %s", errors)
        return str(reply)


StatusListener = Callable[[Delivery], Awaitable[None]]


def envelope_recipients(msg: EmailMessage) -> tuple[str, ...]:
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in msg.get_all(name, [])]
    return tuple(dict.fromkeys(a for _, a in getaddresses(fields) if a))


class OutboundMailer:
    def __init__(
        self,
        settings: OutboundSettings,
        transport: MailTransport | None = None,
        *,
        clock: Callable[[], float] = time.time,
        on_status: StatusListener | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.transport: MailTransport = transport or SmtpRelayTransport(settings)
        self.queue = DeliveryQueue(
            Backoff(
                settings.backoff_initial_seconds,
                settings.backoff_factor,
                settings.backoff_max_seconds,
            ),
            settings.max_attempts,
        )
        self._clock = clock
        self.on_status = on_status
        self._jitter = jitter
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    # --- life cycle ----------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="email-outbound")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        self._wake.set()
        # Python 3.11's wait_for (used inside aiosmtplib) can swallow a cancellation that
        # races with a reply; cancel until the task has really stopped.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.1)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def __aenter__(self) -> OutboundMailer:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- API -----------------------------------------------------------------------------
    async def submit(
        self,
        msg: EmailMessage,
        message_id: str,
        *,
        case_number: str | None = None,
        kind: str = "reply",
    ) -> Delivery:
        """Queue a composed message; returns its delivery record (status ``queued``)."""
        recipients = envelope_recipients(msg)
        if "Bcc" in msg:
            del msg["Bcc"]
        sender = "" if kind == "ack" else self._envelope_sender(msg)
        delivery = Delivery(
            id=message_id,
            sender=sender,
            recipients=recipients,
            data=msg.as_bytes(),
            case_number=case_number,
            kind=kind,
        )
        self.queue.add(delivery, self._clock())
        await self._notify(delivery)
        self._idle.clear()
        self._wake.set()
        return delivery

    def status(self, message_id: str) -> DeliveryStatus:
        return self.queue.get(message_id).status

    async def restore(self, delivery: Delivery) -> None:
        """Take back a delivery that was still pending when the process stopped (the sink
        keeps every record via ``record_outbound``/``delivery_changed``): nothing is lost
        across a restart. Sent and failed records are ignored."""
        if delivery.status not in (DeliveryStatus.QUEUED, DeliveryStatus.FAILED_RETRYING):
            return
        self.queue.add(delivery, self._clock())
        self._idle.clear()
        self._wake.set()

    async def retry_now(self, message_id: str, known: Delivery | None = None) -> Delivery:
        """An operator sends a failed message again. ``known``: the message as recorded by
        an earlier run, when this process has not seen it."""
        if known is not None and known.id not in {d.id for d in self.queue.all()}:
            self.queue.add(known, self._clock())
        d = self.queue.requeue(message_id, self._clock())
        await self._notify(d)
        self._idle.clear()
        self._wake.set()
        return d

    async def wait_idle(self) -> None:
        """Until nothing is due right now (messages waiting for a later retry do not count).
        Callers bound it with ``asyncio.timeout``."""
        await self._idle.wait()

    # --- worker --------------------------------------------------------------------------
    @staticmethod
    def _envelope_sender(msg: EmailMessage) -> str:
        pairs = getaddresses([str(v) for v in msg.get_all("From", [])])
        return pairs[0][1] if pairs else ""

    async def _notify(self, delivery: Delivery) -> None:
        if self.on_status is not None:
            try:
                await self.on_status(delivery)
            except Exception:  # a broken listener must not stop deliveries
                log.exception("email delivery status listener failed")

    async def _attempt(self, d: Delivery) -> None:
        try:
            reply = await self.transport.send(d.sender, d.recipients, d.data)
        except RelayError as exc:
            self.queue.failed(
                d, self._clock(), exc.message, permanent=exc.permanent, jitter=self._jitter()
            )
            log.warning("email %s: %s (%s)", d.id, exc.message, d.status.value)
        except Exception as exc:  # unexpected: treat as temporary, never lose the message
            self.queue.failed(d, self._clock(), repr(exc), permanent=False, jitter=self._jitter())
            log.exception("email %s: unexpected send failure", d.id)
        else:
            self.queue.succeeded(d, self._clock(), reply)
        await self._notify(d)

    async def _run(self) -> None:
        while not self._closing:
            due = self.queue.pop_due(self._clock())
            step = max(1, self.settings.max_parallel)
            # A few sessions at once: one slow relay answer must not hold up every reply.
            for i in range(0, len(due), step):
                await asyncio.gather(*(self._attempt(d) for d in due[i : i + step]))
            next_due = self.queue.next_due()
            now = self._clock()
            if next_due is not None and next_due <= now:
                continue
            self._idle.set()
            self._wake.clear()
            timeout = None if next_due is None else max(0.0, next_due - now)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
