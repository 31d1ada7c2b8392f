"""A real ccserver for the browser tests: built by ``build_app`` on a tmp data dir (SQLite,
simulated Asterisk on a free port), served by aiohttp in a background thread's event loop so
the synchronous Playwright API can drive Debian's Chromium from the test thread.

The voice channel is replaced by a recording adapter: the tests check what the console asked
the call to do (hold, monitor) without depending on the state of a simulated phone line.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from ccserver.app import SERVICES, build_app
from ccserver.domain import Interaction
from ccserver.runtime.contact_center import ContactCenter
from ccserver.settings import PACKAGE_ROOT, load_settings
from ccserver.web.routes_console import CONTACT_CENTER

T = TypeVar("T")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-test-pw-1"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"

# Two queues open around the clock, so the tests do not depend on office hours.
ROUTING_TOML = """
[routing]
offer_timeout = 60
announce_every = 600
[agents]
wrap_up_timeout = 300
not_ready_reasons = ["break", "lunch", "training", "meeting", "after_call_work", "coaching"]
[calendars.always]
timezone = "UTC"
[queues.support]
calendar = "always"
service_level = { percent = 80, seconds = 20 }
[queues.billing]
calendar = "always"
[queues.general]
calendar = "always"
"""


UNNAMED_CONTROLS_JS = """() => [...document.querySelectorAll('button, input, select, textarea')]
  .filter((el) => !el.closest('[hidden]'))
  .filter((el) => {
    const byId = el.id && document.querySelector(`label[for="${el.id}"]`);
    const name = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
      || (byId && byId.textContent.trim())
      || (el.closest('label') && el.closest('label').textContent.trim())
      || (el.tagName === 'BUTTON' && el.textContent.trim());
    return !name;
  })
  .map((el) => el.outerHTML.slice(0, 80))"""


def login(page: Any, base: str, path: str, username: str) -> None:
    """Open ``path``, get sent to the login page, log in as ``username``, land on ``path``."""
    from playwright.sync_api import expect

    page.goto(base + path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(base + path)


def unnamed_controls(page: Any) -> list[str]:
    """Visible controls a screen reader would announce without a name."""
    unnamed: list[str] = page.evaluate(UNNAMED_CONTROLS_JS)
    return unnamed


class RecordingAdapter:
    """Stands in for the voice channel: remembers every request, always succeeds."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    async def offer(
        self, interaction: Interaction, agent_id: str, endpoint: str | None, expires_at: float
    ) -> None:
        self.calls.append(("offer", interaction.id, {"agent_id": agent_id}))

    async def revoke_offer(self, interaction: Interaction, agent_id: str) -> None:
        self.calls.append(("revoke_offer", interaction.id, {"agent_id": agent_id}))

    async def connect(self, interaction: Interaction, agent_id: str) -> None:
        self.calls.append(("connect", interaction.id, {"agent_id": agent_id}))

    async def announce(self, interaction: Interaction, position: int, ewt_s: float) -> None:
        self.calls.append(("announce", interaction.id, {"position": position}))

    async def control(
        self, interaction: Interaction, action: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        self.calls.append((action, interaction.id, dict(params)))
        return {"ok": True, "action": action, **params}

    async def end(self, interaction: Interaction) -> None:
        self.calls.append(("end", interaction.id, {}))

    def actions(self, interaction_id: str) -> list[str]:
        return [a for a, iid, _ in self.calls if iid == interaction_id]


def quiet_email_config(directory: Path) -> Path:
    """The shipped email settings with the inbound SMTP listener on a free port (not 2525,
    which another server on the machine may hold)."""
    email = directory / "email.toml"
    shipped = (PACKAGE_ROOT / "config" / "email.toml").read_text()
    email.write_text(shipped.replace("port = 2525", "port = 0"))
    return email


class LiveServer:
    def __init__(self, data_dir: Path) -> None:
        routing = data_dir / "routing.toml"
        data_dir.mkdir(parents=True, exist_ok=True)
        routing.write_text(ROUTING_TOML)
        email = quiet_email_config(data_dir)
        self.settings = load_settings(
            environ={
                "CCSERVER_SERVER__DATA_DIR": str(data_dir),
                "CCSERVER_SERVER__PORT": "0",
                "CCSERVER_ASTERISK__MODE": "simulator",
                "CCSERVER_ASTERISK__SIMULATOR_PORT": "0",
                "CCSERVER_PATHS__ROUTING": str(routing),
                "CCSERVER_PATHS__EMAIL": str(email),
                "CCSERVER_LOGGING__LEVEL": "warning",
            }
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ccserver-live")
        self.runner: web.AppRunner | None = None
        self.app: web.Application | None = None
        self.port = 0
        self.voice = RecordingAdapter()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cc(self) -> ContactCenter:
        assert self.app is not None
        return self.app[CONTACT_CENTER]

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self.thread.start()
        self.call(self._start())

    async def _start(self) -> None:
        from ccserver.domain import Channel

        app = build_app(self.settings)
        self.app = app
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self.runner.addresses[0][1])
        app[CONTACT_CENTER].register(Channel.VOICE, self.voice)

    def stop(self) -> None:
        if self.runner is not None:
            self.call(self.runner.cleanup(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def sessions(self) -> Any:
        assert self.app is not None
        return self.app[SERVICES].require_sessions()
