"""The customer's side in a real browser: the demo page embeds ``/chat/widget.js`` with one
script tag; the pre-chat form, the IVR's buttons, an agent's lines (sent over the REST API)
shown as text, and a page reload that brings the whole conversation back."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from browser_harness import ARTIFACTS, LiveServer
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
