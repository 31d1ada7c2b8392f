"""Outbound delivery bookkeeping: status table, back-off, due ordering; and the mailer loop
against a scripted transport (the real relay is exercised in the integration tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from email.message import EmailMessage

import pytest

from ccserver.channels.email.config import OutboundSettings
from ccserver.channels.email.delivery import (
    DELIVERY_TRANSITIONS,
    Backoff,
    Delivery,
    DeliveryEvent,
    DeliveryQueue,
    DeliveryStatus,
    next_delivery_status,
)
from ccserver.channels.email.errors import RelayError, UnknownDelivery
from ccserver.channels.email.outbound import OutboundMailer, envelope_recipients
from ccserver.errors import IllegalTransition


def test_every_pair_outside_the_table_is_illegal() -> None:
    for status in DeliveryStatus:
        for event in DeliveryEvent:
            if (status, event) in DELIVERY_TRANSITIONS:
                assert next_delivery_status(status, event) is DELIVERY_TRANSITIONS[(status, event)]
            else:
                with pytest.raises(IllegalTransition) as info:
                    next_delivery_status(status, event)
                assert info.value.details == {
                    "machine": "email_delivery",
                    "state": status.value,
                    "event": event.value,
                }


def test_sent_is_final() -> None:
    assert not [e for (s, e) in DELIVERY_TRANSITIONS if s is DeliveryStatus.SENT]


def test_backoff_is_exponential_capped_and_jittered() -> None:
    b = Backoff(initial=5, factor=2, maximum=60)
    assert [b.delay(n) for n in (1, 2, 3, 4, 5, 6)] == [5, 10, 20, 40, 60, 60]
    assert b.delay(1, jitter=0.5) == pytest.approx(5.625)


def _d(i: str) -> Delivery:
    return Delivery(id=i, sender="s@x.example.com", recipients=("r@y.example.com",), data=b"x")


def test_queue_retries_with_backoff_until_give_up_and_keeps_the_message() -> None:
    q = DeliveryQueue(Backoff(initial=10, factor=2, maximum=100), max_attempts=3)
    d = _d("m1")
    q.add(d, now=0)
    assert q.pop_due(0) == [d]
    q.failed(d, now=0, error="421 busy", permanent=False)
    assert d.status is DeliveryStatus.FAILED_RETRYING and d.next_attempt_at == 10
    assert q.pop_due(9.9) == []
    assert q.next_due() == 10
    [again] = q.pop_due(10)
    q.failed(again, now=10, error="421 busy", permanent=False)
    assert d.next_attempt_at == 30
    q.pop_due(30)
    q.failed(d, now=30, error="timeout", permanent=False)
    assert q.get("m1").status is DeliveryStatus.FAILED and d.attempts == 3
    assert q.next_due() is None
    assert q.get("m1") is d and "gave up after 3" in d.history[-1][2]  # still there, visible
    assert q.counts()["failed"] == 1


def test_permanent_failure_is_immediate_and_requeue_works() -> None:
    q = DeliveryQueue(Backoff(), max_attempts=5)
    d = _d("m2")
    q.add(d, now=0)
    q.pop_due(0)
    q.failed(d, now=1, error="550 no such user", permanent=True)
    assert d.status is DeliveryStatus.FAILED and d.attempts == 1
    q.requeue("m2", now=5)
    assert q.get("m2").status is DeliveryStatus.QUEUED and q.pop_due(5) == [d]
    q.succeeded(d, now=6)
    assert q.get("m2").status is DeliveryStatus.SENT
    assert [h[1] for h in d.history] == ["queued", "failed", "queued", "sent"]
    with pytest.raises(IllegalTransition):
        q.requeue("m2", now=7)
    assert q.forget_sent() == 1
    with pytest.raises(UnknownDelivery):
        q.get("m2")


def test_due_order_is_by_time() -> None:
    q = DeliveryQueue(Backoff(initial=1), max_attempts=5)
    a, b = _d("a"), _d("b")
    q.add(a, now=5)
    q.add(b, now=1)
    assert [d.id for d in q.pop_due(10)] == ["b", "a"]


def test_envelope_recipients_include_cc_and_bcc() -> None:
    msg = EmailMessage()
    msg["To"] = "A <a@x.example.com>, b@x.example.com"
    msg["Cc"] = "c@x.example.com"
    msg["Bcc"] = "d@x.example.com, a@x.example.com"
    assert envelope_recipients(msg) == (
        "a@x.example.com",
        "b@x.example.com",
        "c@x.example.com",
        "d@x.example.com",
    )


class ScriptedTransport:
    def __init__(self, outcomes: list[RelayError | None]) -> None:
        self.outcomes = outcomes
        self.sent: list[tuple[str, tuple[str, ...], bytes]] = []

    async def send(self, sender: str, recipients: Sequence[str], data: bytes) -> str:
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.sent.append((sender, tuple(recipients), data))
        return "250 ok"


async def test_mailer_retries_then_sends_and_strips_bcc() -> None:
    transport = ScriptedTransport([RelayError("down", permanent=False)] * 2)
    seen: list[DeliveryStatus] = []

    async def on_status(d: Delivery) -> None:
        seen.append(d.status)

    settings = OutboundSettings(backoff_initial_seconds=0.01, backoff_max_seconds=0.02)
    async with OutboundMailer(settings, transport, on_status=on_status, jitter=lambda: 0.0) as m:
        msg = EmailMessage()
        msg["From"] = "Support <support@example.com>"
        msg["To"] = "a@x.example.com"
        msg["Bcc"] = "audit@example.com"
        msg.set_content("hi")
        d = await m.submit(msg, "id-1@ccs")
        async with asyncio.timeout(10):
            while m.status("id-1@ccs") is not DeliveryStatus.SENT:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
    assert seen == [
        DeliveryStatus.QUEUED,
        DeliveryStatus.FAILED_RETRYING,
        DeliveryStatus.FAILED_RETRYING,
        DeliveryStatus.SENT,
    ]
    [(sender, rcpts, data)] = transport.sent
    assert sender == "support@example.com"
    assert rcpts == ("a@x.example.com", "audit@example.com")
    assert b"Bcc" not in data and b"audit@" not in data
    assert d.attempts == 3


async def test_ack_uses_null_envelope_sender_and_listener_errors_do_not_stop_sending() -> None:
    transport = ScriptedTransport([])

    async def broken(d: Delivery) -> None:
        raise RuntimeError("listener bug")

    async with OutboundMailer(OutboundSettings(), transport, on_status=broken) as m:
        msg = EmailMessage()
        msg["From"] = "support@example.com"
        msg["To"] = "a@x.example.com"
        msg.set_content("ack")
        await m.submit(msg, "ack-1@ccs", kind="ack")
        async with asyncio.timeout(10):
            await m.wait_idle()
    assert transport.sent[0][0] == ""


async def test_pending_deliveries_are_restored_after_a_restart() -> None:
    transport = ScriptedTransport([])
    pending = Delivery(
        id="old-1@ccs",
        sender="s@example.com",
        recipients=("a@x.example.com",),
        data=b"x",
        status=DeliveryStatus.FAILED_RETRYING,
        attempts=2,
    )
    done = Delivery(
        id="old-2@ccs",
        sender="s@example.com",
        recipients=("a@x.example.com",),
        data=b"y",
        status=DeliveryStatus.SENT,
    )
    async with OutboundMailer(OutboundSettings(), transport) as m:
        await m.restore(pending)
        await m.restore(done)
        async with asyncio.timeout(10):
            await m.wait_idle()
        assert m.status("old-1@ccs") is DeliveryStatus.SENT
        with pytest.raises(UnknownDelivery):
            m.status("old-2@ccs")
    assert [t[2] for t in transport.sent] == [b"x"]


async def test_mailer_sends_several_messages_at_once() -> None:
    class SlowRelay:
        def __init__(self) -> None:
            self.in_flight = 0
            self.peak = 0

        async def send(self, sender: str, recipients: Sequence[str], data: bytes) -> str:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            await asyncio.sleep(0.05)
            self.in_flight -= 1
            return "250"

    relay = SlowRelay()
    async with OutboundMailer(OutboundSettings(max_parallel=3), relay) as m:
        for i in range(7):
            msg = EmailMessage()
            msg["From"] = "support@example.com"
            msg["To"] = f"c{i}@x.example.com"
            msg.set_content("x")
            await m.submit(msg, f"p{i}@ccs")
        async with asyncio.timeout(10):
            await m.wait_idle()
        assert all(m.status(f"p{i}@ccs") is DeliveryStatus.SENT for i in range(7))
    assert relay.peak == 3
