"""``ccserver simulate``: a what-if run of the whole contact center against simulated callers.

Builds the real parts in-process - CRM store (temporary SQLite), outbox, routing engine,
ContactCenter, the voice channel and the built-in Asterisk simulator - with one clock for all
of them that runs ``1 / time_scale`` times faster than the wall clock. Callers arrive as a
Poisson process, pick the language and a main-menu option, wait up to their patience
(exponential), talk (exponential) and hang up; simulated agents answer their phones and wrap
up after ``--wrap`` seconds. The report gives service level, waits and abandons::

    ccserver simulate --agents 8 --calls-per-hour 120 --duration 3600 --time-scale 0.01

Exit codes: 0 done, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ccserver.domain import Channel, Interaction, InteractionState
from ccserver.settings import Settings, load_settings
from ccserver.simulator.callers import CallHandle, Hangup, Press, Step, Talk, WaitForAgent

AGENT_SKILLS = {"lang.en": 2, "orders": 2, "billing": 2, "complaints": 2, "technical": 2}
MENU_CHOICES = ("0", "2", "4")  # agent, billing, technical (config/ivr/main.toml)


@dataclass
class SimOptions:
    agents: int = 5
    calls_per_hour: float = 60.0
    duration_s: float = 3600.0
    patience_s: float = 120.0  # mean (exponential)
    talk_s: float = 180.0  # mean (exponential)
    wrap_s: float = 15.0
    time_scale: float = 0.01
    seed: int = 1
    config: Path | None = None
    respect_hours: bool = False


@dataclass
class SimReport:
    calls: int = 0
    queued: int = 0
    answered: int = 0
    abandoned_queue: int = 0
    abandoned_ivr: int = 0
    other: int = 0
    service_level_s: float = 20.0
    service_level: float | None = None  # answered within service_level_s / queued
    wait_avg_s: float | None = None
    wait_p90_s: float | None = None
    wait_max_s: float | None = None
    talk_avg_s: float | None = None
    wall_s: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        def f(v: float | None, unit: str = "s") -> str:
            return "-" if v is None else f"{v:.1f}{unit}"

        sl = "-" if self.service_level is None else f"{self.service_level * 100:.1f}%"
        return [
            f"calls {self.calls}  queued {self.queued}  answered {self.answered}  "
            f"abandoned in queue {self.abandoned_queue}  in IVR {self.abandoned_ivr}",
            f"service level ({self.service_level_s:.0f}s) {sl}  wait avg {f(self.wait_avg_s)}  "
            f"p90 {f(self.wait_p90_s)}  max {f(self.wait_max_s)}  talk avg {f(self.talk_avg_s)}",
            f"(simulated {self.options.get('duration_s', 0):.0f}s in {self.wall_s:.1f}s wall)",
        ]


def report_from(interactions: Sequence[Interaction], sl_seconds: float) -> SimReport:
    """Figures from the interactions' own timestamps (what the contacts table will say)."""
    rep = SimReport(service_level_s=sl_seconds)
    waits: list[float] = []
    talks: list[float] = []
    within = 0
    for i in interactions:
        if i.channel != Channel.VOICE:
            continue
        rep.calls += 1
        t = i.timestamps
        outcome = i.attributes.get("outcome")
        if "first_queued" in t:
            rep.queued += 1
        if "first_connected" in t:
            rep.answered += 1
            wait = t["first_connected"] - t.get("first_queued", t["first_connected"])
            waits.append(wait)
            within += wait <= sl_seconds
            if "wrap_up" in t:
                talks.append(t["wrap_up"] - t["first_connected"])
        elif outcome == "abandoned_queue":
            rep.abandoned_queue += 1
            waits.append(t.get("abandoned", 0.0) - t.get("first_queued", 0.0))
        elif outcome == "abandoned_ivr":
            rep.abandoned_ivr += 1
        else:
            rep.other += 1
    if rep.queued:
        rep.service_level = within / rep.queued
    if waits:
        rep.wait_avg_s = statistics.fmean(waits)
        rep.wait_max_s = max(waits)
        rep.wait_p90_s = sorted(waits)[min(len(waits) - 1, int(len(waits) * 0.9))]
    if talks:
        rep.talk_avg_s = statistics.fmean(talks)
    return rep


def _script(rng: random.Random, opts: SimOptions) -> list[Step]:
    return [
        Press("1"),  # English
        Press(rng.choice(MENU_CHOICES)),
        WaitForAgent(rng.expovariate(1 / opts.patience_s)),
        Talk(max(5.0, rng.expovariate(1 / opts.talk_s))),
        Hangup(16),
    ]


def _prepare(opts: SimOptions, tmp: Path) -> tuple[Settings, Path]:
    """Settings for a throw-away run in ``tmp`` (SQLite, simulator on an ephemeral port)."""
    base = load_settings(opts.config, environ={})
    routing_file = tmp / "routing.toml"
    text = Path(base.paths.routing).read_text()
    if not opts.respect_hours:  # a what-if run is about staffing, not the clock on the wall
        text = re.sub(r'(?m)^calendar = "[^"]*"', 'calendar = "always"', text)
    routing_file.write_text(text)
    settings = load_settings(
        opts.config,
        environ={
            "CCSERVER_SERVER__DATA_DIR": str(tmp / "data"),
            "CCSERVER_DATABASE__URL": "",
            "CCSERVER_ASTERISK__MODE": "simulator",
            "CCSERVER_ASTERISK__SIMULATOR_PORT": "0",
            "CCSERVER_PATHS__ROUTING": str(routing_file),
        },
    )
    settings.server.data_dir.mkdir(parents=True, exist_ok=True)
    return settings, routing_file


@dataclass
class RunningCenter:
    """The live parts of a simulated run (see :func:`running_center`)."""

    cc: Any  # ContactCenter
    voice: Any  # VoiceChannel
    sim: Any  # AsteriskSimulator
    numbers: list[str]  # caller IDs of known customers
    seen: list[Interaction]  # every interaction created, in order
    sl_seconds: float


@contextlib.asynccontextmanager
async def running_center(opts: SimOptions) -> AsyncIterator[RunningCenter]:
    """CRM store (temporary SQLite), outbox, bus, routing, ContactCenter on a clock running
    ``1 / time_scale`` times faster than the wall, the voice channel and the simulator, with
    ``opts.agents`` agents logged in and ready (they wrap up after ``opts.wrap_s``)."""
    from ccserver.app import Services
    from ccserver.bus import InMemoryBus
    from ccserver.channels.voice.setup import start_voice
    from ccserver.crm.customers import CustomerService
    from ccserver.crm.database import create_engine, session_factory
    from ccserver.crm.migrate import upgrade_engine
    from ccserver.crm.outbox import Outbox
    from ccserver.runtime.contact_center import AgentInfo, ContactCenter
    from ccserver.runtime.contacts_writer import ContactsWriter
    from ccserver.runtime.screen_pop import build_screen_pop
    from routing.config import load_routing_config
    from routing.engine import RoutingEngine

    with tempfile.TemporaryDirectory(prefix="ccserver-simulate-") as tmp:
        settings, routing_file = _prepare(opts, Path(tmp))
        engine = create_engine(settings.database_url)
        await upgrade_engine(engine)
        sessions = session_factory(engine)
        outbox = Outbox(engine, settings.outbox_journal)
        await outbox.start()
        bus = InMemoryBus()
        await bus.start()
        t0 = time.time()
        scale = opts.time_scale
        routing = RoutingEngine(load_routing_config(routing_file))
        cc = ContactCenter(
            routing,
            bus,
            ContactsWriter(outbox),
            partial(build_screen_pop, sessions),
            clock=lambda: t0 + (time.time() - t0) / scale,
            tick_interval=0.05,
        )
        seen: list[Interaction] = []
        cc.on_created = seen.append
        await cc.start()
        voice = None
        wrapper = asyncio.create_task(_auto_wrap_up(cc, opts.wrap_s, scale))
        try:
            services = Services(settings, engine, sessions, outbox, bus)
            voice = await start_voice(settings, cc, services, time_scale=scale)
            numbers = await _customers(CustomerService(sessions), 30)
            for k in range(opts.agents):
                uid = f"agent{1001 + k}"
                info = AgentInfo(uid, uid, f"Agent {1001 + k}", f"PJSIP/{uid}", AGENT_SKILLS)
                await cc.agent_login(info)
                await cc.agent_ready(uid)
            queues = routing.config.queues
            sl = queues["general"].sl_seconds if "general" in queues else 20.0
            yield RunningCenter(cc, voice, voice.simulator, numbers, seen, sl)
        finally:
            wrapper.cancel()
            await asyncio.gather(wrapper, return_exceptions=True)
            if voice is not None:
                await voice.close()
            await cc.close()
            await outbox.close()
            await bus.close()
            await engine.dispose()


async def simulate(opts: SimOptions) -> SimReport:
    wall0 = time.monotonic()
    rng = random.Random(opts.seed)
    async with running_center(opts) as run:
        calls = await _arrivals(run.sim, rng, opts, run.numbers)
        budget = (opts.patience_s * 4 + opts.talk_s * 4 + 120) * opts.time_scale + 5
        if calls:
            await asyncio.wait([c.finished for c in calls], timeout=budget)
    rep = report_from(run.seen, run.sl_seconds)
    rep.wall_s = time.monotonic() - wall0
    rep.options = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()}
    return rep


async def _customers(service: Any, count: int) -> list[str]:
    """Known callers (identified by caller ID, so every caller meets the same menu)."""
    numbers = [f"202555{1000 + n:04d}" for n in range(count)]
    for n, number in enumerate(numbers):
        await service.create(
            {"display_name": f"Simulated caller {n}", "phone": f"+1{number}"},
            on_duplicate="return",
        )
    return numbers


async def _arrivals(
    sim: Any, rng: random.Random, opts: SimOptions, numbers: list[str]
) -> list[CallHandle]:
    calls: list[CallHandle] = []
    rate = opts.calls_per_hour / 3600.0
    t = 0.0
    while rate > 0:
        gap = rng.expovariate(rate)
        if t + gap > opts.duration_s:
            break
        t += gap
        await asyncio.sleep(gap * opts.time_scale)
        calls.append(sim.place_call(rng.choice(numbers), _script(rng, opts)))
    return calls


async def _auto_wrap_up(cc: Any, wrap_s: float, scale: float) -> None:
    """Simulated agents finish after-call work ``wrap_s`` (simulated) seconds after a call,
    and get ready again after a missed offer."""
    while True:
        await asyncio.sleep(max(0.01, min(0.2, wrap_s * scale / 4)))
        now = cc.clock()
        # A missed offer leaves an agent in RONA until they go ready by hand: they do.
        for uid, state in cc.routing.snapshot()["agents"].items():
            if state["state"] == "rona":
                try:
                    await cc.agent_ready(uid)
                except Exception:
                    continue
        for i in list(cc.interactions.values()):
            started = i.timestamps.get("wrap_up")
            due = started is not None and now - started >= wrap_s
            if i.state == InteractionState.WRAP_UP and i.agent_id and due:
                try:
                    await cc.wrap_up(i.id, i.agent_id, disposition=None, notes=None, fcr=None)
                except Exception:  # raced with the routing's own wrap-up timer
                    continue


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ccserver simulate", description=__doc__.split("\n")[0])
    d = SimOptions()
    p.add_argument("--agents", type=int, default=d.agents)
    p.add_argument("--calls-per-hour", type=float, default=d.calls_per_hour)
    p.add_argument("--duration", type=float, default=d.duration_s, help="simulated seconds")
    p.add_argument("--patience", type=float, default=d.patience_s, help="mean, seconds")
    p.add_argument("--talk", type=float, default=d.talk_s, help="mean talk time, seconds")
    p.add_argument("--wrap", type=float, default=d.wrap_s, help="after-call work, seconds")
    p.add_argument("--time-scale", type=float, default=d.time_scale, help="wall s per sim s")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--config", type=Path, default=None, help="ccserver config file")
    p.add_argument("--respect-hours", action="store_true", help="keep queue calendars")
    p.add_argument("--json", type=Path, default=None, help="also write the report here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    if args.agents < 0 or args.calls_per_hour < 0 or args.duration <= 0:
        parser.print_usage()
        print("ccserver simulate: agents/calls must be >= 0 and duration > 0")
        return 2
    if not 0 < args.time_scale <= 1 or min(args.patience, args.talk) <= 0 or args.wrap < 0:
        parser.print_usage()
        print("ccserver simulate: time scale in (0, 1]; patience and talk > 0; wrap >= 0")
        return 2
    opts = SimOptions(
        agents=args.agents,
        calls_per_hour=args.calls_per_hour,
        duration_s=args.duration,
        patience_s=args.patience,
        talk_s=args.talk,
        wrap_s=args.wrap,
        time_scale=args.time_scale,
        seed=args.seed,
        config=args.config,
        respect_hours=args.respect_hours,
    )
    report = asyncio.run(simulate(opts))
    for line in report.lines():
        print(line)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return 0
