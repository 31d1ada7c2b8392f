"""Start the voice channel from Settings (called by the app as a cleanup context).

    voice = await start_voice(settings, cc, services)   # registers itself with cc
    ...                                                 # services.extras["voice"] is it
    await voice.close()

``asterisk.mode``: "simulator" starts the built-in :class:`AsteriskSimulator` on
``asterisk.simulator_port`` (0 = ephemeral; ``voice.port`` is the bound port) with agent
phones that answer after about a second, then connects to it; "ami" connects to a real
Asterisk at ``asterisk.host:port``; "off" returns a disabled channel (``dial_out`` raises).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ccserver.ami import AmiConnection, ExponentialBackoff, Retry
from ccserver.channels.voice.channel import VoiceChannel
from ccserver.channels.voice.lookups import CrmLookups
from ccserver.domain import Channel
from ccserver.runtime.contact_center import ContactCenter
from ccserver.settings import Settings
from ivr.registry import FlowRegistry

if TYPE_CHECKING:
    from ccserver.app import Services

AGENT_PHONE_ANSWER_S = 1.0
DEMO_PHONES = 50  # PJSIP/agent1001 ... as made by ccserver.crm.demo_data


def _flows(settings: Settings, services: Services) -> FlowRegistry:
    flows = services.extras.get("ivr_flows")
    if isinstance(flows, FlowRegistry):
        return flows
    registry = FlowRegistry(settings.paths.ivr_dir)
    registry.load()
    services.extras["ivr_flows"] = registry
    return registry


async def start_voice(
    settings: Settings,
    cc: ContactCenter,
    services: Services,
    *,
    time_scale: float = 1.0,
    ping_interval: float | None = 20.0,
) -> VoiceChannel:
    """Build, connect and register the voice channel (see the module docstring).

    ``time_scale`` shrinks the simulator's clock (tests); it has no effect in "ami" mode."""
    ast = settings.asterisk
    sessions = services.require_sessions()
    lookups = CrmLookups(sessions, default_region=settings.crm.default_region)
    conn: AmiConnection | None = None
    simulator = None
    if ast.mode != "off":
        host, port = ast.host, ast.port
        if ast.mode == "simulator":
            from ccserver.simulator import AsteriskSimulator

            simulator = AsteriskSimulator(
                "127.0.0.1",
                ast.simulator_port,
                ast.username,
                ast.secret.get_secret_value(),
                time_scale=time_scale,
            )
            await simulator.start()
            for n in range(DEMO_PHONES):
                simulator.set_endpoint(f"PJSIP/agent{1001 + n}", answer_after=AGENT_PHONE_ANSWER_S)
            simulator.set_endpoint("PJSIP/supervisor", answer_after=AGENT_PHONE_ANSWER_S)
            host, port = "127.0.0.1", simulator.port
        conn = AmiConnection(
            host,
            port,
            ast.username,
            ast.secret.get_secret_value(),
            auth="md5",
            retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=-1),
            ping_interval=ping_interval,
        )
    voice = VoiceChannel(
        cc,
        conn,
        lookups,
        _flows(settings, services),
        region=settings.crm.default_region,
        sessions=sessions,
    )
    voice.simulator = simulator
    try:
        await voice.start()
    except BaseException:
        await voice.close()
        raise
    cc.register(Channel.VOICE, voice)
    services.extras["voice"] = voice
    return voice


async def _record_survey(services: Services, scores: dict[str, Any], links: dict[str, Any]) -> None:
    """A post-call survey answered by keypad goes through the CRM's survey service (stored
    with contact, agent and queue; a detractor answer creates a follow-up)."""
    from ccserver.crm.rules.surveys import SurveyResponse
    from ccserver.runtime.scheduler import workflows_of

    response = SurveyResponse(
        csat=scores.get("csat"), nps=scores.get("nps"),
        customer_id=links.get("customer_id"), contact_id=links.get("contact_id"),
        agent_id=links.get("agent_id"), queue=links.get("queue"),
    )  # fmt: skip
    await workflows_of(services).surveys.record(response)


async def voice_context(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context for ``app.py``'s ``_part_contexts()``: start voice after the
    contact center, stop it (hang up nothing; just let go of the AMI link) at shutdown."""
    from ccserver.app import SERVICES
    from ccserver.web.routes_console import CONTACT_CENTER

    services = app[SERVICES]
    voice = await start_voice(services.settings, app[CONTACT_CENTER], services)
    voice.on_survey = partial(_record_survey, services)
    try:
        yield
    finally:
        await voice.close()
