"""The live state of the contact center: interactions and agents in this process, what is
published about them (agent topics, the wallboard) and the JSON views consoles and
wallboards receive. :mod:`.decision_effects` turns routing decisions into I/O on top of it;
:mod:`.contact_center` is the API channels and consoles call."""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ccserver.bus import EventBus
from ccserver.domain import (
    Channel,
    Interaction,
    InteractionState,
)
from ccserver.errors import Conflict, Forbidden, NotFound
from ccserver.logs import get_logger
from ccserver.runtime.alerts import AlertEvaluator, AlertRules
from ccserver.runtime.channel_port import ChannelAdapter
from ccserver.runtime.contacts_writer import ContactsWriter
from ccserver.runtime.pending_work import DurableInteractions
from ccserver.web.hub import ALERTS_TOPIC, WALLBOARD_TOPIC, agent_topic
from routing.engine import RoutingEngine

log = get_logger(__name__)


ScreenPopBuilder = Callable[[str | None, dict[str, Any]], Any]


@dataclass
class AgentInfo:
    user_id: str
    username: str
    display_name: str
    endpoint: str | None
    skills: dict[str, int] = field(default_factory=dict)
    queues: frozenset[str] = frozenset()
    handled_today: int = 0
    handle_time_total: float = 0.0
    current: set[str] = field(default_factory=set)  # interaction ids held (offered/connected/wrap)


class LiveState:
    """State, publishing and views shared by the layers above."""

    def __init__(
        self,
        routing: RoutingEngine,
        bus: EventBus,
        writer: ContactsWriter,
        screen_pop: ScreenPopBuilder,
        *,
        dispositions: tuple[str, ...] = (),
        disposition_required: bool = False,
        clock: Callable[[], float] = time.time,
        tick_interval: float = 0.2,
        wallboard_interval: float = 0.5,
    ) -> None:
        self.routing = routing
        self.bus = bus
        self.writer = writer
        self.screen_pop = screen_pop
        self.dispositions = dispositions
        self.disposition_required = disposition_required
        self.clock = clock
        self.tick_interval = tick_interval
        self.wallboard_interval = wallboard_interval
        self.interactions: dict[str, Interaction] = {}
        self.agents: dict[str, AgentInfo] = {}
        self.adapters: dict[Channel, ChannelAdapter] = {}
        self.offers: dict[str, tuple[str, float]] = {}  # interaction id -> (agent id, expires)
        self._wallboard_dirty = True
        self._tasks: list[asyncio.Task[None]] = []
        self.lock = asyncio.Lock()
        self.alerts = AlertEvaluator(
            AlertRules(),
            {q: c.sl_percent / 100 for q, c in routing.config.queues.items()},
        )
        # Observers of every published wallboard state (the app updates Prometheus gauges).
        self.on_wallboard: Callable[[dict[str, Any]], None] = lambda state: None
        self.on_created: Callable[[Interaction], None] = lambda interaction: None
        # Written work kept across restarts; the app gives it a store (none in unit tests).
        self.durable = DurableInteractions(None)

    def register(self, channel: Channel, adapter: ChannelAdapter) -> None:
        self.adapters[channel] = adapter

    def get(self, interaction_id: str) -> Interaction:
        try:
            return self.interactions[interaction_id]
        except KeyError:
            raise NotFound(f"no live interaction {interaction_id}") from None

    def _known_agent(self, user_id: str) -> AgentInfo:
        info = self.agents.get(user_id)
        if info is None:
            raise Conflict("log in to the console first (agent is not logged in)")
        return info

    def _owned(self, interaction_id: str, user_id: str) -> Interaction:
        i = self.get(interaction_id)
        if i.agent_id != user_id:
            raise Forbidden("not your interaction")
        if i.state != InteractionState.CONNECTED:
            raise Conflict(f"interaction is {i.state.value}, not connected")
        return i

    @staticmethod
    def _close_hold(i: Interaction, now: float) -> None:
        """A hold still running when the leg ends counts up to now."""
        if "hold_started" in i.attributes:
            started = float(i.attributes.pop("hold_started"))
            i.attributes["hold_s"] = float(i.attributes.get("hold_s", 0.0)) + now - started
            i.attributes["held"] = False

    async def consult_changed(self, i: Interaction, result: str | None = None) -> None:
        """The voice channel's consult moved on by itself. ``result`` set: it is over without
        a transfer (no_answer, busy, failed, target_hung_up, caller_left) - the agent is back
        with the caller, so the hold that started with the consult ends, and the console is
        told why with a ``consult_result`` frame."""
        if result is not None:
            self._close_hold(i, self.clock())
            i.attributes["consult_result"] = result
            if i.agent_id:
                frame = {"interaction_id": i.id, "result": result}
                await self._publish(agent_topic(i.agent_id), "consult_result", frame)
        await self._publish_interaction(i)

    async def _finish(self, i: Interaction) -> None:
        await self.writer.updated(i)
        await self.durable.ended(i)
        await self._publish_interaction(i)
        self.interactions.pop(i.id, None)
        self._wallboard_dirty = True

    def bus_publish_later(self, topic: str, kind: str, data: dict[str, Any]) -> None:
        asyncio.get_running_loop().create_task(self._publish(topic, kind, data))

    async def _publish(self, topic: str, kind: str, data: dict[str, Any]) -> None:
        try:
            await self.bus.publish(topic, {"type": kind, "data": data})
        except Exception:
            log.warning("bus publish failed", topic=topic, kind=kind, exc_info=True)

    @staticmethod
    def _interaction_json(i: Interaction) -> dict[str, Any]:
        return {
            "id": i.id,
            "channel": i.channel.value,
            "direction": i.direction.value,
            "state": i.state.value,
            "queue": i.queue,
            "priority": i.priority,
            "customer_id": i.customer_id,
            "agent_id": i.agent_id,
            "contact_id": i.contact_id,
            "disposition": i.disposition,
            "held": bool(i.attributes.get("held")),
            # An attended transfer in progress: {"state": dialing|talking, "target", "kind"}.
            "consult": i.attributes.get("consult"),
            "caller": i.attributes.get("caller_id") or i.attributes.get("from"),
            "timestamps": i.timestamps,
        }

    async def _publish_interaction(self, i: Interaction) -> None:
        if i.agent_id:
            await self._publish(agent_topic(i.agent_id), "interaction", self._interaction_json(i))
        self._wallboard_dirty = True

    def agent_state_json(
        self, user_id: str, snap: dict[str, Any] | None = None, display_name: str | None = None
    ) -> dict[str, Any]:
        """One agent's line on the wallboard / console header. ``snap`` is the routing
        snapshot when building many at once (one snapshot per wallboard, not per agent)."""
        info = self.agents.get(user_id)
        agents = (snap or self.routing.snapshot())["agents"]
        a = agents.get(user_id)
        now = self.clock()
        return {
            "id": user_id,
            "name": info.display_name if info else (display_name or user_id),
            "state": a["state"] if a else "logged_out",
            "reason": a["reason"] if a else None,
            "since": a["since"] if a else None,
            "time_in_state": round(now - a["since"], 1) if a else 0.0,
            "occupancy": round(a["occupancy"], 3) if a else 0.0,
            "queues": a["queues"] if a else [],
            "interactions": sorted(info.current) if info else [],
            "handled_today": info.handled_today if info else 0,
            "aht": round(info.handle_time_total / info.handled_today, 1)
            if info and info.handled_today
            else None,
        }

    async def _publish_agent_state(self, user_id: str) -> None:
        await self._publish(agent_topic(user_id), "agent_state", self.agent_state_json(user_id))
        self._wallboard_dirty = True

    async def agent_snapshot(self, user_id: str, display_name: str | None = None) -> dict[str, Any]:
        held = [
            self._interaction_json(i) for i in self.interactions.values() if i.agent_id == user_id
        ]
        offers = []
        for iid, (agent_id, expires) in self.offers.items():
            if agent_id == user_id and iid in self.interactions:
                i = self.interactions[iid]
                pop = await self.screen_pop(
                    i.customer_id,
                    {
                        "queue": i.queue,
                        "channel": i.channel.value,
                        "ivr_path": i.attributes.get("ivr_path", []),
                        "caller": i.attributes.get("caller_id"),
                    },
                )
                offers.append(
                    {
                        "interaction": self._interaction_json(i),
                        "expires_at": expires,
                        "screen_pop": pop,
                    }
                )
        return {
            "agent": self.agent_state_json(user_id, display_name=display_name),
            "interactions": held,
            "offers": offers,
            "dispositions": list(self.dispositions),
            "not_ready_reasons": self.not_ready_reasons,
        }

    WALLBOARD_INTERACTIONS = 500

    def _wallboard_interactions(self) -> list[Interaction]:
        """The interactions a supervisor can act on, bounded so a floor with thousands
        waiting still fits one frame: every one with an agent first, then the longest
        waiting."""
        with_agent = [i for i in self.interactions.values() if i.agent_id or i.id in self.offers]
        room = max(0, self.WALLBOARD_INTERACTIONS - len(with_agent))
        waiting = heapq.nsmallest(
            room,
            (i for i in self.interactions.values() if i.state == InteractionState.QUEUED),
            key=lambda i: i.timestamps.get("first_queued", 0.0),
        )
        return (with_agent + waiting)[: self.WALLBOARD_INTERACTIONS]

    def queue_open(self, queue: str, now: float | None = None) -> bool:
        """Whether ``queue`` is within its business hours (an unknown queue counts as open).
        Read from the live routing config, so a reload changes it at once."""
        q = self.routing.config.queues.get(queue)
        return True if q is None else bool(q.hours.is_open(self.clock() if now is None else now))

    @property
    def not_ready_reasons(self) -> list[str]:
        """The configured reason codes (routing.toml), for consoles and wallboards."""
        return sorted(self.routing.config.agents.not_ready_reasons)

    async def wallboard_snapshot(self) -> dict[str, Any]:
        now = self.clock()
        queues = []
        for name in self.routing.config.queues:
            q = self.routing.queue_stats(name, now)
            queues.append(
                {
                    "queue": q.queue,
                    "waiting": q.waiting,
                    "oldest_wait": round(q.oldest_wait, 1),
                    "agents_staffed": q.agents_staffed,
                    "agents_available": q.agents_available,
                    "ewt": None if q.ewt_new_arrival is None else round(q.ewt_new_arrival, 1),
                    "last_15m": asdict(q.last_15m),
                    "last_1h": asdict(q.last_1h),
                    "today": asdict(q.today),
                }
            )
        snap = self.routing.snapshot()
        agents = [self.agent_state_json(uid, snap) for uid in self.agents]
        live = [self._interaction_json(i) for i in self._wallboard_interactions()]
        return {
            "at": now,
            "queues": queues,
            "agents": agents,
            "interactions": live,
            "interactions_total": len(self.interactions),
            "not_ready_reasons": self.not_ready_reasons,
        }

    async def _wallboard_publisher(self) -> None:
        while True:
            await asyncio.sleep(self.wallboard_interval)
            # Time in state and waits grow even without events: refresh while anyone works.
            if not self._wallboard_dirty and not self.interactions and not self.agents:
                continue
            self._wallboard_dirty = False
            try:
                state = await self.wallboard_snapshot()
                await self._publish(WALLBOARD_TOPIC, "wallboard", state)
                self.on_wallboard(state)
                for alert in self.alerts.evaluate(state):
                    await self._publish(ALERTS_TOPIC, "alert", alert)
            except Exception:
                log.exception("wallboard snapshot failed")
