"""Shared fixture for the voice end-to-end tests: the full app (``build_app``) on a tmp data
dir with the built-in Asterisk simulator on an ephemeral port, fast routing timers, and
helpers to wait for things over real TCP."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from ccserver.app import SERVICES, build_app
from ccserver.channels.voice.channel import VoiceChannel
from ccserver.channels.voice.setup import start_voice
from ccserver.crm.customers import CustomerService
from ccserver.crm.models import Contact
from ccserver.runtime.contact_center import AgentInfo, ContactCenter
from ccserver.settings import PACKAGE_ROOT, load_settings
from ccserver.simulator import AsteriskSimulator
from ccserver.web.routes_console import CONTACT_CENTER

TIME_SCALE = 0.05  # simulated seconds -> real: prompts 12 ms, agent phones answer in 50 ms
CALLER = "2025550143"  # a US number: E.164 +12025550143, a known customer
OTHER_CALLER = "2025550177"  # another known customer


def fast_routing(text: str) -> str:
    """The shipped routing.toml with test timers: 2 s offers, announcements every 0.3 s,
    every queue open around the clock."""
    text = re.sub(r"(?m)^offer_timeout = \d+", "offer_timeout = 2", text)
    text = re.sub(r"(?m)^announce_every = \d+", "announce_every = 0.3", text)
    text = re.sub(r'(?m)^calendar = "office"', 'calendar = "always"', text)
    return text


@dataclass
class VoiceApp:
    client: TestClient[web.Request, web.Application]
    cc: ContactCenter
    voice: VoiceChannel
    sim: AsteriskSimulator

    @property
    def services(self) -> Any:
        return self.client.app[SERVICES]

    async def agent(self, user_id: str, *, ready: bool = True, **skills: int) -> AgentInfo:
        """Log an agent in (speaks English: ``lang.en`` 2) with phone ``PJSIP/<user_id>``."""
        skill_map = {"lang.en": 2, **skills}
        info = AgentInfo(user_id, user_id, f"Agent {user_id}", f"PJSIP/{user_id}", skill_map)
        await self.cc.agent_login(info)
        if ready:
            await self.cc.agent_ready(user_id)
        return info

    async def contact(self, interaction_id: str, *, outcome: bool = True) -> Contact:
        """The contact row of an interaction, once the outbox wrote its final state."""

        async def row() -> Contact | None:
            async with self.services.require_sessions()() as s:
                found: Contact | None = await s.scalar(
                    select(Contact).where(Contact.interaction_id == interaction_id)
                )
                if found is None or (outcome and (found.outcome is None or not found.ended_at)):
                    return None
                return found

        found: Contact = await eventually(row, what=f"contact of {interaction_id}")
        return found


async def eventually(
    probe: Callable[[], Any], *, limit: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``probe`` (sync or async) until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def voice_app(
    tmp_path: Path, configure: Callable[[Path], None] | None = None
) -> AsyncIterator[VoiceApp]:
    """``configure(config_dir)`` may edit the copied configuration before the app starts."""
    config = tmp_path / "config"
    shutil.copytree(PACKAGE_ROOT / "config", config)
    routing = config / "routing.toml"
    routing.write_text(fast_routing(routing.read_text()))
    if configure is not None:
        configure(config)
    settings = load_settings(
        environ={
            "CCSERVER_SERVER__DATA_DIR": str(tmp_path / "data"),
            "CCSERVER_SERVER__PORT": "0",
            "CCSERVER_ASTERISK__MODE": "simulator",
            "CCSERVER_ASTERISK__SIMULATOR_PORT": "0",
            "CCSERVER_PATHS__ROUTING": str(routing),
            "CCSERVER_PATHS__IVR_DIR": str(config / "ivr"),
        }
    )
    app = build_app(settings)
    async with TestClient(TestServer(app)) as client:
        services = app[SERVICES]
        cc = app[CONTACT_CENTER]
        own = "voice" not in services.extras  # the app may not wire voice (yet)
        if own:
            voice = await start_voice(settings, cc, services, time_scale=TIME_SCALE)
        else:
            voice = services.extras["voice"]
            voice.simulator.pbx.time_scale = TIME_SCALE
        customers = CustomerService(services.require_sessions())
        for n, number in enumerate((CALLER, OTHER_CALLER)):
            await customers.create({"display_name": f"Caller {n}", "phone": f"+1{number}"})
        try:
            assert voice.port and voice.port > 0
            yield VoiceApp(client, cc, voice, voice.simulator)
        finally:
            if own:
                await voice.close()
