"""Start the text channels (chat, web forms, callbacks, email) over the running contact center.

``app.py`` adds :func:`text_channels_context` to the part contexts and ``web/routes.py``
calls :func:`add_routes`; handlers find the running :class:`TextChannels` in
``app[TEXT_CHANNELS]``. Optional tuning lives in ``channels.toml`` next to the routing
file (``[chat]``, ``[forms]``, ``[callbacks]``, ``[email_routing] queue``,
``[reply_templates.<name>] en = "... $customer_name ... $case_number"``); without it the
defaults in the option classes apply.
"""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from aiohttp import web

from ccserver.channels.chat.adapter import ChatChannelAdapter
from ccserver.channels.chat.options import ChatOptions
from ccserver.channels.chat.service import ChatService
from ccserver.channels.chat.session import ChatSession
from ccserver.channels.chat.ws import ChatSocket
from ccserver.channels.email.config import EmailSettings, load_email_settings
from ccserver.channels.email.crm_sink import CrmEmailSink, EmailAdapter
from ccserver.channels.email.listener import SmtpListener
from ccserver.channels.email.outbound import OutboundMailer
from ccserver.channels.email.service import EmailChannelService
from ccserver.channels.email.templates import ReplyTemplates
from ccserver.channels.email.threading import CaseRef
from ccserver.channels.forms.callbacks import CallbackOptions, CallbackService
from ccserver.channels.forms.crm_glue import CaseNumbers, MessageWriter
from ccserver.channels.forms.limits import SlidingWindowLimiter
from ccserver.channels.forms.parking import ParkedWork
from ccserver.channels.forms.service import FormOptions, FormsService
from ccserver.channels.restore import restore_pending_work
from ccserver.crm.customers import CustomerService
from ccserver.domain import Channel, Interaction
from ccserver.errors import ConfigError
from ccserver.logs import get_logger
from ccserver.runtime.contact_center import ContactCenter
from ccserver.settings import Settings

log = get_logger(__name__)


@dataclass
class TextChannels:
    chat: ChatService
    chat_socket: ChatSocket
    forms: FormsService
    callbacks: CallbackService
    email: EmailChannelService | None
    email_sink: CrmEmailSink | None
    listener: SmtpListener | None
    mailer: OutboundMailer | None
    form_limits: dict[str, SlidingWindowLimiter]
    parking: ParkedWork | None = None
    reply_templates: ReplyTemplates = field(default_factory=ReplyTemplates)

    @property
    def smtp_port(self) -> int | None:
        return self.listener.port if self.listener else None

    async def close(self) -> None:
        if self.listener is not None:
            await self.listener.aclose()
        await self.chat.close()
        await self.callbacks.close()
        if self.parking is not None:
            await self.parking.close()
        if self.mailer is not None:
            await self.mailer.aclose()


TEXT_CHANNELS = web.AppKey("text_channels", TextChannels)


class VoiceDialer:
    """The voice channel's ``dial_out`` (Originate) behind the callbacks' Dialer protocol:
    call the customer; once they answer, ring the agent's endpoint and bridge the two."""

    def __init__(self, extras: dict[str, Any], ring_s: float = 30.0) -> None:
        self.extras = extras  # looked up per call: the voice part may start after us
        self.ring_s = ring_s

    @property
    def available(self) -> bool:
        voice = self.extras.get("voice")
        return hasattr(voice, "dial_out") and bool(getattr(voice, "enabled", True))

    async def dial_out(
        self, number: str, *, agent_id: str, endpoint: str | None, interaction: Interaction
    ) -> str:
        voice = self.extras["voice"]
        result = await voice.dial_out(number, timeout=self.ring_s)
        outcome = str(result.result)
        if outcome != "answered" or not result.channel:
            return outcome
        interaction.attributes["callback_channel"] = result.channel
        if endpoint:
            leg = await voice.bridge_agent(result.channel, endpoint, timeout=self.ring_s)
            if leg.result != "answered":
                await voice.hangup(result.channel)
                return f"agent_{leg.result}"
        return outcome

    async def hang_up(self, channel: str) -> None:
        await self.extras["voice"].hangup(channel)


def _options(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}", details={"file": str(path)}) from exc


def _build(cls: Any, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        return cls()
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(
            f"{where}: unknown keys {sorted(unknown)}", details={"keys": sorted(unknown)}
        )
    return cls(**data)


def _email_settings(settings: Settings) -> EmailSettings:
    path = settings.paths.email
    if not path.is_absolute() or not path.is_file():
        path = settings.paths.routing.parent / "email.toml"
    return load_email_settings(path) if path.is_file() else EmailSettings()


async def start_text_channels(
    settings: Settings, cc: ContactCenter, services: Any, app: web.Application | None = None
) -> TextChannels:
    sessions = services.require_sessions()
    writer = MessageWriter(services.require_outbox())
    region = settings.crm.default_region
    customers = CustomerService(sessions, default_region=region)
    opts = _options(settings.paths.routing.parent / "channels.toml")
    email_settings = _email_settings(settings)
    cases = CaseNumbers(email_settings.case_prefix)
    await cases.prime(sessions)

    parking = ParkedWork(cc)
    dialer = VoiceDialer(services.extras)
    callbacks = CallbackService(
        cc, cases, dialer=dialer,
        options=_build(CallbackOptions, opts.get("callbacks"), "channels.toml:callbacks"),
        default_region=region, parking=parking,
    )  # fmt: skip
    form_opts = _build(FormOptions, opts.get("forms"), "channels.toml:forms")

    def complaint_service() -> Any:
        from ccserver.runtime.scheduler import workflows_of

        return workflows_of(services).complaints

    forms = FormsService(
        cc, customers, writer, cases, callbacks, form_opts, complaint_service, parking
    )

    async def chat_callback(phone: str, name: str, customer_id: str | None, contact: str) -> str:
        cb = await callbacks.request(
            phone, name=name, customer_id=customer_id, source="chat", related_contact_id=contact
        )
        return str(cb.attributes["case_number"])

    async def survey_writer(row: dict[str, Any]) -> None:
        await services.require_outbox().put("survey_response.insert", row)

    email_queue = str((opts.get("email_routing") or {}).get("queue", "general"))
    sink = CrmEmailSink(
        sessions, cc, writer, cases, queue=email_queue, default_region=region,
        raw_dir=settings.server.data_dir / "mail", parking=parking, pending=cc.durable.store,
    )  # fmt: skip
    mailer = OutboundMailer(email_settings.outbound)
    email = EmailChannelService(email_settings, sink, mailer)
    listener = SmtpListener(email, email_settings.listener)

    async def send_transcript(s: ChatSession, text: str) -> None:
        case = CaseRef(s.contact_id, s.case_number, s.customer_id, s.customer.get("email"))
        await email.send_reply(
            case, to=str(s.customer["email"]), body=text, agent_id=None,
            subject="Your chat transcript",
        )  # fmt: skip

    from ccserver.channels.chat.lookups import chat_lookup

    chat = ChatService(
        cc, customers, writer, cases, services.extras.get("ivr_flows"),
        options=_build(ChatOptions, opts.get("chat"), "channels.toml:chat"),
        lookup=chat_lookup(sessions, region, cc),
        on_callback=chat_callback, on_message=forms.leave_message, survey_writer=survey_writer,
        send_transcript=send_transcript,
    )  # fmt: skip
    starts = SlidingWindowLimiter(chat.options.max_starts_per_ip, chat.options.starts_window_s)
    limits = {
        k: SlidingWindowLimiter(form_opts.max_per_ip, form_opts.window_s)
        for k in ("contact", "complaint", "callback")
    }

    cc.register(Channel.CHAT, ChatChannelAdapter(chat))
    cc.register(Channel.CALLBACK, callbacks)
    cc.register(Channel.EMAIL, EmailAdapter())
    cc.register(Channel.WEB, EmailAdapter())  # forms have no live leg either

    templates = ReplyTemplates()
    for name, by_lang in (opts.get("reply_templates") or {}).items():
        for language, body in dict(by_lang).items():
            templates.add(str(name), str(language), str(body))  # a bad one fails at start

    channels = TextChannels(
        chat, ChatSocket(chat, starts), forms, callbacks, email, sink, listener, mailer, limits,
        reply_templates=templates, parking=parking,
    )  # fmt: skip
    try:
        await chat.start()
        await callbacks.start()
        await parking.start()
        await mailer.start()
        await restore_pending_work(cc, parking, callbacks, sink, mailer)
        voice = services.extras.get("voice")
        if voice is not None:  # voicemails left after hours wait for the queue to open
            voice.park_until_open = parking.enqueue
    except BaseException:
        await channels.close()
        raise
    try:
        await listener.start()
    except OSError as exc:
        # Another process holds the port (a second node, a test run): the server still
        # serves chat, forms and email replies; inbound SMTP is reported as down.
        log.error("SMTP listener not started; inbound email is off", error=str(exc))
        channels.listener = None
    log.info("text channels started", smtp_port=channels.smtp_port)
    return channels


async def text_channels_context(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: start after the contact center, stop before it."""
    from ccserver.app import SERVICES
    from ccserver.web.routes_console import CONTACT_CENTER

    services = app[SERVICES]
    channels = await start_text_channels(services.settings, app[CONTACT_CENTER], services, app)
    app[TEXT_CHANNELS] = channels
    services.extras["text_channels"] = channels
    yield
    await channels.close()


def add_routes(app: web.Application) -> None:
    from ccserver.channels.chat import routes as chat_routes
    from ccserver.channels.email import api as email_api
    from ccserver.channels.forms import routes as form_routes

    chat_routes.add_routes(app)
    form_routes.add_routes(app)
    email_api.add_routes(app)
