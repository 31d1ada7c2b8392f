"""PII masked by role through HTTP (DESIGN.md §10, crm.toml [pii]): card and ID numbers in
customer notes, contact notes/attributes, message bodies and complaint texts reach an
agent as the last 4, a supervisor as the first 6 (cards) / 2 (IDs) and last 4, an admin
in full; the store keeps the full values."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import test_api_harness as _harness
from test_api_harness import Harness

from ccserver.app import SERVICES
from ccserver.crm.contacts import ContactService
from ccserver.crm.rules.pii import DEFAULT_POLICY
from ccserver.web.pii_view import luhn_ok, mask_text

pytestmark = pytest.mark.asyncio(loop_scope="module")
harness = _harness.harness

CARD = "4111 1111 1111 1111"  # a Luhn-valid test card number
NOT_A_CARD = "4111 1111 1111 1112"  # same length, fails Luhn: an order number, say
PASSPORT = "X1234567"
SEEN = {
    "alice": ("**** **** **** 1111", "****4567"),
    "sup": ("4111 11** **** 1111", "X1**4567"),
    "root": (CARD, PASSPORT),
}


def _note() -> str:
    return f"Paid with {CARD}; passport: {PASSPORT}; ref {NOT_A_CARD}"


def _expect(text: str, user: str) -> None:
    card, passport = SEEN[user]
    assert text == f"Paid with {card}; passport: {passport}; ref {NOT_A_CARD}", (user, text)


async def _customer(harness: Harness) -> dict[str, Any]:
    agent = await harness.as_user("alice")
    r, body = await agent.post(
        "/api/v1/customers", json={"display_name": "Pia Privacy", "notes": _note()}
    )
    assert r.status == 201, body
    return dict(body)


async def test_customer_notes_masked_by_role(harness: Harness) -> None:
    made = await _customer(harness)
    _expect(made["notes"], "alice")  # even the answer to the agent's own create
    for user in SEEN:
        caller = await harness.as_user(user)
        r, body = await caller.get(f"/api/v1/customers/{made['id']}")
        assert r.status == 200
        _expect(body["notes"], user)
        r, page = await caller.get("/api/v1/customers", params={"q": "Pia Privacy"})
        assert [c["id"] for c in page["items"]] == [made["id"]]
        _expect(page["items"][0]["notes"], user)
    # The store keeps the full value: the admin's data-subject export shows it.
    root = await harness.as_user("root")
    r, export = await root.get(f"/api/v1/privacy/customers/{made['id']}/export")
    assert r.status == 200 and export["customer"]["notes"] == _note()


async def test_notes_change_in_history_masked(harness: Harness) -> None:
    made = await _customer(harness)
    agent = await harness.as_user("alice")
    r, _ = await agent.patch(f"/api/v1/customers/{made['id']}", json={"notes": "settled"})
    assert r.status == 200
    for user in ("alice", "root"):
        caller = await harness.as_user(user)
        r, history = await caller.get(f"/api/v1/customers/{made['id']}/history")
        change = next(i for i in history["items"] if i["field"] == "notes")
        _expect(change["old_value"], user)


async def test_contact_attributes_notes_and_messages_masked(harness: Harness) -> None:
    made = await _customer(harness)
    contacts = ContactService(harness.app[SERVICES].require_sessions())
    contact = await contacts.record(
        {
            "interaction_id": "ix-pii",
            "customer_id": made["id"],
            "channel": "voice",
            "direction": "inbound",
            "started_at": dt.datetime.now(dt.UTC),
            "notes": _note(),
            "attributes": {
                "card_number": "4111111111111111",
                "ivr_inputs": {"id_number": "AB123456"},
            },
        }
    )
    await contacts.add_message(
        contact.id, {"direction": "inbound", "sender": "pia@x.org", "body_text": _note()}
    )
    cards = {"alice": "************1111", "sup": "411111******1111", "root": "4111111111111111"}
    ids = {"alice": "****3456", "sup": "AB**3456", "root": "AB123456"}
    for user in SEEN:
        caller = await harness.as_user(user)
        r, detail = await caller.get(f"/api/v1/contacts/{contact.id}")
        assert r.status == 200
        _expect(detail["notes"], user)
        _expect(detail["messages"][0]["body_text"], user)
        assert detail["attributes"]["card_number"] == cards[user]
        assert detail["attributes"]["ivr_inputs"]["id_number"] == ids[user]
        r, page = await caller.get(f"/api/v1/customers/{made['id']}/contacts")
        assert page["items"][0]["attributes"]["card_number"] == cards[user]
        r, page = await caller.get("/api/v1/contacts", params={"customer_id": made["id"]})
        _expect(page["items"][0]["notes"], user)


async def test_complaint_texts_masked(harness: Harness) -> None:
    made = await _customer(harness)
    agent = await harness.as_user("alice")
    r, complaint = await agent.post(
        "/api/v1/complaints",
        json={
            "customer_id": made["id"],
            "category": "product",
            "subcategory": "transaction",
            "description": _note(),
            "note": _note(),
        },
    )
    assert r.status == 201, complaint
    _expect(complaint["description"], "alice")
    for user in SEEN:
        caller = await harness.as_user(user)
        r, one = await caller.get(f"/api/v1/complaints/{complaint['id']}")
        _expect(one["description"], user)
        notes = [s["note"] for s in one["history"] if s["note"]]
        assert notes, one["history"]
        _expect(notes[0], user)
        r, page = await caller.get("/api/v1/complaints", params={"customer_id": made["id"]})
        _expect(page["items"][0]["description"], user)
    r, acked = await agent.post(
        f"/api/v1/complaints/{complaint['id']}/acknowledge", json={"note": _note()}
    )
    assert r.status == 200
    _expect(acked["description"], "alice")
    _expect(acked["history"][-1]["note"], "alice")


async def test_unknown_role_sees_no_digits_and_luhn_guards_cards() -> None:
    masked = mask_text(_note(), "integration", DEFAULT_POLICY)
    assert masked == f"Paid with **** **** **** ****; passport: ********; ref {NOT_A_CARD}"
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    phone = "call +44 20 7946 0958 or 0044 20 7946 0958"  # not card-length / not Luhn
    assert mask_text(phone, "agent", DEFAULT_POLICY) == phone
