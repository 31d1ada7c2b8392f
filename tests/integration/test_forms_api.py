"""Public forms over HTTP: a contact form becomes a routed WEB interaction with a case
number; hostile text stays text; bad input is a 422 per field; the honeypot creates
nothing; each form is rate-limited per IP."""

from __future__ import annotations

import pytest
import test_chat_harness as _h
from sqlalchemy import select
from test_api_harness import error_of
from test_chat_harness import TextApp, next_frame

from ccserver.app import SERVICES
from ccserver.crm.models import Contact, Message

text_app = _h.text_app
pytestmark = pytest.mark.asyncio(loop_scope="module")
HOSTILE = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"


async def test_contact_form_is_routed_with_a_case_number_and_stored(text_app: TextApp) -> None:
    api, _uid, sub = await text_app.ready_agent("alice")
    anon = text_app.h.anonymous()
    r, body = await anon.post(
        "/api/v1/forms/contact",
        json={"name": "Dana Form", "email": "dana@example.com", "subject": "Invoice",
              "message": HOSTILE},
    )  # fmt: skip
    assert r.status == 201, body
    assert body["case_number"].startswith("C-")
    offer = await next_frame(sub, "offer", interaction_id=body["interaction_id"])
    assert offer["interaction"]["channel"] == "web"
    assert offer["interaction"]["customer_id"]  # the customer was created from the form
    services = text_app.h.app[SERVICES]
    await services.require_outbox().flush()
    async with services.require_sessions()() as s:
        text = await s.scalar(
            select(Message.body_text)
            .join(Contact, Contact.id == Message.contact_id)
            .where(Contact.case_number == body["case_number"])
        )
    assert text == HOSTILE  # stored verbatim; every page renders it as text
    r, _ = await api.post(f"/api/v1/interactions/{body['interaction_id']}/reject")
    assert r.status == 200
    await sub.aclose()


async def test_plain_html_post_shows_the_case_number_escaped(text_app: TextApp) -> None:
    anon = text_app.h.anonymous()
    r, page = await anon.post(
        "/forms/complaint",
        data={"name": HOSTILE, "email": "erin@example.com", "description": HOSTILE},
    )
    assert r.status == 200 and r.content_type == "text/html"
    assert b"Your case number is C-" in page
    assert b"<script>alert" not in page and b"<img" not in page


async def test_invalid_fields_are_reported_and_the_honeypot_creates_nothing(
    text_app: TextApp,
) -> None:
    anon = text_app.h.anonymous()
    r, body = await anon.post(
        "/api/v1/forms/callback", json={"name": "", "phone": "call me maybe", "extra": 1}
    )
    assert r.status == 422
    fields = {f["field"] for f in error_of(body)["details"]["fields"]}
    assert {"name", "phone"} <= fields
    before = len(text_app.cc.interactions)
    r, body = await anon.post(
        "/api/v1/forms/callback",
        json={"name": "Bot", "phone": "+14155550123", "website": "http://spam.example"},
    )
    assert r.status == 202 and "case_number" not in body
    assert len(text_app.cc.interactions) == before
    assert text_app.channels.forms.honeypot_hits == 1


async def test_each_form_is_rate_limited_per_ip(text_app: TextApp) -> None:
    anon = text_app.h.anonymous()
    statuses = []
    for n in range(4):  # channels.toml of the tests: 3 per window
        r, body = await anon.post(
            "/api/v1/forms/contact",
            json={"name": "Flood", "email": "flood@example.com", "subject": f"#{n}",
                  "message": "again"},
        )  # fmt: skip
        statuses.append(r.status)
    # The first contact form of this module counts too: 2 more pass, then 429.
    assert statuses == [201, 201, 429, 429]
    assert error_of(body)["code"] == "rate_limited"


async def test_complaint_form_files_a_crm_complaint_and_refuses_unknown_categories(
    text_app: TextApp,
) -> None:
    from ccserver.crm.models import Complaint

    anon = text_app.h.anonymous()
    form = {
        "name": "Liam",
        "email": "liam@example.com",
        "order_ref": "ORD-9",
        "category": "product",
        "subcategory": "delivery",
        "description": "Late again.",
    }
    r, body = await anon.post("/api/v1/forms/complaint", json=form)
    assert r.status == 201, body
    i = text_app.cc.interactions[body["interaction_id"]]
    assert i.attributes["complaint_number"].startswith("CMP-")
    async with text_app.h.app[SERVICES].require_sessions()() as s:
        row = await s.get(Complaint, i.attributes["complaint_id"])
    assert row is not None and (row.category, row.subcategory, row.channel) == (
        "product", "delivery", "web"
    )  # fmt: skip
    before = len(text_app.cc.interactions)
    r, body = await anon.post("/api/v1/forms/complaint", json={**form, "subcategory": "weather"})
    assert r.status == 422, body
    assert len(text_app.cc.interactions) == before  # refused before any work was created
