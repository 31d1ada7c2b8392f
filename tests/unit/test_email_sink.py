"""The EmailSink contract, written once and run over every implementation (DESIGN.md: one
suite per interface). Add the CRM-backed sink to ``SINKS`` when it exists."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

import pytest

from ccserver.channels.email.delivery import Delivery, DeliveryStatus
from ccserver.channels.email.memory_sink import InMemoryEmailSink
from ccserver.channels.email.parsing import ParsedEmail, parse_email
from ccserver.channels.email.service import EmailSink

SINKS: dict[str, Callable[[], EmailSink]] = {"memory": InMemoryEmailSink}


@pytest.fixture(params=sorted(SINKS))
def sink(request: pytest.FixtureRequest) -> EmailSink:
    return SINKS[request.param]()


def mail(message_id: str, sender: str = "alice@mail.example.com") -> ParsedEmail:
    msg = EmailMessage()
    msg["From"] = sender
    msg["Subject"] = "s"
    msg["Message-ID"] = f"<{message_id}>"
    msg.set_content("x")
    return parse_email(msg.as_bytes())


async def test_new_mail_creates_a_case_findable_by_message_id_and_number(sink: EmailSink) -> None:
    case = await sink.store_inbound(mail("m1@x"), None)
    assert case.case_number and case.customer_address == "alice@mail.example.com"
    by_id, by_number = await sink.find_cases(["m1@x", "nope@x"], [case.case_number, "C-0"])
    assert by_id == {"m1@x": case}
    assert by_number == {case.case_number: case}


async def test_mail_on_an_existing_case_stays_on_it(sink: EmailSink) -> None:
    case = await sink.store_inbound(mail("m1@x"), None)
    again = await sink.store_inbound(mail("m2@x"), case)
    assert again.case_number == case.case_number
    other = await sink.store_inbound(mail("m3@x", "bob@mail.example.com"), None)
    assert other.case_number != case.case_number
    by_id, _ = await sink.find_cases(["m2@x", "m3@x"], [])
    assert by_id["m2@x"].case_number == case.case_number
    assert by_id["m3@x"].case_number == other.case_number


async def test_outbound_threads_replies_and_sets_preferred_agent(sink: EmailSink) -> None:
    case = await sink.store_inbound(mail("m1@x"), None)
    delivery = Delivery(
        id="out-1@ccs", sender="s@example.com", recipients=("a@x.example.com",), data=b""
    )
    await sink.record_outbound(case, delivery, "agent-9")
    await sink.delivery_changed(delivery)
    delivery.status = DeliveryStatus.SENT
    await sink.delivery_changed(delivery)
    by_id, _ = await sink.find_cases(["out-1@ccs"], [])
    assert by_id["out-1@ccs"].case_number == case.case_number
    assert by_id["out-1@ccs"].last_agent_id == "agent-9"
    await sink.enqueue(by_id["out-1@ccs"], mail("m9@x"), "agent-9")
