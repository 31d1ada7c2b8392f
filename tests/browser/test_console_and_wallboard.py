"""The agent console and the supervisor wallboard in Chromium, as people use them.

An agent logs in and a call waits for them (the supervisor sees the queue); the agent's
console loses its WebSocket, goes ready, and the offer made while it was away arrives when it
reconnects (resume by seq) with the screen pop of the right customer and their open
complaint; the agent accepts, holds, hangs up and wraps up with a disposition; the supervisor
watches the agent change state live and barges in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from typing import Any

import pytest
from browser_harness import ARTIFACTS, PASSWORD, LiveServer, login, unnamed_controls
from playwright.sync_api import Page, expect
from sqlalchemy import select

from ccserver.app import SERVICES
from ccserver.crm.customers import CustomerService
from ccserver.crm.models import AuditEntry, Complaint
from ccserver.crm.users import UserService
from ccserver.domain import Channel, InteractionState
from ccserver.runtime.contact_center import AgentInfo
from ccserver.web.hub import ALERTS_TOPIC

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def _seed(server: LiveServer) -> dict[str, Any]:
    sessions = server.sessions()
    users = UserService(sessions)
    agent = await users.create_user(
        "alice", PASSWORD, role="agent", display_name="Alice Martin", endpoint="PJSIP/1001"
    )
    bob = await users.create_user(
        "bob", PASSWORD, role="agent", display_name="Bob Chen", skills={"lang.en": 3}
    )
    await users.create_user("sam", PASSWORD, role="supervisor", display_name="Sam Supervisor")
    customer = await CustomerService(sessions).create(
        {
            "display_name": "Hanako Yamada <b>VIP</b>",
            "phones": ["+81 3-1234-5678"],
            "tier": "gold",
            "segment": "loyal",
            "preferred_language": "ja",
        }
    )
    async with sessions.begin() as s:
        s.add(
            Complaint(
                case_number="CMP-TEST-0042",
                customer_id=customer.id,
                category="delivery",
                subcategory="late",
                severity="high",
                description="Parcel two weeks late",
                status="investigating",
                sla_due_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
            )
        )
    return {"agent_id": agent.id, "bob_id": bob.id, "customer_id": customer.id}


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> dict[str, Any]:
    return live_server.call(_seed(live_server))


def _unnamed_controls(page: Page) -> list[str]:
    """Controls a screen reader would announce without a name."""
    return unnamed_controls(page)


async def _call(server: LiveServer, customer_id: str | None, caller: str = "+81312345678") -> str:
    cc = server.cc
    i = await cc.new_interaction(
        Channel.VOICE,
        customer_id=customer_id,
        attributes={
            "caller_id": caller,
            "ivr_path": ["welcome", "identify", "menu"],
            "ivr_inputs": {"menu": "2"},
            "ewt_at_arrival": 42.0,
        },
    )
    await cc.enqueue(i.id, "support", priority=3)
    return i.id


def test_agent_and_supervisor_handle_a_call_live(
    live_server: LiveServer, browser: Any, seeded: dict[str, Any]
) -> None:
    server = live_server
    base = server.url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    agent_ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    sup_ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        agent = agent_ctx.new_page()
        sup = sup_ctx.new_page()
        errors: list[str] = []
        for p in (agent, sup):
            p.on("pageerror", lambda e: errors.append(str(e)))

        login(agent, base, "/console", "alice")
        expect(agent.locator("#agent-name")).to_have_text("Alice Martin")
        expect(agent.locator("#agent-state")).to_have_text("not ready")
        expect(agent.locator("#link")).to_have_attribute("aria-label", "Connection: open")

        login(sup, base, "/supervisor", "sam")
        alice_row = sup.locator(f'tr[data-agent="{seeded["agent_id"]}"]')
        expect(alice_row.locator(".agent-state")).to_have_text("not ready")

        # A call waits in "support": the supervisor sees the queue.
        iid = server.call(_call(server, seeded["customer_id"]))
        support = sup.locator('tr[data-queue="support"]')
        expect(support.locator(".waiting")).to_have_text("1")
        expect(sup.locator(f'tr[data-interaction="{iid}"]')).to_contain_text("queued")

        # The console loses its socket; going ready (REST) makes the offer while it is away.
        agent.evaluate("() => { window.ccsLive.stopped = true; window.ccsLive.drop(); }")
        expect(agent.locator("#link")).to_have_attribute("aria-label", "Connection: closed")
        agent.keyboard.press("Alt+R")  # shortcut for Ready
        expect(alice_row.locator(".agent-state")).not_to_have_text("not ready")
        assert server.cc.offers.get(iid, ("", 0))[0] == seeded["agent_id"]
        expect(agent.locator(".card.offer")).to_have_count(0)

        agent.evaluate("() => { window.ccsLive.stopped = false; window.ccsLive.connect(); }")
        offer = agent.locator(f'.card.offer[data-id="{iid}"]')
        expect(offer).to_be_visible()
        expect(agent.locator("#status")).to_contain_text("caught up")
        expect(offer.locator(".countdown")).to_contain_text("Expires in")
        # Screen pop: the right customer (markup in the name shown as text), the complaint,
        # why the call came here.
        expect(agent.locator("#customer-name")).to_have_text("Hanako Yamada <b>VIP</b>")
        expect(agent.locator("#customer-card")).to_contain_text("gold / loyal")
        expect(agent.locator("#complaints")).to_contain_text("CMP-TEST-0042")
        expect(agent.locator("#complaints")).to_contain_text("investigating")
        expect(agent.locator("#pop-body")).to_contain_text("welcome \u203a identify \u203a menu")
        expect(agent.locator("#pop-body")).to_contain_text("menu=2")
        assert agent.locator("#customer-name b").count() == 0
        agent.screenshot(path=str(ARTIFACTS / "console_offer.png"))
        assert _unnamed_controls(agent) == []
        # (the check itself finds a control without a name)
        agent.evaluate("() => document.body.append(document.createElement('button'))")
        assert len(_unnamed_controls(agent)) == 1
        agent.evaluate("() => document.body.lastElementChild.remove()")

        offer.get_by_role("button", name="Accept").click()
        card = agent.locator(f'.card.interaction[data-id="{iid}"]')
        expect(card).to_contain_text("connected")
        expect(agent.locator(".card.offer")).to_have_count(0)
        expect(alice_row.locator(".agent-state")).to_have_text("busy")

        card.get_by_role("button", name="Hold").click()
        expect(card).to_contain_text("on hold")
        assert "hold" in server.voice.actions(iid)

        # The supervisor barges in on the live call.
        row = sup.locator(f'tr[data-interaction="{iid}"]')
        expect(row).to_contain_text("on hold")
        row.locator('button[data-mode="barge"]').click()
        expect(sup.locator("#status")).to_contain_text("barge: connected")
        barge = [c for c in server.voice.calls if c[0] == "monitor" and c[1] == iid]
        assert barge and barge[-1][2]["mode"] == "barge"
        sup.screenshot(path=str(ARTIFACTS / "supervisor_wallboard.png"))
        assert _unnamed_controls(sup) == []
        assert _unnamed_controls(agent) == []  # with the call controls showing

        card.get_by_role("button", name="Record", exact=True).click()
        stop = card.get_by_role("button", name="Stop recording")
        expect(stop).to_have_attribute("aria-pressed", "true")
        stop.click()
        expect(card.get_by_role("button", name="Record", exact=True)).to_be_visible()
        assert server.voice.actions(iid)[-2:] == ["record", "stop_record"]
        card.get_by_role("button", name="Resume").click()
        expect(card).not_to_contain_text("on hold")
        card.get_by_role("button", name="Hang up").click()
        wrap = agent.locator("#wrapup")
        expect(wrap).to_be_visible()
        expect(alice_row.locator(".agent-state")).to_have_text("wrap up")

        # The disposition is mandatory: the form says so and nothing is sent.
        wrap.get_by_role("button", name="Finish wrap-up").click()
        expect(agent.locator("#status")).to_contain_text("Choose a disposition")
        assert server.cc.interactions[iid].state == InteractionState.WRAP_UP
        wrap.get_by_label("Disposition").select_option("resolved")
        wrap.get_by_label("Notes").fill("Promised a refund <script>x</script>")
        wrap.get_by_label("Resolved on first contact").check()
        agent.screenshot(path=str(ARTIFACTS / "console_wrapup.png"))
        agent.keyboard.press("Alt+W")
        expect(agent.locator("#status")).to_contain_text("Wrap-up saved")
        expect(wrap).to_be_hidden()
        expect(alice_row.locator(".agent-state")).to_have_text("ready")
        expect(alice_row).to_contain_text("1")  # handled today
        assert iid not in server.cc.interactions
        assert errors == []
    finally:
        agent_ctx.close()
        sup_ctx.close()

    async def audited() -> list[str]:
        async with server.sessions()() as s:
            rows = (await s.scalars(select(AuditEntry.action))).all()
            return list(rows)

    assert "monitor_barge" in server.call(audited())


async def _only_agent(server: LiveServer, user_id: str) -> None:
    """A quiet floor for the next test: earlier tests' callers hang up, and every other agent
    logs out so the next call can only go to ``user_id``."""
    cc = server.cc
    for iid in list(cc.interactions):
        await cc.customer_left(iid)
    for other in list(cc.agents):
        if other != user_id and cc.agent_state_json(other)["state"] != "logged_out":
            await cc.agent_logout(other)


def test_unknown_caller_reject_create_customer_search_and_transfer(
    live_server: LiveServer, browser: Any, seeded: dict[str, Any]
) -> None:
    server = live_server
    base = server.url
    server.call(_only_agent(server, seeded["bob_id"]))
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # A wrong password is refused on the page; the right one lands on the console.
        page.goto(base + "/login")
        page.get_by_label("User name").fill("bob")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#status")).to_contain_text("wrong user name or password")
        expect(page.get_by_label("Password")).to_have_value("")
        login(page, base, "/console", "bob")
        expect(page.locator("#link")).to_have_attribute("aria-label", "Connection: open")
        page.get_by_role("button", name="Ready", exact=True).click()
        expect(page.locator("#agent-state")).to_have_text("ready")

        iid = server.call(_call(server, None, caller="+14155550199"))
        offer = page.locator(f'.card.offer[data-id="{iid}"]')
        expect(offer).to_be_visible()
        expect(page.locator("#customer-card")).to_contain_text("Unknown caller")
        expect(page.locator("#customer-card")).to_contain_text("+14155550199")

        # Reject: the offer goes away and the agent must go ready again by hand.
        offer.get_by_role("button", name="Reject").click()
        expect(page.locator(".card.offer")).to_have_count(0)
        expect(page.locator("#agent-state")).not_to_have_text("ready")
        page.get_by_label("Not ready reason").select_option("coaching")
        page.keyboard.press("Alt+R")
        expect(offer).to_be_visible()  # offered again, from the head of the queue
        page.keyboard.press("Alt+A")
        expect(page.locator(f'.card.interaction[data-id="{iid}"]')).to_contain_text("connected")

        # Link the number to an existing customer found by name.
        page.get_by_role("button", name="Link to existing").click()
        expect(page.get_by_label("Search customers")).to_be_focused()
        page.get_by_label("Search customers").fill("Hanako")
        page.get_by_role("button", name="Search").click()
        hit = page.locator("#search-results button", has_text="Hanako Yamada")
        expect(hit).to_be_visible()
        hit.click()
        expect(page.locator("#status")).to_contain_text("+14155550199 linked to Hanako")
        expect(page.locator("#customer-name")).to_have_text("Hanako Yamada <b>VIP</b>")
        owner = server.call(CustomerService(server.sessions()).find_by_phone("+1 415 555 0199"))
        assert owner is not None and owner.id == seeded["customer_id"]

        # Typing survives a frame arriving mid-word; then a blind transfer to another queue:
        # this leg goes to wrap-up, the caller waits in billing.
        card = page.locator(f'.card.interaction[data-id="{iid}"]')
        target = card.get_by_label("Transfer to queue or number")
        target.click()
        page.keyboard.type("bil")
        server.call(server.cc.control(iid, seeded["bob_id"], "hold", {}))
        expect(card).to_contain_text("on hold")  # the card was rebuilt from the frame
        page.keyboard.type("ling")
        expect(target).to_have_value("billing")
        card.get_by_role("button", name="Transfer").click()
        expect(page.locator("#wrapup")).to_be_visible()
        legs = [i for i in server.cc.interactions.values() if i.queue == "billing"]
        assert legs and legs[0].attributes["related_contact_id"]
        page.locator("#wrapup").get_by_label("Disposition").select_option("escalated")
        page.get_by_role("button", name="Finish wrap-up").click()
        expect(page.locator("#status")).to_contain_text("Wrap-up saved")
        # Ready again after wrap-up: the transferred caller is offered to this agent.
        leg = page.locator(f'.card.offer[data-id="{legs[0].id}"]')
        expect(leg).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "console_transfer_offer.png"))
        leg.get_by_role("button", name="Accept").click()

        # Create a customer from the unknown-caller card; the number is prefilled, and a
        # number that already belongs to someone is refused with a pointer to linking.
        page.get_by_role("button", name="Create customer").click()
        form = page.locator("#create-form")
        expect(form).to_be_visible()
        expect(form.get_by_label("Phone")).to_have_value("+14155550199")
        form.get_by_label("Name").fill("Nora Newcomer")
        form.get_by_role("button", name="Create customer").click()
        expect(page.locator("#status")).to_contain_text("Already a customer (C000001)")
        form.get_by_label("Phone").fill("+1 415 555 0100")
        form.get_by_role("button", name="Create customer").click()
        expect(page.locator("#status")).to_contain_text("created")
        expect(page.locator("#customer-name")).to_have_text("Nora Newcomer")
        expect(form).to_be_hidden()
        # Log out: the session ends and the console needs a login again.
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        page.goto(base + "/console")
        expect(page).to_have_url(re.compile(r"/login\?next="))
        assert errors == []
    finally:
        ctx.close()


async def _publish_alert(server: LiveServer, message: str) -> None:
    bus = server.app[SERVICES].require_bus() if server.app else None
    assert bus is not None
    await bus.publish(
        ALERTS_TOPIC, {"type": "alert", "data": {"kind": "long_wait", "message": message}}
    )


async def _carol_logged_in(server: LiveServer) -> str:
    view = await UserService(server.sessions()).create_user(
        "carol", PASSWORD, role="agent", display_name="Carol Diaz"
    )
    await server.cc.agent_login(AgentInfo(view.id, "carol", "Carol Diaz", None))
    await server.cc.agent_ready(view.id)
    return view.id


def test_supervisor_moves_a_waiting_call_forces_an_agent_and_sees_alerts(
    live_server: LiveServer, browser: Any, seeded: dict[str, Any]
) -> None:
    server = live_server
    server.call(_only_agent(server, "nobody"))  # no one can take the call: it waits
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        sup = ctx.new_page()
        errors: list[str] = []
        sup.on("pageerror", lambda e: errors.append(str(e)))
        login(sup, server.url, "/supervisor", "sam")
        expect(sup.locator("#link")).to_have_attribute("aria-label", "Connection: open")
        expect(sup.locator('svg[aria-label^="support: waiting"]')).to_have_count(1)

        iid = server.call(_call(server, seeded["customer_id"]))
        row = sup.locator(f'tr[data-interaction="{iid}"]')
        expect(row).to_contain_text("queued")
        row.get_by_label("Move to queue").select_option("billing")
        row.get_by_label("Priority").fill("7")
        row.get_by_role("button", name="Move").click()
        expect(sup.locator("#status")).to_contain_text("Moved to billing (priority 7)")
        expect(row).to_contain_text("billing")
        live = server.cc.interactions[iid]
        assert (live.queue, live.priority) == ("billing", 7)
        expect(sup.locator('tr[data-queue="billing"] .waiting')).to_have_text("1")

        # Alerts are pushed; the text is shown as text.
        server.call(_publish_alert(server, "a caller has waited <b>95 s</b> in billing"))
        expect(sup.locator("#alerts")).to_contain_text("a caller has waited <b>95 s</b>")

        # An agent logs in elsewhere, takes the waiting call; the supervisor forces them.
        carol = server.call(_carol_logged_in(server))
        carol_row = sup.locator(f'tr[data-agent="{carol}"]')
        expect(carol_row.locator(".agent-state")).to_have_text("reserved")
        expect(carol_row).to_contain_text("voice +81312345678 (offered)")
        expect(row).to_contain_text("Carol Diaz")  # the agent it is ringing
        carol_row.get_by_role("button", name="Log Carol Diaz out").click()
        expect(carol_row.locator(".agent-state")).to_have_text("logged out")
        # the offer went back: the call waits again
        expect(row).to_contain_text("queued")
        server.call(server.cc.agent_login(AgentInfo(carol, "carol", "Carol Diaz", None)))
        expect(carol_row.locator(".agent-state")).to_have_text("not ready")
        server.call(server.cc.agent_ready(carol))
        expect(carol_row.locator(".agent-state")).to_have_text("reserved")
        # The last-hour chart has been drawing from the frames since the page opened.
        line = sup.locator('svg[aria-label^="billing:"] polyline.spark-wait')
        expect(line).to_have_attribute("points", re.compile(r"\d.* \d"))
        sup.screenshot(path=str(ARTIFACTS / "supervisor_actions.png"))
        server.call(server.cc.customer_left(iid))
        expect(row).to_have_count(0)
        carol_row.get_by_role("button", name="Force Carol Diaz not ready").click()
        expect(sup.locator("#status")).to_contain_text("Carol Diaz is now not ready")
        expect(carol_row.locator(".agent-state")).to_have_text("not ready")
        expect(carol_row).to_contain_text("coaching")
        assert errors == []
    finally:
        ctx.close()

    async def audited() -> list[str]:
        async with server.sessions()() as s:
            return list((await s.scalars(select(AuditEntry.action))).all())

    actions = server.call(audited())
    assert {"move_interaction", "force_logged_out", "force_not_ready"} <= set(actions)


class ChatCustomer:
    """A customer in the chat widget, played by the `websockets` library on the server's
    loop (the socket lives there between steps)."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.ws: Any = None

    async def _recv_until(self, kind: str, pred: Any = None) -> dict[str, Any]:
        async with asyncio.timeout(15):
            while True:
                frame: dict[str, Any] = json.loads(await self.ws.recv())
                if frame["type"] == kind and (pred is None or pred(frame)):
                    return frame

    async def _send(self, kind: str, **data: Any) -> None:
        await self.ws.send(json.dumps({"type": kind, "data": data}))

    async def _start(self) -> str:
        import websockets

        self.ws = await websockets.connect(self.server.url.replace("http", "ws") + "/chat/ws")
        await self._send(
            "start", name="Chat <i>Customer</i>", email="chat.customer@example.com",
            phone="+1 415 555 0177", topic="other", consent=True,
        )  # fmt: skip
        session = (await self._recv_until("session"))["data"]
        has_buttons = lambda f: bool(f["data"].get("buttons"))  # noqa: E731
        await self._recv_until("msg", has_buttons)
        await self._send("choice", value="1")  # English
        await self._recv_until("msg", has_buttons)
        await self._send("choice", value="0")  # an agent, please
        return str(session["chat_id"])

    def start(self) -> str:
        return self.server.call(self._start())

    def say(self, text: str) -> None:
        self.server.call(self._send("message", text=text))

    def hears(self, sender: str) -> str:
        frame = self.server.call(self._recv_until("msg", lambda f: f["data"]["from"] == sender))
        return str(frame["data"]["text"])

    def close(self) -> None:
        if self.ws is not None:
            self.server.call(self.ws.close())


def test_agent_chats_with_a_customer_in_the_chat_pane(
    live_server: LiveServer, browser: Any, seeded: dict[str, Any]
) -> None:
    server = live_server
    server.call(_only_agent(server, seeded["bob_id"]))
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    sup_ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    customer = ChatCustomer(server)
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        login(page, server.url, "/console", "bob")
        expect(page.locator("#link")).to_have_attribute("aria-label", "Connection: open")
        if page.locator("#agent-state").inner_text() != "ready":
            page.get_by_role("button", name="Ready", exact=True).click()
        expect(page.locator("#agent-state")).to_have_text("ready")

        chat_id = customer.start()
        offer = page.locator(f'.card.offer[data-id="{chat_id}"]')
        expect(offer).to_contain_text("Incoming chat")
        offer.get_by_role("button", name="Accept").click()
        card = page.locator(f'.card.interaction[data-id="{chat_id}"]')
        log = card.get_by_role("log")
        expect(log).to_be_visible()
        expect(card.get_by_role("button", name="End chat")).to_be_visible()
        expect(card.get_by_role("button", name="Hold")).to_have_count(0)

        hostile = "<img src=x onerror=alert(1)> where is my parcel?"
        customer.say(hostile)
        expect(log).to_contain_text(hostile)  # shown as text
        # why here: the chat's IVR path (node visits) and inputs
        expect(page.locator("#pop-body")).to_contain_text("language \u203a")
        expect(page.locator("#pop-body")).to_contain_text("main_menu=0")
        expect(page.locator("#pop-body")).not_to_contain_text("[object")
        assert log.locator("img").count() == 0

        card.get_by_role("textbox", name="Chat message").fill("Let me check that for you.")
        card.get_by_role("button", name="Send").click()
        assert customer.hears("agent") == "Let me check that for you."
        expect(log).to_contain_text("You Let me check that for you.")

        # A supervisor reads along and whispers; only the agent sees the whisper.
        sup = sup_ctx.new_page()
        sup.on("pageerror", lambda e: errors.append(str(e)))
        login(sup, server.url, "/supervisor", "sam")
        row = sup.locator(f'tr[data-interaction="{chat_id}"]')
        row.get_by_role("button", name="Transcript").click()
        expect(sup.locator("#transcript-lines")).to_contain_text(hostile)
        assert sup.locator("#transcript-lines img").count() == 0
        row.get_by_label("Whisper to the agent").fill("Offer the express refund")
        row.get_by_role("button", name="Whisper", exact=True).click()
        expect(sup.locator("#status")).to_contain_text("Whisper sent")
        expect(log).to_contain_text("Sam Supervisor (whisper) Offer the express refund")
        page.screenshot(path=str(ARTIFACTS / "console_chat.png"))

        card.get_by_role("button", name="End chat").click()
        expect(page.locator("#wrapup")).to_be_visible()
        page.locator("#wrapup").get_by_label("Disposition").select_option("info_given")
        page.get_by_role("button", name="Finish wrap-up").click()
        expect(page.locator("#status")).to_contain_text("Wrap-up saved")
        expect(card).to_have_count(0)
        assert errors == []
    finally:
        customer.close()
        ctx.close()
        sup_ctx.close()


@pytest.mark.browser
@pytest.mark.slow
def test_supervisor_places_a_simulated_call_from_the_wallboard(
    live_server: LiveServer, browser: Any, seeded: dict[str, Any]
) -> None:
    """The built-in simulator's caller panel: a new user can try a call without a phone."""
    assert live_server.app is not None
    simulator = live_server.app[SERVICES].extras["voice"].simulator
    before = set(simulator.channels)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = ctx.new_page()
        login(page, live_server.url, "/supervisor", "sam")
        panel = page.get_by_role("region", name="Simulated caller")
        expect(panel).to_be_visible()
        page.get_by_label("Caller", exact=True).fill("+81312345678")
        page.get_by_label("IVR digits").fill("10")
        page.get_by_role("button", name="Place call").click()
        expect(page.locator("#status")).to_contain_text("Simulated call placed from +81312345678")
        assert set(simulator.channels) - before, "the simulator did not dial in"
        assert _unnamed_controls(page) == []
    finally:
        ctx.close()


async def _dana_ready(server: LiveServer) -> str:
    view = await UserService(server.sessions()).create_user(
        "dana", PASSWORD, role="agent", display_name="Dana Kim"
    )
    return view.id


def test_agent_ends_a_call_with_the_survey(
    live_server: LiveServer, browser: Any, seeded: dict[str, Any]
) -> None:
    """The console's "End with survey" leaves the caller to the keypad survey (the voice
    channel is asked for it) and puts the agent in wrap-up."""
    server = live_server
    dana = server.call(_dana_ready(server))
    server.call(_only_agent(server, dana))
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = ctx.new_page()
        login(page, server.url, "/console", "dana")
        # The shortcut works once the console is live; a key pressed earlier is lost.
        expect(page.locator("#link")).to_have_attribute("aria-label", "Connection: open")
        page.keyboard.press("Alt+R")
        expect(page.locator("#agent-state")).to_have_text("ready")
        iid = server.call(_call(server, seeded["customer_id"]))
        page.locator(".card.offer").get_by_role("button", name="Accept").click()
        card = page.locator(f'.card.interaction[data-id="{iid}"]')
        expect(card).to_contain_text("connected")
        card.get_by_role("button", name="End with survey").click()
        expect(page.locator("#wrapup")).to_be_visible()
        assert "survey" in server.voice.actions(iid)
        assert server.cc.get(iid).state == InteractionState.WRAP_UP
    finally:
        ctx.close()


async def _consult_progress(
    server: LiveServer, iid: str, state: str | None, result: str | None = None
) -> None:
    """What the voice channel does as a consult moves on (the RecordingAdapter only records):
    the interaction's ``consult`` changes and the console is told."""
    i = server.cc.get(iid)
    if state is None:
        i.attributes.pop("consult", None)
    else:
        i.attributes["consult"] = {"state": state, "target": "+15550001111", "kind": "number"}
    await server.cc.consult_changed(i, result)


def test_agent_consults_then_cancels_or_completes_the_transfer(
    live_server: LiveServer, browser: Any, seeded: dict[str, Any]
) -> None:
    """Attended transfer from the console: Consult (a number or an agent), then Cancel
    consult or Complete transfer, each shown only while it applies."""
    server = live_server
    erin = server.call(
        UserService(server.sessions()).create_user(
            "erin", PASSWORD, role="agent", display_name="Erin Diaz", endpoint="PJSIP/1005"
        )
    ).id
    server.call(_only_agent(server, erin))
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = ctx.new_page()
        login(page, server.url, "/console", "erin")
        expect(page.locator("#link")).to_have_attribute("aria-label", "Connection: open")
        page.get_by_role("button", name="Ready", exact=True).click()
        expect(page.locator("#agent-state")).to_have_text("ready")
        iid = server.call(_call(server, seeded["customer_id"]))
        page.locator(".card.offer").get_by_role("button", name="Accept").click()
        card = page.locator(f'.card.interaction[data-id="{iid}"]')
        expect(card).to_contain_text("connected")
        complete = card.get_by_role("button", name="Complete transfer")
        cancel = card.get_by_role("button", name="Cancel consult")
        expect(complete).to_have_count(0)
        expect(cancel).to_have_count(0)

        # Consult an outside number: the console asks the voice channel for it.
        card.get_by_role("textbox", name="Consult number or agent").fill("+1 555 000 1111")
        card.get_by_role("button", name="Consult", exact=True).click()
        expect(page.locator("body")).to_contain_text("consult: done")
        sent = [p for a, i, p in server.voice.calls if i == iid and a == "consult"]
        assert sent == [{"number": "+15550001111"}]
        # Ringing: only cancel (and hang up); the caller is parked, so no hold or transfer.
        server.call(_consult_progress(server, iid, "dialing"))
        expect(cancel).to_be_visible()
        expect(complete).to_have_count(0)
        expect(card.get_by_role("button", name="Hold")).to_have_count(0)
        expect(card.get_by_role("form", name="Transfer")).to_have_count(0)
        expect(card.get_by_role("status")).to_contain_text("Calling +15550001111")
        server.call(_consult_progress(server, iid, "talking"))
        expect(complete).to_be_visible()
        assert _unnamed_controls(page) == []
        cancel.click()
        expect(page.locator("body")).to_contain_text("consult cancel: done")
        assert server.voice.actions(iid)[-1] == "consult_cancel"
        # The target never answered on a second try: back with the caller, and told.
        server.call(_consult_progress(server, iid, None, "no_answer"))
        expect(card.get_by_role("button", name="Hold")).to_be_visible()
        expect(cancel).to_have_count(0)
        expect(page.locator("body")).to_contain_text("Consult: no answer")

        # Consult another agent by id, then complete the transfer.
        card.get_by_role("textbox", name="Consult number or agent").fill("bob")
        card.get_by_role("button", name="Consult", exact=True).click()
        expect(page.locator("body")).to_contain_text("consult: done")
        sent = [p for a, i, p in server.voice.calls if i == iid and a == "consult"]
        assert sent[-1] == {"agent_id": "bob"}
        server.call(_consult_progress(server, iid, "talking"))
        complete.click()
        expect(page.locator("body")).to_contain_text("consult complete: done")
        assert server.voice.actions(iid)[-1] == "consult_complete"
    finally:
        ctx.close()
