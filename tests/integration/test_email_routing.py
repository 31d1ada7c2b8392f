"""Email into routing with real protocols: a mail sent over SMTP to ccserver's listener
becomes an offer on the agent's bus topic; the agent's reply leaves through the relay (a
test aiosmtpd sink) with threading headers; the customer's answer joins the case and is
offered to the same agent; every mail is a messages row of the case's contacts."""

from __future__ import annotations

import aiosmtplib
import pytest
import test_chat_harness as _h
from sqlalchemy import select
from test_chat_harness import TextApp, mail, next_frame

from ccserver.app import SERVICES
from ccserver.crm.models import Contact, Message

text_app = _h.text_app
pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_mail_is_offered_replied_with_threading_and_the_answer_returns(
    text_app: TextApp,
) -> None:
    api, _uid, sub = await text_app.ready_agent("alice")
    port = text_app.channels.smtp_port
    assert port
    first = mail("Parcel never arrived", "Order 4711 is missing.")
    await aiosmtplib.send(first, hostname="127.0.0.1", port=port, start_tls=False)

    offer = await next_frame(sub, "offer")
    iid = offer["interaction"]["id"]
    assert offer["interaction"]["channel"] == "email"
    case_number = text_app.cc.get(iid).attributes["case_number"]
    ack = await text_app.relay.wait_for(lambda m: m["Auto-Submitted"] == "auto-replied")
    assert f"[#{case_number}]" in ack["Subject"]

    r, body = await api.post(f"/api/v1/interactions/{iid}/accept")
    assert r.status == 200, body
    r, body = await api.post(
        f"/api/v1/interactions/{iid}/email-reply",
        json={"template": "thanks", "body": "We are on it."},
    )
    assert r.status == 202, body
    reply_id = body["message_id"]
    reply = await text_app.relay.wait_for(lambda m: m["Message-ID"] == f"<{reply_id}>")
    assert reply["To"] == "carol@customer.example.com"
    assert reply["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in reply["References"]
    assert reply["Subject"] == f"Re: Parcel never arrived [#{case_number}]"
    plain = reply.get_body(("plain",))
    assert plain is not None and "We are on it." in plain.get_content()
    assert f"Dear Carol Mailer, thank you (case {case_number})." in plain.get_content()

    # Someone else cannot reply on alice's email.
    sup = await text_app.h.as_user("sup")
    r, _ = await sup.post(f"/api/v1/interactions/{iid}/email-reply", json={"body": "x"})
    assert r.status == 409

    answer = mail(
        "Re: Parcel never arrived",
        "Thanks, still waiting.",
        In_Reply_To=f"<{reply_id}>",
        References=f"{first['Message-ID']} <{reply_id}>",
    )
    await aiosmtplib.send(answer, hostname="127.0.0.1", port=port, start_tls=False)
    again = await next_frame(sub, "offer")
    follow_up = text_app.cc.get(again["interaction"]["id"])
    assert follow_up.attributes["case_number"] == case_number  # same case, same agent
    assert follow_up.attributes["related_contact_id"]

    services = text_app.h.app[SERVICES]
    await services.require_outbox().flush()
    async with services.require_sessions()() as s:
        rows = (
            await s.execute(
                select(Message.direction, Message.body_text, Message.headers)
                .join(Contact, Contact.id == Message.contact_id)
                .where(Contact.case_number == case_number)
            )
        ).all()
    # Each mail is also kept byte for byte (attachments included), named on its row.
    raws = [
        (services.settings.server.data_dir / "mail" / h["raw_ref"]).read_bytes()
        for d, _, h in rows
        if d == "inbound"
    ]
    assert any(first["Message-ID"].encode() in raw for raw in raws)
    inbound = sorted((t or "").strip() for d, t, _ in rows if d == "inbound")
    assert inbound == ["Order 4711 is missing.", "Thanks, still waiting."]
    assert any(d == "outbound" and "We are on it." in (t or "") for d, t, _ in rows)  # the reply
    assert sum(d == "outbound" for d, _, _ in rows) >= 2  # the reply and the acknowledgement
    await sub.aclose()
