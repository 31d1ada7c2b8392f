"""A running ccserver with the text channels for the chat / forms / email-routing tests:
queues always open, the SMTP listener on an ephemeral port, replies relayed to a test
aiosmtpd sink; helpers for an agent who logs in and listens on bus topic ``agent.<id>``.

Other ``test_chat_*``, ``test_forms_*`` and ``test_email_routing*`` modules import the
fixture from here; the tests in this module check the public pages are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiosmtpd.smtp import SMTP, Envelope, Session
from test_api_harness import Api, Harness, make_settings, start_harness
from test_email_smtp import customer_mail

from ccserver.app import SERVICES
from ccserver.channels.setup import TEXT_CHANNELS, TextChannels
from ccserver.crm.users import UserService
from ccserver.settings import PACKAGE_ROOT, Settings


@dataclass
class Relay:
    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    refusing: int = 0  # > 0: answer ``refusal`` and count the attempt
    refusal: str = "451 4.3.0 relay busy, try later"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refusing:
            self.refusing += 1
            return self.refusal
        msg = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(msg, EmailMessage)
        self.messages.append((envelope.mail_from or "", list(envelope.rcpt_tos), msg))
        self.arrived.set()
        return "250 OK"

    async def wait_for(self, predicate: Any, seconds: float = 20.0) -> EmailMessage:
        async with asyncio.timeout(seconds):
            while True:
                for _, _, m in self.messages:
                    if predicate(m):
                        return m
                self.arrived.clear()
                await self.arrived.wait()


@dataclass
class TextApp:
    h: Harness
    relay: Relay

    @property
    def channels(self) -> TextChannels:
        return self.h.app[TEXT_CHANNELS]

    @property
    def cc(self) -> Any:
        from ccserver.web.routes_console import CONTACT_CENTER

        return self.h.app[CONTACT_CENTER]

    def ws_url(self) -> str:
        return str(self.h.server.make_url("/chat/ws")).replace("http://", "ws://")

    async def ready_agent(self, username: str = "alice") -> tuple[Api, str, Any]:
        """Log the agent into the console, make them ready, and subscribe to their topic."""
        api = await self.h.as_user(username)
        uid = self.h.user_ids[username]
        # Chats routed by the IVR ask for the chosen language (lang.<code>).
        users = UserService(self.h.app[SERVICES].require_sessions())
        await users.update_user(uid, {"skills": {f"lang.{c}": 1 for c in ("en", "ja", "th", "zh")}})
        sub = await self.h.app[SERVICES].require_bus().subscribe([f"agent.{uid}"]).__aenter__()
        if uid not in self.cc.agents:  # a second test of the module: still logged in
            r, body = await api.post("/api/v1/console/login")
            assert r.status == 200, body
        presence = self.cc.routing.snapshot()["agents"].get(uid, {}).get("presence")
        if presence != "ready":
            r, body = await api.post("/api/v1/console/state", json={"state": "ready"})
            assert r.status == 200, body
        return api, uid, sub


def mail(
    subject: str,
    body: str,
    sender: str = "Carol Mailer <carol@customer.example.com>",
    **headers: str,
) -> EmailMessage:
    """A customer's mail to support (``In_Reply_To=...`` style keyword headers)."""
    return customer_mail(subject, body, sender, **headers)


async def next_frame(sub: Any, kind: str, seconds: float = 20.0, **match: Any) -> dict[str, Any]:
    """The next bus message of ``kind`` (whose data has the ``match`` items)."""

    async def find() -> dict[str, Any]:
        async for m in sub:
            data = m.data.get("data") or {}
            if m.data.get("type") == kind and all(_get(data, k) == v for k, v in match.items()):
                return dict(data)
        raise AssertionError("subscription ended")

    return await asyncio.wait_for(find(), seconds)


def _get(data: dict[str, Any], key: str) -> Any:
    if key == "interaction_id" and "interaction" in data:
        return data["interaction"]["id"]
    return data.get(key)


def write_config(tmp: Path, relay_port: int, channels_toml: str = "") -> Path:
    config = tmp / "config"
    shutil.copytree(PACKAGE_ROOT / "config", config)
    routing = config / "routing.toml"
    routing.write_text(routing.read_text().replace('calendar = "office"', 'calendar = "always"'))
    mail = config / "email.toml"
    text = mail.read_text().replace("port = 2525", "port = 0")
    text = text.replace("relay_port = 25\n", f"relay_port = {relay_port}\n")
    text = text.replace("backoff_initial_seconds = 5", "backoff_initial_seconds = 0.1")
    mail.write_text(text)
    (config / "channels.toml").write_text(
        '[forms]\nqueues = { contact = "general", complaint = "general" }\n'
        "max_per_ip = 3\n"
        '[callbacks]\nqueue = "general"\nretry_delay_s = 0.2\nmax_attempts = 2\n'
        '[reply_templates.thanks]\nen = "Dear $customer_name, thank you (case $case_number)."\n'
        + channels_toml
    )
    return config


@contextlib.asynccontextmanager
async def relay_server() -> AsyncIterator[tuple[Relay, int]]:
    """A test SMTP relay (aiosmtpd) on an ephemeral loopback port."""
    relay = Relay()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(relay, hostname="relay.test", loop=loop), "127.0.0.1", 0
    )
    try:
        yield relay, int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def text_settings(tmp: Path, relay_port: int, channels_toml: str = "", **env: str) -> Settings:
    config = write_config(tmp, relay_port, channels_toml)
    return make_settings(tmp, CCSERVER_PATHS__EMAIL=str(config / "email.toml"), **env)


async def start_text_app(tmp: Path, channels_toml: str = "", **env: str) -> AsyncIterator[TextApp]:
    async with relay_server() as (relay, port):
        async for h in start_harness(text_settings(tmp, port, channels_toml, **env)):
            yield TextApp(h, relay)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def text_app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TextApp]:
    async for t in start_text_app(tmp_path_factory.mktemp("text")):
        yield t


pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_widget_and_pages_are_public_and_inert(text_app: TextApp) -> None:
    anon = text_app.h.anonymous()
    r, js = await anon.get("/chat/widget.js")
    assert r.status == 200 and r.content_type == "application/javascript"
    source = js.decode()
    assert "textContent" in source
    for sink in (".innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, sink
    r, page = await anon.get("/chat/demo")
    assert r.status == 200 and b'<script src="/chat/widget.js"></script>' in page
    r, page = await anon.get("/forms/callback")
    assert r.status == 200 and b"name='website'" in page and b"name='phone'" in page
    assert text_app.channels.smtp_port  # the listener is up on its ephemeral port
