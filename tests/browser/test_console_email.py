"""An email sent over SMTP becomes an offer in the agent's console (Chromium); the agent
answers with a reply template and their own words, and the reply reaches the relay with the
threading headers and the case token; the console says it was sent. The customer's subject
is shown as text (a script in it stays inert). When the relay refuses a reply for good, the
agent is told why, and a supervisor sees it under Outbound mail and sends it again."""

from __future__ import annotations

import email.utils
import re
import shutil
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from browser_harness import PASSWORD, LiveServer, login
from playwright.sync_api import expect
from smtp_relay import ThreadedRelay

from ccserver.channels.setup import TEXT_CHANNELS
from ccserver.crm.users import UserService
from ccserver.settings import PACKAGE_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def relay() -> Iterator[ThreadedRelay]:
    r = ThreadedRelay()
    r.start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, relay: ThreadedRelay
) -> Iterator[LiveServer]:
    data: Path = tmp_path_factory.mktemp("ccserver-email")
    server = LiveServer(data)
    # The shipped reply templates, next to the routing file as in a real config folder.
    shutil.copy(PACKAGE_ROOT / "config" / "channels.toml", data / "channels.toml")
    settings = data / "email.toml"  # written by LiveServer, read when the server starts
    text = settings.read_text().replace("relay_port = 25\n", f"relay_port = {relay.port}\n")
    settings.write_text(text)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _seed(server: LiveServer) -> str:
    erin = await UserService(server.sessions()).create_user(
        "erin", PASSWORD, role="agent", display_name="Erin Mailer"
    )
    return erin.id


def test_agent_answers_an_email_from_the_console(
    live_server: LiveServer, relay: ThreadedRelay, browser: Any
) -> None:
    server = live_server
    server.call(_seed(server))
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        dialogs: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        login(page, server.url, "/console", "erin")
        expect(page.locator("#link")).to_have_attribute("aria-label", "Connection: open")
        page.get_by_role("button", name="Ready", exact=True).click()
        expect(page.locator("#agent-state")).to_have_text("ready")

        original = EmailMessage()
        original["From"] = "Mina Mail <mina@customer.example.com>"
        original["To"] = "support@example.com"
        original["Subject"] = "Broken zipper <script>alert(1)</script>"
        original["Message-ID"] = email.utils.make_msgid(domain="customer.example.com")
        original.set_content("The zipper of my jacket broke on day two.")
        port = server.app[TEXT_CHANNELS].smtp_port if server.app else None
        assert port
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
            client.send_message(original)
        ack = relay.wait_for(lambda m: m["Auto-Submitted"] == "auto-replied")
        token = re.search(r"\[#(C-\d+)\]", str(ack["Subject"]))
        assert token, ack["Subject"]

        offer = page.locator(".card.offer").filter(has_text="Incoming email")
        expect(offer).to_be_visible()
        offer.get_by_role("button", name="Accept").click()
        pane = page.get_by_role("form", name="Email reply")
        expect(pane).to_be_visible()
        expect(page.locator("body")).to_contain_text("Broken zipper <script>alert(1)</script>")
        pane.get_by_label("Reply template").select_option("thanks")
        pane.get_by_role("textbox", name="Email reply").fill("A new jacket leaves today.")
        pane.get_by_role("button", name="Send reply").click()
        expect(page.locator("#status")).to_contain_text(f"Reply sent (case {token.group(1)})")

        reply = relay.wait_for(
            lambda m: m["In-Reply-To"] == original["Message-ID"] and "Auto-Submitted" not in m
        )
        assert original["Message-ID"] in str(reply["References"])
        assert (
            reply["Subject"] == f"Re: Broken zipper <script>alert(1)</script> [#{token.group(1)}]"
        )
        assert reply["To"] == "mina@customer.example.com"
        plain = reply.get_body(("plain",))
        assert plain is not None
        text = plain.get_content()
        assert text.startswith("Dear Mina Mail,") and f"case {token.group(1)}" in text
        assert "A new jacket leaves today." in text
        assert errors == [] and dialogs == []
    finally:
        ctx.close()


async def _seed_supervisor(server: LiveServer) -> None:
    await UserService(server.sessions()).create_user(
        "sven", PASSWORD, role="supervisor", display_name="Sven Supervisor"
    )


def test_a_refused_reply_is_shown_and_a_supervisor_sends_it_again(
    live_server: LiveServer, relay: ThreadedRelay, browser: Any
) -> None:
    server = live_server
    server.call(_seed_supervisor(server))
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    sup_ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        agent, sup = ctx.new_page(), sup_ctx.new_page()
        login(agent, server.url, "/console", "erin")  # still holds the first test's email
        pane = agent.get_by_role("form", name="Email reply")
        expect(pane).to_be_visible()
        relay.refusal = "550 5.1.1 mailbox unavailable"
        pane.get_by_role("textbox", name="Email reply").fill("Tracking number: 4711.")
        pane.get_by_role("button", name="Send reply").click()
        expect(agent.locator("#status")).to_contain_text("Reply could not be delivered")
        expect(agent.locator("#status")).to_contain_text("550")

        login(sup, server.url, "/supervisor", "sven")
        mail = sup.get_by_role("region", name="Outbound mail")
        row = mail.locator("tbody tr", has_text="mina@customer.example.com")
        expect(row).to_contain_text("failed")
        expect(row.locator(".mail-error")).to_contain_text("550 5.1.1 mailbox unavailable")
        relay.refusal = None
        row.get_by_role("button", name="Retry mail to mina@customer.example.com").click()
        expect(sup.locator("#status")).to_contain_text("queued again")
        relay.wait_for(lambda m: "Tracking number: 4711." in str(m.get_body(("plain",))))
        expect(agent.locator("#status")).to_contain_text("Reply sent")
        mail.get_by_label("Mail to show").select_option("sent")
        expect(
            mail.locator("tbody tr", has_text="mina@customer.example.com").first
        ).to_contain_text("sent")
    finally:
        ctx.close()
        sup_ctx.close()
