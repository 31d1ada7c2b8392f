"""The agent's files in the web chat and files across a transfer, through the public
interfaces: the agent POSTs to ``/api/v1/interactions/{id}/files`` from the console (cookie +
CSRF), the customer's widget (``websockets``) gets the file line and downloads the bytes by
POSTing its chat id and token to ``/chat/files/{file_id}``; limits are those of the
customer's files and share the chat's count. After a transfer to a queue the widget keeps
its first chat id: its uploads and resumes work, and the agent who took the chat over reads
the files sent before, live and from the CRM once the chat is over. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import websockets
from aiohttp import FormData
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from sqlalchemy import select
from test_api_harness import FAST_HASHER, PASSWORD, Api
from test_chat_files import PDF, PNG, _form, _start, _stored, _to_queue
from test_chat_flow import recv_until, send
from test_chat_harness import TextApp, next_frame, start_text_app

from ccserver.app import SERVICES
from ccserver.crm.models import Message
from ccserver.crm.users import UserService
from ccserver.web import openapi

pytestmark = pytest.mark.asyncio(loop_scope="module")

LIMIT = 4096
CHANNELS = f"""
[chat]
max_file_bytes = {LIMIT}
max_files = 5
upload_burst = 12.0
"""


@pytest_asyncio.fixture(loop_scope="module")
async def files_app(tmp_path: Path, db_url: str) -> AsyncIterator[TextApp]:
    # db_url (tests/conftest.py): a fresh migrated SQLite or PostgreSQL database per test.
    async for t in start_text_app(tmp_path, CHANNELS, CCSERVER_DATABASE__URL=db_url):
        yield t


def _file(data: bytes, name: str) -> FormData:
    form = FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return form


async def _customer_download(
    app: TextApp, url: str, chat_id: str | None, token: str | None
) -> tuple[Any, Any]:
    fields = {k: v for k, v in (("chat_id", chat_id), ("token", token)) if v is not None}
    return await app.h.anonymous().call("POST", url, data=fields)


async def _agent(app: TextApp, username: str, display: str) -> tuple[Api, str, Any]:
    users = UserService(app.h.app[SERVICES].require_sessions(), hasher=FAST_HASHER)
    view = await users.create_user(username, PASSWORD, role="agent", display_name=display)
    app.h.user_ids[username] = view.id
    return await app.ready_agent(username)


async def _connected(app: TextApp, ws: Any, api: Api, sub: Any, who: str) -> dict[str, Any]:
    session = await _start(
        ws, who, f"{who.lower().replace(' ', '.')}@example.com", "+1 415 555 0160"
    )
    await _to_queue(ws)
    await next_frame(sub, "offer", interaction_id=session["chat_id"])
    r, body = await api.post(f"/api/v1/interactions/{session['chat_id']}/accept")
    assert r.status == 200, body
    await recv_until(ws, "agent_joined")
    return session


async def test_the_agent_sends_a_file_the_customer_downloads_it(files_app: TextApp) -> None:
    app = files_app
    api, uid, sub = await app.ready_agent("alice")
    bus = app.h.app[SERVICES].require_bus()
    async with websockets.connect(app.ws_url()) as ws:
        session = await _connected(app, ws, api, sub, "Ann Agentfile")
        chat_id, token = session["chat_id"], session["token"]
        sends = f"/api/v1/interactions/{chat_id}/files"

        async with bus.subscribe([f"interaction.{chat_id}"]) as watch:
            r, line = await api.call("POST", sends, data=_file(PDF, "terms.pdf"))
            assert r.status == 201, line
            watched = await next_frame(watch, "chat_message", interaction_id=chat_id)
        assert (line["from"], line["kind"], line["name"], line["text"]) == (
            "agent", "file", "Alice", "terms.pdf",
        )  # fmt: skip
        sent = line["file"]
        assert (sent["name"], sent["size"], sent["content_type"]) == (
            "terms.pdf", len(PDF), "application/pdf",
        )  # fmt: skip
        assert sent["url"] == f"/api/v1/interactions/{chat_id}/files/{sent['id']}"
        assert watched["file"] == sent and watched["from"] == "agent"
        _, spec = await app.h.anonymous().get(openapi.OPENAPI_PATH)  # the answer as documented
        answers = spec["paths"]["/api/v1/interactions/{id}/files"]["post"]["responses"]
        schema = answers["201"]["content"]["application/json"]["schema"]
        validator = Draft202012Validator({**schema, "components": spec["components"]})
        assert [e.message for e in validator.iter_errors(line)] == []

        shown = await recv_until(ws, "msg", lambda f: f["data"].get("kind") == "file")
        assert shown["seq"] == line["seq"] and shown["data"]["from"] == "agent"
        widget_file = shown["data"]["file"]
        assert widget_file["id"] == sent["id"] and widget_file["name"] == "terms.pdf"
        assert widget_file["url"] == f"/chat/files/{sent['id']}"  # the customer's route

        # The customer downloads the same bytes, always as an inert attachment.
        r, data = await _customer_download(app, widget_file["url"], chat_id, token)
        assert r.status == 200 and data == PDF
        assert r.headers["Content-Type"] == "application/octet-stream"
        assert r.headers["Content-Disposition"] == "attachment; filename*=UTF-8''terms.pdf"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in r.headers["Content-Security-Policy"]
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "private" in r.headers["Cache-Control"]

        # Wrong or absent credentials, an unknown file: refused, readable by the widget.
        other = "00000000-0000-7000-8000-0000000000f1"
        for cid, tok, status, code in (
            (chat_id, "guess", 401, "unknown_chat"),
            (chat_id, None, 401, "unknown_chat"),
            (None, token, 401, "unknown_chat"),
            (other, token, 401, "unknown_chat"),
        ):
            r, err = await _customer_download(app, widget_file["url"], cid, tok)
            assert (r.status, err["error"]["code"]) == (status, code), (cid, tok)
            assert r.headers["Access-Control-Allow-Origin"] == "*"
        r, err = await _customer_download(app, f"/chat/files/{other}", chat_id, token)
        assert r.status == 404
        r, _ = await app.h.anonymous().call(  # the token belongs in a body, not the URL
            "GET", f"{widget_file['url']}?chat_id={chat_id}&token={token}"
        )
        assert r.status == 405

        # The customer's own file is downloadable from the widget as well.
        r, mine = await app.h.anonymous().call(
            "POST", "/chat/upload", data=_form(chat_id, token, PNG, "photo.png")
        )
        assert r.status == 201, mine
        r, data = await _customer_download(app, f"/chat/files/{mine['id']}", chat_id, token)
        assert r.status == 200 and data == PNG

        # The agent reads it back in the console; another agent neither sends nor reads.
        r, data = await api.call("GET", sent["url"])
        assert r.status == 200 and data == PDF
        carol, _, carol_sub = await _agent(app, "carol", "Carol")
        r, err = await carol.call("POST", sends, data=_file(PNG, "x.png"))
        assert (r.status, err["error"]["code"]) == (403, "not_your_chat")
        r, err = await carol.call("GET", sent["url"])
        assert r.status == 403
        r, err = await app.h.anonymous().call("POST", sends, data=_file(PNG, "x.png"))
        assert r.status == 401
        r, err = await api.call(  # a cookie session without the CSRF header
            "POST", sends, data=_file(PNG, "x.png"), headers={"X-CSRF-Token": ""}
        )
        assert (r.status, err["error"]["code"]) == (403, "csrf_failed")
        r, err = await api.call(
            "POST", "/api/v1/interactions/no-such-chat/files", data=_file(PNG, "x.png")
        )
        assert r.status == 404
        assert _stored(app, chat_id) == sorted([sent["id"], mine["id"]])  # nothing else

        await send(ws, "leave")
        await recv_until(ws, "survey")
        r, err = await api.call("POST", sends, data=_file(PNG, "late.png"))
        assert (r.status, err["error"]["code"]) == (409, "chat_not_active")

    services = app.h.app[SERVICES]
    await services.require_outbox().flush()
    async with services.require_sessions()() as db:
        rows = (
            await db.execute(
                select(Message.direction, Message.sender, Message.headers, Message.attachments)
            )
        ).all()
    kept = {a["id"]: (d, s, h, a) for d, s, h, atts in rows for a in atts or []}
    direction, sender, headers, entry = kept[sent["id"]]
    assert (direction, sender, headers) == ("outbound", uid, {"kind": "file"})
    assert entry["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert (entry["interaction_id"], entry["by"]) == (chat_id, uid)
    assert kept[mine["id"]][0] == "inbound"
    await sub.aclose()
    await carol_sub.aclose()


async def test_the_agents_files_keep_the_customers_limits(files_app: TextApp) -> None:
    app = files_app
    api, _uid, sub = await app.ready_agent("alice")
    async with websockets.connect(app.ws_url()) as ws:
        session = await _connected(app, ws, api, sub, "Lee Limits")
        chat_id, token = session["chat_id"], session["token"]
        sends = f"/api/v1/interactions/{chat_id}/files"

        async def up(data: bytes, name: str) -> tuple[int, Any]:
            r, body = await api.call("POST", sends, data=_file(data, name))
            return r.status, body

        for data, name in (
            (b"<html><script>alert(1)</script></html>", "page.html"),
            (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "logo.svg"),
            (b"<html><script>alert(1)</script></html>", "cat.png"),  # not what it says
        ):
            status, err = await up(data, name)
            assert (status, err["error"]["code"]) == (415, "file_type_not_allowed"), name
        status, err = await up(b"x" * (LIMIT + 1), "big.txt")  # streamed past the limit
        assert (status, err["error"]["code"]) == (413, "payload_too_large")
        status, err = await up(b"x" * (LIMIT + 64 * 1024), "huge.txt")  # declared too large
        assert (status, err["error"]["code"]) == (413, "payload_too_large")
        assert (await up(b"", "empty.txt"))[0] == 422
        r, err = await api.post(sends, json={"file": "x"})
        assert r.status == 400
        assert _stored(app, chat_id) == []

        # The customer's and the agent's files share the chat's count.
        r, theirs = await app.h.anonymous().call(
            "POST", "/chat/upload", data=_form(chat_id, token, PNG, "a.png")
        )
        assert r.status == 201, theirs
        ids = [theirs["id"]]
        for data, name in ((PDF, "b.pdf"), (b"c,d\n", "c.csv"), (PNG, "d.png"), (b"e", "e.txt")):
            status, ok = await up(data, name)
            assert status == 201, ok
            ids.append(ok["file"]["id"])
        status, err = await up(b"one more", "f.txt")
        assert (status, err["error"]["code"]) == (409, "too_many_files")
        r, err = await app.h.anonymous().call(
            "POST", "/chat/upload", data=_form(chat_id, token, b"more", "f.txt")
        )
        assert (r.status, err["error"]["code"]) == (409, "too_many_files")
        assert _stored(app, chat_id) == sorted(ids)
    await sub.aclose()


async def test_files_work_across_a_transfer_and_a_resume(files_app: TextApp) -> None:
    app = files_app
    anon = app.h.anonymous()
    alice, _alice_id, alice_sub = await app.ready_agent("alice")
    async with websockets.connect(app.ws_url()) as ws:
        session = await _connected(app, ws, alice, alice_sub, "Tom Transfer")
        chat_id, token = session["chat_id"], session["token"]
        r, before = await anon.call(
            "POST", "/chat/upload", data=_form(chat_id, token, PDF, "before.pdf")
        )
        assert r.status == 201, before
        r, line = await alice.call(
            "POST", f"/api/v1/interactions/{chat_id}/files", data=_file(PNG, "from-alice.png")
        )
        assert r.status == 201, line
        from_alice = line["file"]

        # Only Carol takes new work: the transferred chat goes to her.
        r, body = await alice.post("/api/v1/console/state", json={"state": "not_ready"})
        assert r.status == 200, body
        carol, _carol_id, carol_sub = await _agent(app, "carol", "Carol")
        r, body = await alice.post(
            f"/api/v1/interactions/{chat_id}/transfer", json={"queue": "general"}
        )
        assert r.status == 200, body
        await recv_until(ws, "transferred")
        leg = app.cc.get(chat_id).attributes["transferred_to"]
        assert leg != chat_id

        # Queued again: the widget still names the first chat id, and its upload works.
        r, queued = await anon.call(
            "POST", "/chat/upload", data=_form(chat_id, token, b"a,b\n", "queued.csv")
        )
        assert r.status == 201, queued
        assert queued["url"].startswith(f"/api/v1/interactions/{leg}/files/")

        await next_frame(carol_sub, "offer", interaction_id=leg)
        r, body = await carol.post(f"/api/v1/interactions/{leg}/accept")
        assert r.status == 200, body
        history = await next_frame(carol_sub, "chat_history", interaction_id=leg)
        urls = [ln["file"]["url"] for ln in history["lines"] if ln.get("kind") == "file"]
        assert urls == [before["url"], from_alice["url"], queued["url"]]
        for url, data in zip(urls, (PDF, PNG, b"a,b\n"), strict=True):
            r, got = await carol.call("GET", url)  # the files from before the transfer too
            assert r.status == 200 and got == data, url

        # Carol's file reaches the widget; the customer downloads it.
        r, line = await carol.call(
            "POST", f"/api/v1/interactions/{leg}/files", data=_file(PDF, "from-carol.pdf")
        )
        assert r.status == 201, line
        shown = await recv_until(
            ws, "msg", lambda f: f["data"].get("file", {}).get("name") == "from-carol.pdf"
        )
        r, got = await _customer_download(app, shown["data"]["file"]["url"], chat_id, token)
        assert r.status == 200 and got == PDF
        r, _ = await alice.call(  # no longer Alice's chat
            "POST", f"/api/v1/interactions/{chat_id}/files", data=_file(PNG, "x.png")
        )
        assert r.status == 404

    # The widget comes back (a reload): it resumes with the first id and gets the same one.
    async with websockets.connect(app.ws_url()) as ws:
        await send(ws, "resume", chat_id=chat_id, token=token, last_seq=0)
        resumed = (await recv_until(ws, "session"))["data"]
        assert (resumed["chat_id"], resumed["resumed"]) == (chat_id, True)
        replayed = await recv_until(
            ws, "msg", lambda f: f["data"].get("file", {}).get("name") == "from-alice.png"
        )
        r, got = await _customer_download(app, replayed["data"]["file"]["url"], chat_id, token)
        assert r.status == 200 and got == PNG
        r, after = await anon.call(
            "POST", "/chat/upload", data=_form(chat_id, token, PNG, "after.png")
        )
        assert r.status == 201, after
        line = await next_frame(carol_sub, "chat_message", interaction_id=leg)
        assert line["file"]["id"] == after["id"]
        await send(ws, "leave")
        await recv_until(ws, "survey")

    # Over and gone from memory: the CRM rows still let Carol (and Alice) read them.
    disposition = app.cc.dispositions[0] if app.cc.dispositions else None
    r, body = await carol.post(
        f"/api/v1/interactions/{leg}/wrap-up", json={"disposition": disposition}
    )
    assert r.status == 200, body
    services = app.h.app[SERVICES]
    await services.require_outbox().flush()
    chat = app.channels.chat
    await chat.tick(app.cc.clock() + chat.options.abandon_after_s + 1)
    assert leg not in chat.sessions
    for url, data in ((before["url"], PDF), (from_alice["url"], PNG), (after["url"], PNG)):
        r, got = await carol.call("GET", url)
        assert r.status == 200 and got == data, url
    r, got = await alice.call("GET", before["url"])
    assert r.status == 200 and got == PDF
    users = UserService(services.require_sessions(), hasher=FAST_HASHER)
    await users.create_user("dave", PASSWORD, role="agent", display_name="Dave")
    dave = await app.h.as_user("dave")
    r, _ = await dave.call("GET", before["url"])
    assert r.status == 403
    r, _ = await _customer_download(app, f"/chat/files/{before['id']}", chat_id, token)
    assert r.status == 401  # the chat is over and forgotten: so is its token
    await alice_sub.aclose()
    await carol_sub.aclose()
