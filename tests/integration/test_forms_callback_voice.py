"""A callback form with the voice channel on the simulated Asterisk: the agent's accept
dials the customer with Originate (the voice channel's dial_out), then rings the agent's
phone and bridges the two; the agent's hang-up releases the customer's leg."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from test_chat_harness import TextApp, next_frame, start_text_app

from ccserver.app import SERVICES
from ccserver.channels.setup import VoiceDialer
from ccserver.channels.voice.setup import start_voice
from ccserver.crm.users import UserService

pytestmark = pytest.mark.asyncio(loop_scope="module")
CUSTOMER = "PJSIP/14155550142"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def voice_app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[TextApp, Any]]:
    env = {"CCSERVER_ASTERISK__MODE": "simulator", "CCSERVER_ASTERISK__SIMULATOR_PORT": "0"}
    async for t in start_text_app(tmp_path_factory.mktemp("cbvoice"), **env):
        services = t.h.app[SERVICES]
        voice = await start_voice(services.settings, t.cc, services, ping_interval=None)
        try:
            yield t, voice
        finally:
            await voice.close()


async def _until(predicate: Any, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_accepted_callback_originates_to_the_customer_and_bridges_the_agent(
    voice_app: tuple[TextApp, Any],
) -> None:
    text_app, voice = voice_app
    sim = voice.simulator
    sim.set_endpoint(CUSTOMER, answer_after=0.2)
    assert isinstance(text_app.channels.callbacks.dialer, VoiceDialer)
    assert text_app.channels.callbacks.dialer.available
    users = UserService(text_app.h.app[SERVICES].require_sessions())
    await users.update_user(text_app.h.user_ids["alice"], {"endpoint": "PJSIP/agent1001"})
    api, _uid, sub = await text_app.ready_agent("alice")

    r, body = await text_app.h.anonymous().post(
        "/api/v1/forms/callback", json={"name": "Kim Voice", "phone": "+1 415 555 0142"}
    )
    assert r.status == 201, body
    iid = body["interaction_id"]
    await next_frame(sub, "offer", interaction_id=iid)
    r, body = await api.post(f"/api/v1/interactions/{iid}/accept")
    assert r.status == 200, body
    result = await next_frame(sub, "callback_result", interaction_id=iid)
    assert result["result"] == "answered"
    leg = text_app.cc.get(iid).attributes["callback_channel"]
    assert "14155550142" in leg and leg in sim.channels  # the Originate's answered leg
    assert any(name.startswith("PJSIP/agent1001") for name in sim.channels)  # agent rung

    r, body = await api.post(f"/api/v1/interactions/{iid}/control", json={"action": "hangup"})
    assert r.status == 200, body
    await _until(lambda: leg not in sim.channels)
    await sub.aclose()
