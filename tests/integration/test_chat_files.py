"""Files in the web chat, through the public interfaces: the customer (``websockets`` plays
the widget, aiohttp its ``fetch``) uploads to ``POST /chat/upload`` with the chat's id and
token; the agent gets the file line on bus topic ``agent.<id>``, watchers on
``interaction.<id>``; the agent downloads the same bytes as an attachment; the line is a
``messages`` row. Every limit is refused with its own status and code, and a refused file
leaves nothing on disk. Runs on SQLite and PostgreSQL (the download after the chat is over
reads the CRM rows)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import websockets
from aiohttp import FormData
from sqlalchemy import select
from test_api_harness import FAST_HASHER, PASSWORD, Api
from test_chat_flow import buttons, recv_until, send
from test_chat_harness import TextApp, next_frame, start_text_app

from ccserver.app import SERVICES
from ccserver.crm.models import Message
from ccserver.crm.users import UserService

pytestmark = pytest.mark.asyncio(loop_scope="module")

LIMIT = 4096
CHANNELS = f"""
[chat]
max_file_bytes = {LIMIT}
max_files = 3
upload_burst = 12.0
uploads_per_minute = 0.5
"""
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n" + b"1 0 obj << >> endobj\n" * 20 + b"%%EOF\n"


@pytest_asyncio.fixture(loop_scope="module")
async def files_app(tmp_path: Path, db_url: str) -> AsyncIterator[TextApp]:
    # db_url (tests/conftest.py): a fresh migrated SQLite or PostgreSQL database per test.
    async for t in start_text_app(tmp_path, CHANNELS, CCSERVER_DATABASE__URL=db_url):
        yield t


def _form(chat_id: str, token: str, data: bytes, name: str, ctype: str = "") -> FormData:
    form = FormData()
    form.add_field("chat_id", chat_id)
    form.add_field("token", token)
    form.add_field("file", data, filename=name, content_type=ctype or "application/octet-stream")
    return form


async def _start(ws: Any, name: str, email: str, phone: str) -> dict[str, Any]:
    await send(ws, "start", name=name, email=email, phone=phone, topic=None, consent=True)
    session: dict[str, Any] = (await recv_until(ws, "session"))["data"]
    await recv_until(ws, "msg", buttons)  # the IVR's first menu: the chat is active
    return session


async def _to_queue(ws: Any) -> None:
    await send(ws, "choice", value="1")
    await recv_until(ws, "msg", lambda f: "0" in {b["value"] for b in f["data"].get("buttons", [])})
    await send(ws, "choice", value="0")  # an agent, please


def _chat_dir(app: TextApp, chat_id: str) -> Path:
    return Path(app.h.app[SERVICES].settings.server.data_dir) / "attachments" / "chat" / chat_id


def _stored(app: TextApp, chat_id: str) -> list[str]:
    folder = _chat_dir(app, chat_id)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def _other_agent(app: TextApp) -> Api:
    users = UserService(app.h.app[SERVICES].require_sessions(), hasher=FAST_HASHER)
    await users.create_user("carol", PASSWORD, role="agent", display_name="Carol")
    return await app.h.as_user("carol")


async def test_a_file_reaches_the_agent_who_downloads_the_same_bytes(files_app: TextApp) -> None:
    app = files_app
    api, _uid, sub = await app.ready_agent("alice")
    bus = app.h.app[SERVICES].require_bus()
    anon = app.h.anonymous()
    async with websockets.connect(app.ws_url()) as ws:
        session = await _start(ws, "Fern File", "fern.file@example.com", "+1 415 555 0150")
        chat_id, token = session["chat_id"], session["token"]
        assert session["uploads"]["max_bytes"] == LIMIT and session["uploads"]["max_files"] == 3
        assert ".pdf" in session["uploads"]["accept"].split(",")
        assert ".html" not in session["uploads"]["accept"].split(",")
        await _to_queue(ws)
        await next_frame(sub, "offer", interaction_id=chat_id)

        # Queued, before any agent: the file is kept and reaches the agent with the history.
        r, queued = await anon.call(
            "POST",
            "/chat/upload",
            data=_form(chat_id, token, PDF, "invoice.pdf", "application/pdf"),
        )
        assert r.status == 201, queued
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert (queued["name"], queued["size"], queued["content_type"]) == (
            "invoice.pdf", len(PDF), "application/pdf",
        )  # fmt: skip
        echo = await recv_until(ws, "msg", lambda f: f["data"].get("kind") == "file")
        assert echo["data"]["from"] == "customer" and echo["data"]["file"]["id"] == queued["id"]
        assert echo["seq"] == queued["seq"]

        r, body = await api.post(f"/api/v1/interactions/{chat_id}/accept")
        assert r.status == 200, body
        await recv_until(ws, "agent_joined")
        history = await next_frame(sub, "chat_history", interaction_id=chat_id)
        files = [ln["file"] for ln in history["lines"] if ln.get("kind") == "file"]
        assert [f["id"] for f in files] == [queued["id"]]

        # Connected: the line goes to the agent's topic and to whoever watches the chat.
        async with bus.subscribe([f"interaction.{chat_id}"]) as watch:
            r, photo = await anon.call(
                "POST", "/chat/upload", data=_form(chat_id, token, PNG, "photo.png", "image/png")
            )
            assert r.status == 201, photo
            line = await next_frame(sub, "chat_message", interaction_id=chat_id)
            watched = await next_frame(watch, "chat_message", interaction_id=chat_id)
        for got in (line, watched):
            assert got["from"] == "customer" and got["kind"] == "file"
            assert got["file"] == {
                k: photo[k] for k in ("id", "name", "content_type", "size", "url")
            }

        r, data = await api.call("GET", line["file"]["url"])
        assert r.status == 200 and data == PNG
        assert r.headers["Content-Type"] == "application/octet-stream"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Content-Disposition"] == "attachment; filename*=UTF-8''photo.png"
        sup = await app.h.as_user("sup")
        r, data = await sup.call("GET", queued["url"])
        assert r.status == 200 and data == PDF
        carol = await _other_agent(app)
        r, err = await carol.call("GET", queued["url"])
        assert r.status == 403 and err["error"]["code"] == "forbidden"
        r, err = await app.h.anonymous().call("GET", queued["url"])
        assert r.status == 401
        r, err = await api.call("GET", f"/api/v1/interactions/{chat_id}/files/not-an-id")
        assert r.status == 404

        await send(ws, "leave")
        await recv_until(ws, "survey")

    # The chat is over and gone from memory: the CRM rows still say whose file it is.
    r, body = await api.post(
        f"/api/v1/interactions/{chat_id}/wrap-up",
        json={"disposition": app.cc.dispositions[0] if app.cc.dispositions else None},
    )
    assert r.status == 200, body
    services = app.h.app[SERVICES]
    await services.require_outbox().flush()
    chat = app.channels.chat
    await chat.tick(app.cc.clock() + chat.options.abandon_after_s + 1)
    assert chat_id not in chat.sessions
    r, data = await api.call("GET", queued["url"])
    assert r.status == 200 and data == PDF
    r, _ = await carol.call("GET", queued["url"])
    assert r.status == 403

    async with services.require_sessions()() as db:
        rows = (
            await db.execute(select(Message.body_text, Message.headers, Message.attachments))
        ).all()
    kept = {a["id"]: (text, headers, a) for text, headers, atts in rows for a in atts or []}
    for sent, body_bytes in ((queued, PDF), (photo, PNG)):
        text, headers, entry = kept[sent["id"]]
        assert text == sent["name"] and headers == {"kind": "file"}
        assert entry["sha256"] == hashlib.sha256(body_bytes).hexdigest()
        assert (entry["size"], entry["interaction_id"]) == (len(body_bytes), chat_id)
    await sub.aclose()


async def test_each_limit_is_refused_with_its_code_and_leaves_nothing(files_app: TextApp) -> None:
    app = files_app
    anon = app.h.anonymous()
    async with websockets.connect(app.ws_url()) as ws:
        session = await _start(ws, "Lim Its", "lim.its@example.com", "+1 415 555 0151")
        chat_id, token = session["chat_id"], session["token"]

        async def up(data: bytes, name: str, **kw: Any) -> tuple[int, Any]:
            form = _form(kw.get("chat_id", chat_id), kw.get("token", token), data, name)
            r, body = await anon.call("POST", "/chat/upload", data=form)
            assert r.headers.get("Access-Control-Allow-Origin") == "*"  # the widget reads it
            return r.status, body

        status, err = await up(b"x" * (LIMIT + 1), "big.txt")  # streamed past the limit
        assert (status, err["error"]["code"]) == (413, "payload_too_large")
        assert err["error"]["details"]["limit_bytes"] == LIMIT
        status, err = await up(b"x" * (LIMIT + 64 * 1024), "huge.txt")  # declared too large
        assert (status, err["error"]["code"]) == (413, "payload_too_large")
        for data, name in (
            (b"<html><script>alert(1)</script></html>", "page.html"),
            (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "logo.svg"),
            (b"MZ\x90\x00\x03\x00\x00\x00", "setup.exe"),
            (b"<html><script>alert(1)</script></html>", "cat.png"),  # not what it says
            (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "notes.txt"),  # a binary, not text
        ):
            status, err = await up(data, name)
            assert (status, err["error"]["code"]) == (415, "file_type_not_allowed"), name
        assert _stored(app, chat_id) == []  # nothing partial, nothing refused
        status, err = await up(b"", "empty.txt")
        assert status == 422

        for bad in ({"chat_id": "00000000-0000-7000-8000-000000000000"}, {"token": "guess"}):
            status, err = await up(b"hello", "hello.txt", **bad)
            assert (status, err["error"]["code"]) == (401, "unknown_chat"), bad
        form = FormData()
        form.add_field("file", b"hello", filename="hello.txt", content_type="text/plain")
        r, err = await anon.call("POST", "/chat/upload", data=form)  # no chat id or token
        assert r.status == 401 and err["error"]["code"] == "unknown_chat"
        assert "before the file" in err["error"]["message"]
        r, err = await anon.call("POST", "/chat/upload", json={"file": "x"})
        assert r.status == 400

        ids = []
        for i, (data, name) in enumerate(
            ((PNG, "a.png"), (PDF, "b.pdf"), (b"c,d\n1,2\n", "c.csv"))
        ):
            status, ok = await up(data, name)
            assert status == 201, (i, ok)
            ids.append(ok["id"])
        status, err = await up(b"one more", "d.txt")
        assert (status, err["error"]["code"]) == (409, "too_many_files")
        assert err["error"]["details"]["limit"] == 3
        assert _stored(app, chat_id) == sorted(ids)  # exactly the accepted files, no .part


async def test_uploads_are_rate_limited_per_chat_and_end_with_the_chat(files_app: TextApp) -> None:
    app = files_app
    anon = app.h.anonymous()
    async with websockets.connect(app.ws_url()) as ws:
        session = await _start(ws, "Ray Rate", "ray.rate@example.com", "+1 415 555 0152")
        chat_id, token = session["chat_id"], session["token"]

        def form() -> FormData:
            return _form(chat_id, token, b"<b>x</b>", "x.html")

        statuses = [
            (await anon.call("POST", "/chat/upload", data=form()))[0].status for _ in range(12)
        ]
        assert statuses == [415] * 12  # refused attempts count towards the rate too
        r, err = await anon.call("POST", "/chat/upload", data=form())
        assert r.status == 429 and err["error"]["code"] == "rate_limited"
        assert int(r.headers["Retry-After"]) > 0

    async with websockets.connect(app.ws_url()) as ws:
        session = await _start(ws, "Eve Ended", "eve.ended@example.com", "+1 415 555 0153")
        await send(ws, "leave")
        await recv_until(ws, "ended")
        r, err = await anon.call(
            "POST", "/chat/upload", data=_form(session["chat_id"], session["token"], PNG, "a.png")
        )
        assert r.status == 409 and err["error"]["code"] == "chat_not_active"


async def test_hostile_names_stay_names(files_app: TextApp) -> None:
    app = files_app
    anon = app.h.anonymous()
    data_dir = Path(app.h.app[SERVICES].settings.server.data_dir)
    async with websockets.connect(app.ws_url()) as ws:
        session = await _start(ws, "Hal Hostile", "hal.hostile@example.com", "+1 415 555 0154")
        chat_id, token = session["chat_id"], session["token"]

        async def up(data: bytes, name: str) -> tuple[int, Any]:
            r, body = await anon.call(
                "POST", "/chat/upload", data=_form(chat_id, token, data, name)
            )
            return r.status, body

        assert (await up(b"root:x:0:0", "../../etc/passwd"))[0] == 415  # no type at all
        status, passwd = await up(b"root:x:0:0", "../../etc/passwd.txt")
        assert status == 201 and passwd["name"] == "passwd.txt"
        status, img = await up(PNG, "<img src=x onerror=alert(1)>.png")
        assert status == 201 and "<" not in img["name"] and ">" not in img["name"]
        echoes = [
            await recv_until(ws, "msg", lambda f: f["data"].get("kind") == "file") for _ in range(2)
        ]
        assert [e["data"]["file"]["name"] for e in echoes] == [passwd["name"], img["name"]]

    # Stored under the chat's folder by generated id; nothing was written beside it.
    assert _stored(app, chat_id) == sorted([passwd["id"], img["id"]])
    assert not [p for p in data_dir.parent.rglob("passwd*") if p.is_file()]
    sup = await app.h.as_user("sup")
    r, data = await sup.call("GET", img["url"])
    assert r.status == 200 and data == PNG
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=UTF-8''") and "<" not in disposition
    assert '"' not in disposition and " " not in disposition.split("''", 1)[1]
