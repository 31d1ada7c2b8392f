"""A reply the relay refuses for good is kept as failed, listed for supervisors with the
relay's answer, and sent again on a supervisor's retry; the answers match the OpenAPI
document. Agents see the status of their own replies on their console topic."""

from __future__ import annotations

import aiosmtplib
import pytest
import test_chat_harness as _h
from test_api_openapi import Conformance
from test_chat_harness import TextApp, mail, next_frame

from ccserver.app import SERVICES
from ccserver.web import openapi

text_app = _h.text_app
pytestmark = pytest.mark.asyncio(loop_scope="module")
OUTBOUND = "/api/v1/email/outbound"
RETRY = OUTBOUND + "/{id}/retry"


async def test_failed_reply_is_listed_and_retried(text_app: TextApp) -> None:
    conf = Conformance(openapi.document())
    api, _uid, sub = await text_app.ready_agent("alice")
    sup = await text_app.h.as_user("sup")
    msg = mail(
        "Wrong size", "The shoes are too small.", "Olga Outbound <olga@customer.example.com>"
    )
    port = text_app.channels.smtp_port
    assert port
    await aiosmtplib.send(msg, hostname="127.0.0.1", port=port, start_tls=False)
    offer = await next_frame(sub, "offer")
    iid = offer["interaction"]["id"]
    await text_app.relay.wait_for(lambda m: m["Auto-Submitted"] == "auto-replied")

    text_app.relay.refusing, text_app.relay.refusal = 1, "550 5.1.1 mailbox unavailable"
    r, body = await api.post(f"/api/v1/interactions/{iid}/accept")
    assert r.status == 200, body
    r, body = await api.post(f"/api/v1/interactions/{iid}/email-reply", json={"body": "Sorry!"})
    assert r.status == 202, body
    reply_id = body["message_id"]
    # The agent's console is told the reply failed, and why.
    failed = await next_frame(sub, "email_delivery", message_id=reply_id, status="failed")
    assert "550" in failed["error"]

    await text_app.h.app[SERVICES].require_outbox().flush()  # the record is written
    status, listing = await conf.call(sup, "GET", OUTBOUND, params={"state": "failed"})
    assert status == 200
    item = next(i for i in listing["items"] if i["message_id"] == reply_id)
    assert item["status"] == "failed" and "550" in item["last_error"]
    assert item["recipients"] == ["olga@customer.example.com"] and item["kind"] == "reply"

    text_app.relay.refusing = 0
    status, retried = await conf.call(sup, "POST", RETRY, f"{OUTBOUND}/{reply_id}/retry")
    assert status == 202 and retried["status"] == "queued" and retried["attempts"] == 0
    sent = await text_app.relay.wait_for(lambda m: m["Message-ID"] == f"<{reply_id}>")
    assert "Sorry!" in str(sent.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    await next_frame(sub, "email_delivery", message_id=reply_id, status="sent")
    # Only a failed message can be retried.
    status, body = await conf.call(sup, "POST", RETRY, f"{OUTBOUND}/{reply_id}/retry")
    assert status == 409, body
    await sub.aclose()
