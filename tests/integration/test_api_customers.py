"""Customers over REST: create with validation and duplicate detection, audited reads,
ETag-checked updates, search by phone in any format, identities, history, merge, contacts."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import pytest
import test_api_harness as _harness
from test_api_harness import Harness, error_of

from ccserver.app import SERVICES
from ccserver.crm.audit import AuditLog
from ccserver.crm.contacts import ContactService

pytestmark = pytest.mark.asyncio(loop_scope="module")
any_db = _harness.any_db  # the shared fixture
harness = _harness.harness  # the shared fixture


async def _create(h: Harness, body: dict[str, Any], user: str = "alice") -> dict[str, Any]:
    caller = await h.as_user(user)
    r, created = await caller.post("/api/v1/customers", json=body)
    assert r.status == 201, created
    assert r.headers["Location"] == f"/api/v1/customers/{created['id']}"
    return dict(created)


async def test_crud_duplicates_etag_and_audit(any_db: Harness) -> None:
    """The core customer life on SQLite and PostgreSQL."""
    agent = await any_db.as_user("alice")
    r, created = await agent.post(
        "/api/v1/customers",
        json={
            "display_name": "Hanako Yamada",
            "phones": ["+81 3-1234-5678"],
            "emails": ["H@Ex.jp"],
        },
    )
    assert r.status == 201, created
    cid = created["id"]
    assert [i["value"] for i in created["identities"]] == ["h@ex.jp", "+81312345678"]

    # Same phone typed differently: 409 naming the existing customer, or that customer.
    dup = {"display_name": "H. Yamada", "phones": ["+81312345678"]}
    r, body = await agent.post("/api/v1/customers", json=dup)
    err = error_of(body)
    assert r.status == 409 and err["code"] == "duplicate_customer"
    assert err["details"]["existing_id"] == cid
    r, body = await agent.post("/api/v1/customers?on_duplicate=return", json=dup)
    assert r.status == 200 and body["id"] == cid and body["display_name"] == "Hanako Yamada"

    # Read: ETag, and an audit row with who, what and from where.
    r, got = await agent.get(f"/api/v1/customers/{cid}")
    assert r.status == 200 and got["id"] == cid
    etag = r.headers["ETag"]
    audit = AuditLog(any_db.app[SERVICES].require_sessions())
    reads = await audit.query(action="read", entity="customer", entity_id=cid)
    assert len(reads) == 1
    assert reads[0].actor == any_db.user_ids["alice"] and reads[0].actor_role == "agent"
    assert reads[0].ip == "127.0.0.1"

    # Update with the current tag, then a stale one is refused with 412.
    r, updated = await agent.patch(
        f"/api/v1/customers/{cid}", json={"tier": "gold"}, headers={"If-Match": etag}
    )
    assert r.status == 200 and updated["tier"] == "gold", updated
    assert r.headers["ETag"] != etag and updated["version"] == got["version"] + 1
    r, body = await agent.patch(
        f"/api/v1/customers/{cid}", json={"tier": "silver"}, headers={"If-Match": etag}
    )
    assert r.status == 412 and error_of(body)["code"] == "stale_write"
    r, body = await agent.patch(
        f"/api/v1/customers/{cid}", json={"tier": "silver"}, headers={"If-Match": '"other.1"'}
    )
    assert r.status == 412
    r, got = await agent.get(f"/api/v1/customers/{cid}")
    assert got["tier"] == "gold"

    # Search on each database: name prefix (dialect-specific index use), phone typed
    # nationally with a region, email.
    for params in ({"q": "hanako"}, {"q": "HANAKO Y"}, {"q": "03 1234 5678", "region": "JP"},
                   {"email": "h@ex.jp"}):  # fmt: skip
        r, found = await agent.get("/api/v1/customers", params=params)
        assert r.status == 200 and [c["id"] for c in found["items"]] == [cid], params

    r, hist = await agent.get(f"/api/v1/customers/{cid}/history")
    assert r.status == 200
    assert [(i["field"], i["new_value"]) for i in hist["items"]] == [("tier", "gold")]


async def test_validation_errors_are_per_field(harness: Harness) -> None:
    agent = await harness.as_user("alice")
    r, body = await agent.post(
        "/api/v1/customers",
        json={"phones": ["not a phone"], "emails": ["nope@"], "lifecycle_stage": "x"},
    )
    err = error_of(body)
    assert r.status == 422 and err["code"] == "validation_failed"
    assert {"phones[0]", "emails[0]", "lifecycle_stage", "display_name"} <= set(
        err["details"]["fields"]
    )
    r, body = await agent.post("/api/v1/customers", json=["not", "an", "object"])
    assert r.status == 400 and error_of(body)["code"] == "bad_request"
    r, body = await agent.get("/api/v1/customers/no-such-id")
    assert r.status == 404 and error_of(body)["code"] == "customer_not_found"
    r, body = await agent.get("/api/v1/customers?limit=abc")
    assert r.status == 400
    r, body = await agent.post("/api/v1/customers?on_duplicate=maybe", json={})
    assert r.status == 400


@pytest.mark.parametrize(
    ("typed", "region"),
    [
        ("+81 3-1234-5678", None),
        ("+81312345678", None),
        ("0081 3 1234 5678", None),
        ("03-1234-5678", "JP"),
        ("0312345678", "JP"),
        ("(03) 1234 5678", "jp"),
    ],
)
async def test_search_by_phone_in_any_format(
    harness: Harness, typed: str, region: str | None
) -> None:
    agent = await harness.as_user("alice")
    r, found = await agent.get("/api/v1/customers", params={"phone": "+81312340000"})
    if not found["items"]:
        await _create(harness, {"display_name": "Taro Suzuki", "phones": ["+81 3-1234-0000"]})
    typed = typed.replace("5678", "0000")
    params = {"q": typed, **({"region": region} if region else {})}
    r, found = await agent.get("/api/v1/customers", params=params)
    assert r.status == 200, found
    assert [c["display_name"] for c in found["items"]] == ["Taro Suzuki"]
    assert found["total"] == 1 and found["limit"] == 25 and found["offset"] == 0


async def test_search_by_name_email_number_and_paging(harness: Harness) -> None:
    agent = await harness.as_user("alice")
    made = [
        await _create(harness, {"display_name": f"Pagella Person {i}", "emails": [f"pp{i}@x.org"]})
        for i in range(3)
    ]
    r, page = await agent.get("/api/v1/customers", params={"q": "pagella", "limit": "2"})
    assert r.status == 200 and page["total"] == 3 and len(page["items"]) == 2
    r, rest = await agent.get(
        "/api/v1/customers", params={"q": "pagella", "limit": "2", "offset": "2"}
    )
    assert len(rest["items"]) == 1
    names = {c["id"] for c in page["items"] + rest["items"]}
    assert names == {c["id"] for c in made}
    r, by_mail = await agent.get("/api/v1/customers", params={"q": "PP1@X.org"})
    assert [c["id"] for c in by_mail["items"]] == [made[1]["id"]]
    audit = AuditLog(harness.app[SERVICES].require_sessions())
    searches = await audit.query(action="search", actor=harness.user_ids["alice"], limit=1)
    assert searches[0].details == {"ids": [made[1]["id"]]} and searches[0].ip == "127.0.0.1"
    number = made[2]["customer_number"]
    r, by_number = await agent.get("/api/v1/customers", params={"customer_number": number})
    assert [c["id"] for c in by_number["items"]] == [made[2]["id"]]


async def test_identities_add_and_remove(harness: Harness) -> None:
    agent = await harness.as_user("alice")
    a = await _create(harness, {"display_name": "Ida Ident", "emails": ["ida@x.org"]})
    b = await _create(harness, {"display_name": "Other One", "emails": ["other@x.org"]})
    r, body = await agent.post(
        f"/api/v1/customers/{a['id']}/identities", json={"kind": "phone", "value": "(415) 555-0134"}
    )
    assert r.status == 200 and "+14155550134" in [i["value"] for i in body["identities"]]
    r, body = await agent.post(
        f"/api/v1/customers/{b['id']}/identities", json={"kind": "phone", "value": "+14155550134"}
    )
    assert r.status == 409 and error_of(body)["details"]["existing_id"] == a["id"]
    r, body = await agent.post(
        f"/api/v1/customers/{a['id']}/identities", json={"kind": "fax", "value": "1"}
    )
    assert r.status == 422
    value = quote("+14155550134", safe="")
    r, body = await agent.delete(f"/api/v1/customers/{a['id']}/identities/phone/{value}")
    assert r.status == 200 and [i["kind"] for i in body["identities"]] == ["email"]
    r, body = await agent.delete(f"/api/v1/customers/{a['id']}/identities/phone/{value}")
    assert r.status == 404


async def test_merge_needs_a_supervisor_and_keeps_identities(harness: Harness) -> None:
    agent, sup = await harness.as_user("alice"), await harness.as_user("sup")
    a = await _create(harness, {"display_name": "Mona Merge", "emails": ["mona@x.org"]})
    b = await _create(harness, {"display_name": "Mona M.", "phones": ["+1 212 555 0199"]})
    r, body = await agent.post(f"/api/v1/customers/{a['id']}/merge", json={"other_id": b["id"]})
    assert r.status == 403 and error_of(body)["code"] == "forbidden"
    r, body = await sup.post(f"/api/v1/customers/{a['id']}/merge", json={"other_id": b["id"]})
    assert r.status == 200, body
    assert {i["value"] for i in body["identities"]} == {"mona@x.org", "+12125550199"}
    r, body = await sup.get(f"/api/v1/customers/{b['id']}")  # follows the merge
    assert r.status == 200 and body["id"] == a["id"]
    r, body = await sup.post(f"/api/v1/customers/{a['id']}/merge", json={"other_id": a["id"]})
    assert r.status == 409
    r, body = await sup.post(f"/api/v1/customers/{a['id']}/merge", json={"other": b["id"]})
    assert r.status == 422 and error_of(body)["details"]["fields"]


async def test_contacts_of_a_customer_and_contact_listing(harness: Harness) -> None:
    agent = await harness.as_user("alice")
    c = await _create(harness, {"display_name": "Connie Contact", "emails": ["connie@x.org"]})
    contacts = ContactService(harness.app[SERVICES].require_sessions())
    t0 = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    for i, (channel, queue) in enumerate([("voice", "sales"), ("email", "support")]):
        await contacts.record(
            {
                "interaction_id": f"ix-{c['id']}-{i}",
                "customer_id": c["id"],
                "channel": channel,
                "direction": "inbound",
                "queue": queue,
                "agent_id": harness.user_ids["alice"],
                "started_at": t0 + dt.timedelta(days=i),
            }
        )
    r, page = await agent.get(f"/api/v1/customers/{c['id']}/contacts")
    assert r.status == 200 and page["total"] == 2
    assert [x["channel"] for x in page["items"]] == ["email", "voice"]  # newest first
    r, page = await agent.get(
        "/api/v1/contacts", params={"customer_id": c["id"], "channel": "voice"}
    )
    assert [x["queue"] for x in page["items"]] == ["sales"]
    r, page = await agent.get(
        "/api/v1/contacts", params={"agent_id": harness.user_ids["alice"], "queue": "support"}
    )
    assert [x["interaction_id"] for x in page["items"]] == [f"ix-{c['id']}-1"]
    r, page = await agent.get(
        "/api/v1/contacts",
        params={"customer_id": c["id"], "from": "2026-03-02T00:00:00Z", "to": "2026-03-03"},
    )
    assert [x["channel"] for x in page["items"]] == ["email"]
    r, one = await agent.get(f"/api/v1/contacts/{page['items'][0]['id']}")
    assert r.status == 200 and one["messages"] == [] and one["customer_id"] == c["id"]
    r, _ = await agent.get("/api/v1/contacts", params={"from": "yesterday"})
    assert r.status == 400
    r, _ = await agent.get("/api/v1/contacts", params={"channel": "pigeon"})
    assert r.status == 400
