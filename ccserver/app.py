"""The composition root: the one module that knows every part and wires them from Settings.

Every long-lived resource is an aiohttp ``cleanup_ctx`` generator, so start-up order is
explicit and shutdown runs in reverse: stop accepting (aiohttp), close consoles, stop the
voice link, drain the outbox (finish writes), close the bus and the database.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ccserver.bus import EventBus, InMemoryBus
from ccserver.crm.database import create_engine, ping, session_factory
from ccserver.crm.migrate import upgrade_engine
from ccserver.crm.outbox import Outbox
from ccserver.logs import configure_logging, get_logger
from ccserver.settings import Settings
from ccserver.web import auth, health
from ccserver.web.errors import error_middleware
from ccserver.web.hub import HUB, Hub
from ccserver.web.metrics import METRICS, Metrics, metrics_middleware
from ccserver.web.sessions import SessionCodec, load_or_create_secret
from ccserver.web.throttle import LoginThrottle

log = get_logger(__name__)


@dataclass
class Services:
    """Shared objects the web layer and the runtime use; filled in as each part starts."""

    settings: Settings
    engine: AsyncEngine | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    outbox: Outbox | None = None
    bus: EventBus | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def require_sessions(self) -> async_sessionmaker[AsyncSession]:
        assert self.sessions is not None, "database not started"
        return self.sessions

    def require_bus(self) -> EventBus:
        assert self.bus is not None, "bus not started"
        return self.bus

    def require_outbox(self) -> Outbox:
        assert self.outbox is not None, "outbox not started"
        return self.outbox


SERVICES = web.AppKey("services", Services)
# The wallboard state of a large floor (every agent's line) is the biggest bus message.
WALLBOARD_MAX_BYTES = 2 * 1024 * 1024


def _make_bus(settings: Settings) -> EventBus:
    if settings.bus.kind == "redis":
        from ccserver.bus.redis_streams import RedisBus

        return RedisBus(
            settings.bus.redis_url,
            history_maxlen=settings.bus.stream_maxlen,
            max_payload_bytes=WALLBOARD_MAX_BYTES,
        )
    return InMemoryBus(
        history_maxlen=min(settings.bus.stream_maxlen, 10_000),
        max_payload_bytes=WALLBOARD_MAX_BYTES,
    )


async def _database(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    settings = services.settings
    settings.server.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url)
    if settings.database.migrate_on_start:
        await upgrade_engine(engine)
        log.info("database migrated", url=engine.url.render_as_string(hide_password=True))
    services.engine = engine
    services.sessions = session_factory(engine)
    app[health.PROBES]["database"] = lambda: ping(engine)
    yield
    await engine.dispose()


async def _outbox(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    assert services.engine is not None
    outbox = Outbox(services.engine, services.settings.outbox_journal)
    await outbox.start()
    services.outbox = outbox
    metrics = app[METRICS]

    def status() -> dict[str, object]:
        st = outbox.status()
        metrics.outbox_pending.set(st.pending)
        return {
            "pending": st.pending,
            "oldest_age_s": round(st.oldest_age_s, 3),
            "db_available": st.db_available,
            "dead_letters": st.dead_letters,
        }

    app[health.STATUS_PROVIDERS]["outbox"] = status
    yield
    # Finish writes: drain what is journaled before the database closes (bounded wait).
    await outbox.close()


async def _bus(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    bus = _make_bus(services.settings)
    await bus.start()
    services.bus = bus
    app[health.PROBES]["bus"] = bus.ping
    yield
    await bus.close()


async def _contact_center(app: web.Application) -> AsyncIterator[None]:
    """Routing engine + live contact center + WebSocket hub (consoles and wallboards)."""
    from functools import partial

    from ccserver.runtime import routing_config
    from ccserver.runtime.contact_center import ContactCenter
    from ccserver.runtime.contacts_writer import ContactsWriter
    from ccserver.runtime.pending_work import DurableInteractions, PendingWorkStore
    from ccserver.runtime.screen_pop import build_screen_pop
    from ccserver.web.hub import setup_hub_metrics
    from ccserver.web.routes_console import CONTACT_CENTER
    from routing.engine import RoutingEngine

    services = app[SERVICES]
    settings = services.settings
    engine = RoutingEngine(await routing_config.load_async(settings))
    cc = ContactCenter(
        engine,
        services.require_bus(),
        ContactsWriter(services.require_outbox()),
        partial(build_screen_pop, services.require_sessions()),
        dispositions=tuple(d.code for d in settings.wrap_up.dispositions),
        disposition_required=settings.wrap_up.disposition_required,
    )
    cc.durable = DurableInteractions(
        PendingWorkStore(services.require_outbox(), services.require_sessions())
    )
    app[CONTACT_CENTER] = cc
    cc.on_wallboard = partial(_export_wallboard_metrics, app[METRICS])
    cc.on_created = lambda i: app[METRICS].interactions.labels(i.channel.value).inc()
    # One registry of IVR flows for every channel (voice and chat run the same menus).
    from ivr.registry import FlowRegistry

    flows = FlowRegistry(settings.paths.ivr_dir)
    flows.load()
    services.extras["ivr_flows"] = flows
    hub = app[HUB]
    hub.bus, hub.backend = services.require_bus(), cc
    setup_hub_metrics(app, hub)
    await cc.start()
    await hub.start()
    yield
    await hub.close()
    await cc.close()


def _export_wallboard_metrics(metrics: Metrics, state: dict[str, Any]) -> None:
    for q in state["queues"]:
        metrics.queue_waiting.labels(q["queue"]).set(q["waiting"])
        metrics.queue_longest_wait.labels(q["queue"]).set(q["oldest_wait"] if q["waiting"] else 0)
    counts: dict[str, int] = {}
    for a in state["agents"]:
        counts[a["state"]] = counts.get(a["state"], 0) + 1
    for name in (
        "ready",
        "not_ready",
        "reserved",
        "busy",
        "wrap_up",
        "rona",
        "disconnected",
        "logged_out",
    ):
        metrics.agents_by_state.labels(name).set(counts.get(name, 0))


CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


def _part_contexts() -> list[CleanupCtx]:
    """Channels and jobs that start after the contact center (voice, text channels,
    scheduler), in start order; each is an aiohttp cleanup context. Add one line per part."""
    contexts: list[CleanupCtx] = []
    # Voice first: callbacks and follow-up calls of the other parts dial through it.
    from ccserver.channels.voice.setup import voice_context

    contexts.append(voice_context)
    from ccserver.channels.setup import text_channels_context

    contexts.append(text_channels_context)
    from ccserver.runtime.scheduler import scheduler_ctx

    contexts.append(scheduler_ctx)
    from ccserver.reports.scheduled import scheduled_reports_ctx

    contexts.append(scheduled_reports_ctx)
    return contexts


def build_app(settings: Settings) -> web.Application:
    app = web.Application(
        client_max_size=settings.server.max_body_bytes,
        middlewares=[metrics_middleware, error_middleware, auth.auth_middleware],
    )
    services = Services(settings)
    app[SERVICES] = services
    app[METRICS] = Metrics.create()
    app[health.PROBES] = {}
    app[health.STATUS_PROVIDERS] = {}
    secret = load_or_create_secret(settings.server.data_dir / "secret_key")
    app[auth.AUTH] = auth.AuthConfig(
        codec=SessionCodec(secret),
        directory=_LazyDirectory(services),
        throttle=LoginThrottle(
            settings.security.login_max_attempts, settings.security.login_window_s
        ),
        session_ttl_s=settings.security.session_ttl_s,
        cookie_secure=settings.server.cookie_secure,
    )
    app.cleanup_ctx.extend([_database, _outbox, _bus, _contact_center, *_part_contexts()])
    app[HUB] = Hub(None, None)  # bus and backend are attached when the contact center starts
    app.router.add_get("/ws", app[HUB].handle)
    health.add_routes(app)
    auth.add_routes(app)
    from ccserver.web import routes

    routes.install(app)
    return app


class _LazyDirectory:
    """The user directory over the CRM users table; the session factory exists only once the
    database context has started, so look it up per call."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._directory: auth.UserDirectory | None = None

    def _dir(self) -> auth.UserDirectory:
        if self._directory is None:
            from ccserver.web.user_directory import CrmUserDirectory

            self._directory = CrmUserDirectory(self._services.require_sessions())
        return self._directory

    async def get_user(self, user_id: str) -> auth.UserRecord | None:
        return await self._dir().get_user(user_id)

    async def authenticate(self, username: str, password: str) -> auth.UserRecord | None:
        return await self._dir().authenticate(username, password)

    async def verify_token(self, token: str) -> tuple[auth.UserRecord, frozenset[str]] | None:
        return await self._dir().verify_token(token)

    async def touch_login(self, user_id: str) -> None:
        await self._dir().touch_login(user_id)


def serve(settings: Settings, *, seed_demo_if_empty: bool = False) -> None:
    """Run the server until SIGINT/SIGTERM (aiohttp handles both: stop accepting, run the
    cleanup contexts in reverse, close sockets)."""
    configure_logging(settings.logging.level, settings.logging.format)
    app = build_app(settings)
    if seed_demo_if_empty:
        from ccserver.seed import seed_demo_if_empty as seed

        app.on_startup.append(seed)
    started = time.time()
    app.on_startup.append(lambda _app: _log_ready(settings, started))
    app.on_startup.append(_install_sighup)
    app.on_startup.append(_freeze_startup_objects)
    web.run_app(
        app,
        host=settings.server.host,
        port=settings.server.port,
        shutdown_timeout=settings.server.shutdown_timeout_s,
        print=None,
        access_log=None,
    )


async def _install_sighup(app: web.Application) -> None:
    """SIGHUP reloads routing and IVR configuration (a bad file is logged and ignored)."""
    import asyncio
    import signal

    from ccserver.web.routes_admin import reload_configuration

    async def reload() -> None:
        try:
            await reload_configuration(app)
        except Exception as e:
            log.error("configuration reload refused; the running configuration stays", error=str(e))

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reload()))


# Full (generation 2) collections every this many generation-1 collections instead of
# CPython's 10. A full collection walks every live object: with thousands of consoles
# connected or 100k tasks waiting it stalls the loop for 0.1-0.4 s, and at the default it
# came every few seconds under load. Measured with bench.consoles (5,000 consoles, 10,000
# screen pops/s): p99 415 ms -> 3.6 ms. Cycles are still collected, just less often;
# reference counting frees everything else at once.
GC_FULL_EVERY = 1000


def tune_gc() -> None:
    """Everything built at start-up (config, flows, engine indexes, demo data caches) lives
    as long as the process: move it out of the collector's reach, so collections during
    traffic only scan new objects (measured in bench/routing: a full collection 0.3 s instead
    of 1.1 s with 10k agents and 100k tasks); and make full collections rare."""
    import gc

    gc.collect()
    gc.freeze()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, GC_FULL_EVERY)


async def _freeze_startup_objects(app: web.Application) -> None:
    tune_gc()


async def _log_ready(settings: Settings, started: float) -> None:
    log.info(
        "ccserver listening",
        url=f"http://{settings.server.host}:{settings.server.port}/",
        console=f"http://{settings.server.host}:{settings.server.port}/console",
        startup_s=round(time.time() - started, 2),
    )
