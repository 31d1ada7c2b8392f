"""The customer's side in a real browser: the demo page embeds ``/chat/widget.js`` with one
script tag; the pre-chat form, the IVR's buttons, an agent's lines (sent over the REST API)
shown as text, and a page reload that brings the whole conversation back; a file attached
with the paperclip shows up as a download link in the agent's console, and a file the agent
attaches in the console is a link in the widget that saves the same bytes."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import browser_harness
from browser_harness import ARTIFACTS, LiveServer, login
from playwright.sync_api import expect

from ccserver.crm.users import UserService

PASSWORD = "widget-test-pw-1"


class Agent:
    """An agent driving the console API on the server's loop."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http: aiohttp.ClientSession | None = None
        self.csrf = ""

    async def _login(self) -> None:
        users = UserService(self.server.sessions())
        await users.create_user(
            "wagent", PASSWORD, role="agent", display_name="Wendy Agent",
            skills={"lang.en": 1},
        )  # fmt: skip
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        body = await self._post("/api/v1/auth/login", username="wagent", password=PASSWORD)
        self.csrf = body["csrf_token"]
        await self._post("/api/v1/console/login")
        await self._post("/api/v1/console/state", state="ready")

    async def _post(self, path: str, **data: Any) -> Any:
        assert self.http is not None
        async with self.http.post(
            self.server.url + path, json=data, headers={"X-CSRF-Token": self.csrf}
        ) as r:
            assert r.status < 300, (path, r.status, await r.text())
            return await r.json()

    async def _accept_when_offered(self, chat_id: str) -> None:
        for _ in range(300):  # the offer is made on the server's loop: poll it (15 s)
            if chat_id in self.server.cc.offers:
                break
            await asyncio.sleep(0.05)
        await self._post(f"/api/v1/interactions/{chat_id}/accept")

    def login(self) -> None:
        self.server.call(self._login())

    def accept(self, chat_id: str) -> None:
        self.server.call(self._accept_when_offered(chat_id))

    def say(self, chat_id: str, text: str) -> None:
        self.server.call(self._post(f"/api/v1/interactions/{chat_id}/chat", text=text))

    def close(self) -> None:
        if self.http is not None:
            self.server.call(self.http.close())


def test_customer_chats_in_the_widget_and_a_reload_keeps_the_conversation(
    live_server: LiveServer, browser: Any
) -> None:
    agent = Agent(live_server)
    agent.login()
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(live_server.url + "/chat/demo")
        pre = page.locator("#ccs-prechat")
        pre.locator("input[name=name]").fill("Web <b>Customer</b>")
        pre.locator("input[name=email]").fill("web.customer@example.com")
        pre.locator("input[name=phone]").fill("+1 415 555 0190")
        pre.locator("input[name=consent]").check()
        pre.get_by_role("button", name="Start chat").click()
        expect(page.locator("#ccs-status")).to_contain_text("Case C-")
        page.locator('#ccs-extra button[data-value="1"]').click()  # English
        page.locator('#ccs-extra button[data-value="0"]').click()  # an agent, please
        chat_id = page.evaluate("JSON.parse(sessionStorage.getItem('ccs_chat')).chatId")
        agent.accept(chat_id)
        log = page.locator("#ccs-log")
        expect(log).to_contain_text("Wendy Agent joined")

        page.locator("#ccs-text").fill("<img src=x onerror=alert(1)> hello")
        page.locator("#ccs-input button[type=submit]").click()
        expect(log).to_contain_text("<img src=x onerror=alert(1)> hello")
        agent.say(chat_id, "<b>Hi!</b> How can I help?")
        expect(log).to_contain_text("<b>Hi!</b> How can I help?")  # text, not markup
        assert log.locator(".ccs-body img").count() == 0
        assert log.locator(".ccs-body b").count() == 0
        page.screenshot(path=str(ARTIFACTS / "chat_widget.png"))

        page.reload()
        expect(page.locator("#ccs-log")).to_contain_text("<b>Hi!</b> How can I help?")
        agent.say(chat_id, "Still here after your reload.")
        expect(page.locator("#ccs-log")).to_contain_text("Still here after your reload.")
        assert errors == []
    finally:
        ctx.close()
        agent.close()


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2
PDF = b"%PDF-1.7\n" + b"1 0 obj << >> endobj\n" * 40 + b"%%EOF\n"


async def _console_agent(server: LiveServer) -> None:
    """A console agent of their own, and a quiet floor: earlier chats end and every other
    agent logs out, so the next chat can only be offered to them."""
    users = UserService(server.sessions())
    await users.create_user(
        "fconsole", browser_harness.PASSWORD, role="agent", display_name="Fay Console",
        skills={"lang.en": 1},
    )  # fmt: skip
    cc = server.cc
    for iid in list(cc.interactions):
        await cc.customer_left(iid)
    for other in list(cc.agents):
        if cc.agent_state_json(other)["state"] != "logged_out":
            await cc.agent_logout(other)


def test_customer_attaches_a_file_and_the_console_links_it(
    live_server: LiveServer, browser: Any
) -> None:
    live_server.call(_console_agent(live_server))
    agent_ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    customer_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        errors: list[str] = []
        console = agent_ctx.new_page()
        console.on("pageerror", lambda e: errors.append(str(e)))
        login(console, live_server.url, "/console", "fconsole")
        expect(console.locator("#link")).to_have_attribute("aria-label", "Connection: open")
        if console.locator("#agent-state").inner_text() != "ready":
            console.get_by_role("button", name="Ready", exact=True).click()
        expect(console.locator("#agent-state")).to_have_text("ready")

        page = customer_ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(live_server.url + "/chat/demo")
        pre = page.locator("#ccs-prechat")
        pre.locator("input[name=name]").fill("File Customer")
        pre.locator("input[name=email]").fill("file.customer@example.com")
        pre.locator("input[name=consent]").check()
        pre.get_by_role("button", name="Start chat").click()
        expect(page.locator("#ccs-status")).to_contain_text("Case C-")
        page.locator('#ccs-extra button[data-value="1"]').click()  # English
        page.locator('#ccs-extra button[data-value="0"]').click()  # an agent, please
        chat_id = page.evaluate("JSON.parse(sessionStorage.getItem('ccs_chat')).chatId")
        offer = console.locator(f'.card.offer[data-id="{chat_id}"]')
        offer.get_by_role("button", name="Accept").click()
        log = page.locator("#ccs-log")
        expect(log).to_contain_text("Fay Console joined")

        # Refused in the widget before sending (the type is not allowed), and said so.
        page.locator("#ccs-file").set_input_files(
            files=[{"name": "page.html", "mimeType": "text/html", "buffer": b"<b>x</b>"}]
        )
        expect(log).to_contain_text("Not sent: page.html")

        hostile = "<img src=x onerror=alert(1)>.png"
        with page.expect_file_chooser() as chooser:
            page.get_by_role("button", name="Attach a file").click()
        chooser.value.set_files(files=[{"name": hostile, "mimeType": "image/png", "buffer": PNG}])
        shown = "img src=x onerror=alert(1).png"  # the name made safe by the server
        expect(log).to_contain_text(f"You: File: {shown} (520 B)")
        assert log.locator("img").count() == 0
        page.screenshot(path=str(ARTIFACTS / "chat_widget_file.png"))

        card = console.locator(f'.card.interaction[data-id="{chat_id}"]')
        link = card.get_by_role("link", name=re.compile("^Download "))
        expect(link).to_contain_text(shown)
        expect(link).to_have_attribute(
            "href", re.compile(r"^/api/v1/interactions/[0-9a-f-]+/files/")
        )
        assert card.get_by_role("log").locator("img").count() == 0
        console.screenshot(path=str(ARTIFACTS / "console_chat_file.png"))
        with console.expect_download() as download:
            link.click()
        assert Path(download.value.path()).read_bytes() == PNG
        assert download.value.suggested_filename == shown

        # The agent attaches a file in the console: a link in the widget, saved byte for byte
        # (the widget POSTs the chat id and token, never a cookie or a token in the URL).
        with console.expect_file_chooser() as chooser:
            card.get_by_role("button", name="Attach a file").click()
        chooser.value.set_files(
            files=[{"name": "terms.pdf", "mimeType": "application/pdf", "buffer": PDF}]
        )
        expect(card.get_by_role("link", name="Download terms.pdf (855 B)")).to_be_visible()
        theirs = log.get_by_role("link", name="Download terms.pdf")
        expect(theirs).to_have_text("File: terms.pdf (855 B)")
        expect(log.locator(".ccs-agent")).to_contain_text("Agent: File: terms.pdf")
        with page.expect_download() as download:
            theirs.click()
        assert Path(download.value.path()).read_bytes() == PDF
        assert download.value.suggested_filename == "terms.pdf"
        page.screenshot(path=str(ARTIFACTS / "chat_widget_agent_file.png"))
        assert errors == []
    finally:
        agent_ctx.close()
        customer_ctx.close()
