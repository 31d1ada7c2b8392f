"""Complaint attachments: stored with the complaint, downloaded only as a download, bounded
in size and count, refused for an unknown complaint; the name cannot become a path."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import FormData
from test_api_harness import Harness, make_settings, start_harness

CP = "/api/v1/complaints"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def small(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    settings = make_settings(
        tmp_path_factory.mktemp("attachments"),
        CCSERVER_CRM__MAX_ATTACHMENT_BYTES="2048",
        CCSERVER_CRM__MAX_ATTACHMENTS="2",
    )
    async for h in start_harness(settings):
        yield h


def _file(data: bytes, name: str = "note.txt", ctype: str = "text/plain") -> FormData:
    form = FormData()
    form.add_field("file", data, filename=name, content_type=ctype)
    return form


@pytest.mark.asyncio(loop_scope="module")
async def test_attachments_are_bounded_and_served_as_downloads(small: Harness) -> None:
    agent = await small.as_user("alice")
    customer = (
        await agent.post(
            "/api/v1/customers", json={"display_name": "Ann Lee", "phones": ["+1 415 555 0199"]}
        )
    )[1]
    _, complaint = await agent.post(CP, json={
        "customer_id": customer["id"], "category": "product", "subcategory": "quality",
        "description": "Scratched screen", "severity": "normal",
    })  # fmt: skip
    url = f"{CP}/{complaint['id']}/attachments"
    evil = b"<script>alert(1)</script>"
    r, first = await agent.call("POST", url, data=_file(evil, "..\\..\\x.html", "text/html"))
    assert r.status == 201 and first["name"] == "x.html" and first["size"] == len(evil)
    r, body = await agent.call("GET", f"{url}/{first['id']}")
    assert r.status == 200 and body == evil
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("attachment")
    # Over the size limit: 413 and nothing recorded.
    r, err = await agent.call("POST", url, data=_file(b"x" * 4096))
    assert r.status == 413 and err["error"]["code"] == "payload_too_large"
    r, second = await agent.call("POST", url, data=_file(b"second"))
    assert r.status == 201
    r, err = await agent.call("POST", url, data=_file(b"third"))
    assert r.status == 409 and err["error"]["details"]["limit"] == 2
    _, again = await agent.get(f"{CP}/{complaint['id']}")
    assert [a["id"] for a in again["attachments"]] == [first["id"], second["id"]]
    r, _ = await agent.call(
        "POST", f"{CP}/00000000-0000-7000-8000-000000000000/attachments", data=_file(b"x")
    )
    assert r.status == 404
