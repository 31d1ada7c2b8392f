"""Orders over REST: create, read, update, delete, list and bulk import (JSON array, JSON
Lines, CSV, multipart upload) with a per-row error report."""

from __future__ import annotations

import io

import pytest
import test_api_harness as _harness
from aiohttp import FormData
from test_api_harness import Harness, error_of

from ccserver.app import SERVICES

pytestmark = pytest.mark.asyncio(loop_scope="module")
harness = _harness.harness  # the shared fixture


async def _customer(h: Harness, name: str, email: str) -> str:
    agent = await h.as_user("alice")
    r, body = await agent.post("/api/v1/customers", json={"display_name": name, "emails": [email]})
    assert r.status == 201, body
    return str(body["id"])


async def test_order_crud(harness: Harness) -> None:
    sup = await harness.as_user("sup")
    cid = await _customer(harness, "Olga Order", "olga@x.org")
    r, order = await sup.post(
        "/api/v1/orders",
        json={
            "order_number": "SO-9001",
            "customer_id": cid,
            "status": "paid",
            "total": "19.90",
            "currency": "eur",
            "ordered_at": "2026-05-01T10:00:00Z",
            "items": [{"sku": "A-1", "qty": 2}],
        },
    )
    assert r.status == 201, order
    assert order["currency"] == "EUR" and order["total"] == "19.90"
    assert r.headers["Location"] == f"/api/v1/orders/{order['id']}"
    r, body = await sup.post(
        "/api/v1/orders", json={"order_number": "SO-9001", "ordered_at": "2026-05-01T10:00:00Z"}
    )
    assert r.status == 409 and error_of(body)["code"] == "duplicate_order"
    r, body = await sup.post(
        "/api/v1/orders", json={"order_number": "SO-9002", "status": "lost", "total": -1}
    )
    assert r.status == 422
    assert set(error_of(body)["details"]["fields"]) >= {"status", "total"}

    r, got = await sup.get(f"/api/v1/orders/{order['id']}")
    assert r.status == 200 and got == order
    r, changed = await sup.patch(
        f"/api/v1/orders/{order['id']}",
        json={"status": "shipped", "carrier": "DHL", "shipped_at": "2026-05-02T08:00:00+02:00"},
    )
    assert r.status == 200 and changed["status"] == "shipped" and changed["carrier"] == "DHL"
    r, body = await sup.patch(f"/api/v1/orders/{order['id']}", json={"order_number": "X"})
    assert r.status == 422

    r, page = await sup.get("/api/v1/orders", params={"customer_id": cid})
    assert [o["order_number"] for o in page["items"]] == ["SO-9001"]
    r, page = await sup.get("/api/v1/orders", params={"order_number": "SO-9001"})
    assert [o["id"] for o in page["items"]] == [order["id"]]
    # The customer search box finds a customer by one of their order numbers.
    r, found = await sup.get("/api/v1/customers", params={"q": "SO-9001"})
    assert [c["id"] for c in found["items"]] == [cid]
    r, page = await sup.get("/api/v1/orders", params={"status": "nonsense"})
    assert r.status == 400

    agent = await harness.as_user("alice")
    r, body = await agent.delete(f"/api/v1/orders/{order['id']}")
    assert r.status == 403
    r, body = await sup.delete(f"/api/v1/orders/{order['id']}")
    assert r.status == 204
    r, body = await sup.get(f"/api/v1/orders/{order['id']}")
    assert r.status == 404 and error_of(body)["code"] == "order_not_found"
    r, body = await sup.delete(f"/api/v1/orders/{order['id']}")
    assert r.status == 404


async def test_bulk_json_array_reports_bad_rows(harness: Harness) -> None:
    sup = await harness.as_user("sup")
    await _customer(harness, "Bulk Buyer", "bulk@x.org")
    rows: list[dict[str, object]] = [
        {"order_number": "B-1", "email": "bulk@x.org", "ordered_at": "2026-01-01T00:00:00Z"},
        {"order_number": "B-2", "email": "bulk@x.org", "status": "bogus"},
        {"order_number": "B-3", "ordered_at": "2026-01-03T00:00:00Z", "total": 5},
    ]
    r, report = await sup.post("/api/v1/orders/bulk", json=rows)
    assert r.status == 200, report
    assert report["rows"] == 3 and report["imported"] == 2
    assert [e["row"] for e in report["errors"]] == [2]  # line 2 of the rows sent
    assert report["errors"][0]["field"] == "status"
    r, page = await sup.get("/api/v1/orders", params={"order_number": "B-1"})
    assert page["items"][0]["customer_id"] is not None
    # Sent again: duplicates are skipped, or updated when asked.
    r, report = await sup.post("/api/v1/orders/bulk", json=rows[:1])
    assert report["skipped_duplicates"] == 1 and report["imported"] == 0
    changed = [{**rows[0], "status": "delivered"}]
    r, report = await sup.post("/api/v1/orders/bulk?on_duplicate=update", json=changed)
    assert report["updated"] == 1
    r, page = await sup.get("/api/v1/orders", params={"order_number": "B-1"})
    assert page["items"][0]["status"] == "delivered"
    r, _ = await sup.post("/api/v1/orders/bulk", json={"order_number": "not a list"})
    assert r.status == 400


async def test_bulk_jsonl_csv_and_upload(harness: Harness) -> None:
    sup = await harness.as_user("sup")
    jsonl = b'{"order_number": "L-1", "ordered_at": "2026-02-01T00:00:00Z"}\n{"broken"\n'
    r, report = await sup.call(
        "POST",
        "/api/v1/orders/bulk",
        data=jsonl,
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.status == 200 and report["imported"] == 1 and len(report["errors"]) == 1
    csv_rows = b"order_number,ordered_at,total,currency\nC-1,2026-02-02T00:00:00Z,12.5,USD\n"
    r, report = await sup.call(
        "POST", "/api/v1/orders/bulk", data=csv_rows, headers={"Content-Type": "text/csv"}
    )
    assert r.status == 200 and report["imported"] == 1, report
    form = FormData()
    form.add_field(
        "file",
        csv_rows.replace(b"C-1", b"U-1"),
        filename="orders.csv",
        content_type="text/csv",
    )
    r, report = await sup.call("POST", "/api/v1/orders/bulk", data=form)
    assert r.status == 200 and report["imported"] == 1, report
    limit = harness.app[SERVICES].settings.server.max_body_bytes
    huge = FormData()
    upload = io.BytesIO(b"x" * (limit + 1))
    huge.add_field("file", upload, filename="orders.csv", content_type="text/csv")
    r, body = await sup.call("POST", "/api/v1/orders/bulk", data=huge)
    assert r.status == 413 and error_of(body)["code"] == "payload_too_large"
    r, page = await sup.get("/api/v1/orders", params={"order_number": "U-1"})
    assert page["items"][0]["total"] == "12.50"
    r, _ = await sup.call(
        "POST", "/api/v1/orders/bulk", data=b"x", headers={"Content-Type": "text/plain"}
    )
    assert r.status == 400
