"""Auto-acknowledgement policy: loops, bounces, lists, robots, rate limits (time passed in)."""

from __future__ import annotations

from dataclasses import replace
from email.message import EmailMessage

import pytest

from ccserver.channels.email.autoreply import (
    AutoAckPolicy,
    FloodGuard,
    SlidingWindowCounter,
    Suppression,
    loop_suppression,
)
from ccserver.channels.email.config import AutoAckSettings, FloodSettings
from ccserver.channels.email.parsing import MailFlag, ParsedEmail, parse_email

OUR_DOMAIN = "ccserver.local"
OUR_ADDRESS = "support@example.com"


def mail(
    sender: str = "alice@mail.example.com", envelope_from: str | None = None, **headers: str
) -> ParsedEmail:
    msg = EmailMessage()
    msg["From"] = sender
    msg["Subject"] = "help"
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content("x")
    return parse_email(msg.as_bytes(), envelope_from=envelope_from)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"envelope_from": "<>"}, Suppression.NULL_SENDER),
        ({"envelope_from": ""}, Suppression.NULL_SENDER),
        ({"Return_Path": "<>"}, Suppression.NULL_SENDER),
        ({"sender": "MAILER-DAEMON@mx.example.com"}, Suppression.SYSTEM_SENDER),
        ({"sender": "postmaster@example.net"}, Suppression.SYSTEM_SENDER),
        ({"sender": "no-reply@shop.example.com"}, Suppression.SYSTEM_SENDER),
        ({"sender": OUR_ADDRESS}, Suppression.OUR_OWN_MAIL),
        ({"Auto_Submitted": "auto-replied"}, Suppression.AUTO_SUBMITTED),
        (
            {"Auto_Submitted": "auto-generated; owner-email=x@example.com"},
            Suppression.AUTO_SUBMITTED,
        ),
        ({"X_Autoreply": "yes"}, Suppression.AUTO_SUBMITTED),
        ({"X_Auto_Response_Suppress": "OOF, AutoReply"}, Suppression.AUTO_RESPONSE_SUPPRESS),
        ({"Precedence": "bulk"}, Suppression.PRECEDENCE),
        ({"Precedence": "junk"}, Suppression.PRECEDENCE),
        ({"Precedence": "List"}, Suppression.PRECEDENCE),
        ({"List_Id": "<news.example.com>"}, Suppression.MAILING_LIST),
        ({"List_Unsubscribe": "<mailto:u@example.com>"}, Suppression.MAILING_LIST),
        ({"Message_ID": f"<0190abc@{OUR_DOMAIN}>"}, Suppression.OUR_OWN_MAIL),
        ({"X_Ccserver_Case": "C-1"}, Suppression.OUR_OWN_MAIL),
        ({"sender": "not an address"}, Suppression.NO_SENDER),
    ],
)
def test_loop_and_bounce_protection(kwargs: dict[str, str], reason: Suppression) -> None:
    assert loop_suppression(mail(**kwargs), OUR_DOMAIN, OUR_ADDRESS) is reason


@pytest.mark.parametrize("headers", [{}, {"Auto_Submitted": "no"}, {"Precedence": "normal"}])
def test_ordinary_customer_mail_is_acknowledged(headers: dict[str, str]) -> None:
    assert loop_suppression(mail(**headers), OUR_DOMAIN, OUR_ADDRESS) is None
    policy = AutoAckPolicy(AutoAckSettings(), OUR_DOMAIN, OUR_ADDRESS)
    assert policy.decide(mail(**headers), now=0.0).send


def test_per_sender_ack_rate_limit_over_a_sliding_window() -> None:
    policy = AutoAckPolicy(
        AutoAckSettings(max_per_sender=2, window_seconds=100), OUR_DOMAIN, OUR_ADDRESS
    )
    m = mail()
    assert [policy.decide(m, now=t).send for t in (0, 10, 20)] == [True, True, False]
    assert policy.decide(m, now=20).reason is Suppression.RATE_LIMITED
    assert policy.decide(mail("bob@mail.example.com"), now=20).send  # other senders unaffected
    assert policy.decide(m, now=100.5).send  # first ack left the window


def test_suppressed_mail_does_not_consume_the_ack_budget() -> None:
    policy = AutoAckPolicy(AutoAckSettings(max_per_sender=1), OUR_DOMAIN, OUR_ADDRESS)
    assert not policy.decide(mail(Precedence="bulk"), now=0).send
    assert policy.decide(mail(), now=1).send


def test_disabled_and_flooded() -> None:
    off = AutoAckPolicy(AutoAckSettings(enabled=False), OUR_DOMAIN, OUR_ADDRESS)
    assert off.decide(mail(), 0).reason is Suppression.DISABLED
    on = AutoAckPolicy(AutoAckSettings(), OUR_DOMAIN, OUR_ADDRESS)
    bombed = replace(mail(), flags=mail().flags | {MailFlag.RATE_LIMITED})
    assert on.decide(bombed, 0).reason is Suppression.FLOOD


def test_flood_guard_flags_after_threshold_and_recovers() -> None:
    guard = FloodGuard(FloodSettings(max_per_sender=3, window_seconds=60))
    flags = [guard.observe("Bomber@x.example.com", now=float(i)) for i in range(6)]
    assert flags == [False, False, False, True, True, True]
    assert not guard.observe("other@x.example.com", now=5)
    assert not guard.observe("bomber@x.example.com", now=200)  # window passed
    assert not guard.observe(None, now=0)


def test_sliding_window_memory_is_bounded() -> None:
    counter = SlidingWindowCounter(limit=1, window_seconds=10, max_keys=3)
    for i in range(10):
        counter.allow(f"s{i}", now=0)
    assert len(counter._hits) == 3
    # Bomb of 10k hits for one key keeps only limit+1 timestamps.
    for i in range(10_000):
        counter.hit("bomber", now=i * 0.0001)
    assert len(counter._hits["bomber"]) == 2
