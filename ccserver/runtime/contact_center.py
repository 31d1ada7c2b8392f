"""The live contact center: interactions, agents and the routing engine, turned into I/O.

This is the one place where routing decisions become effects: an ``Offer`` reserves an agent,
builds the screen pop and pushes it to the agent's console (and rings their phone through
the voice adapter); a ``Requeue`` after RONA tells the console the offer is gone; an
``Announce`` goes to the waiting customer. Channels report back through the public methods
(``accepted``, ``customer_left``, ``ended``…); consoles through the same methods via the API.

All state lives in this object and in the sans-I/O cores it holds; all time comes from
``clock`` so tests can drive it. A background ticker calls ``routing.tick`` for timers
(offer timeouts, wrap-up ends, widening, max wait) and publishes the coalesced wallboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from agents import AgentProfile
from ccserver.bus import EventBus
from ccserver.domain import (
    Channel,
    Direction,
    Interaction,
    InteractionEvent,
    InteractionState,
    new_id,
)
from ccserver.errors import Conflict, Forbidden, NotFound, ValidationFailed
from ccserver.logs import get_logger
from ccserver.runtime.alerts import AlertEvaluator, AlertRules
from ccserver.runtime.channel_port import ChannelAdapter
from ccserver.runtime.contacts_writer import ContactsWriter
from ccserver.web.hub import ALERTS_TOPIC, WALLBOARD_TOPIC, agent_topic
from routing.engine import RoutingEngine
from routing.task import (
    AfterHours,
    AgentStateChanged,
    AgentTimeout,
    Announce,
    Decision,
    Offer,
    OfferRevoked,
    Overflow,
    QueueFull,
    Requeue,
    Task,
    WorkDropped,
)

log = get_logger(__name__)

# Facts of one leg that the next leg of a transferred interaction must not inherit.
LEG_ONLY_ATTRIBUTES = frozenset(
    {
        "outcome",
        "notes",
        "fcr",
        "hold_s",
        "hold_started",
        "held",
        "recording_ref",
        "wrap_up_timed_out",
        "transferred_to",
    }
)

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


class ContactCenter:
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

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._ticker(), name="cc-ticker"),
            asyncio.create_task(self._wallboard_publisher(), name="cc-wallboard"),
        ]

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []

    def register(self, channel: Channel, adapter: ChannelAdapter) -> None:
        self.adapters[channel] = adapter

    # --- interactions from channels -------------------------------------------------------
    async def new_interaction(
        self,
        channel: Channel,
        *,
        direction: Direction = Direction.INBOUND,
        customer_id: str | None = None,
        attributes: dict[str, Any] | None = None,
        interaction_id: str | None = None,
    ) -> Interaction:
        now = self.clock()
        i = Interaction(
            id=interaction_id or new_id(now),
            channel=channel,
            direction=direction,
            customer_id=customer_id,
            attributes=dict(attributes or {}),
        )
        i.contact_id = new_id(now)
        i.timestamps["new"] = now
        self.interactions[i.id] = i
        self.on_created(i)
        await self.writer.started(i)
        self._wallboard_dirty = True
        return i

    def get(self, interaction_id: str) -> Interaction:
        try:
            return self.interactions[interaction_id]
        except KeyError:
            raise NotFound(f"no live interaction {interaction_id}") from None

    async def start_self_service(self, interaction_id: str) -> None:
        i = self.get(interaction_id)
        i.apply(InteractionEvent.START_SELF_SERVICE, self.clock())

    async def enqueue(
        self,
        interaction_id: str,
        queue: str,
        *,
        priority: int = 0,
        skills: dict[str, int] | None = None,
        customer_tier: str | None = None,
        preferred_agent_id: str | None = None,
    ) -> list[Decision]:
        async with self.lock:
            i = self.get(interaction_id)
            now = self.clock()
            i.queue, i.priority = queue, priority
            i.skills = dict(skills or {})
            i.apply(InteractionEvent.ENQUEUE, now)
            task = Task(
                id=i.id,
                channel=i.channel,
                queue=queue,
                arrived_at=now,
                priority=priority,
                skills=i.skills,
                attributes=dict(i.attributes),
                customer_id=i.customer_id,
                customer_tier=customer_tier,
                preferred_agent_id=preferred_agent_id,
            )
            decisions = self.routing.submit(task, now)
            self._wallboard_dirty = True
            await self._apply(decisions)
            return decisions

    async def move(
        self, interaction_id: str, *, queue: str | None = None, priority: int | None = None
    ) -> None:
        """Supervisor moves a waiting interaction to another queue and/or priority; it keeps
        its original arrival time, so it is not sent to the back of the line."""
        async with self.lock:
            i = self.get(interaction_id)
            if i.state != InteractionState.QUEUED:
                raise Conflict(f"interaction is {i.state.value}; only waiting ones can be moved")
            now = self.clock()
            await self._apply(self.routing.cancel(i.id, now, "moved"))
            i.queue = queue or i.queue
            if priority is not None:
                i.priority = priority
            assert i.queue is not None
            task = Task(
                id=i.id,
                channel=i.channel,
                queue=i.queue,
                arrived_at=i.timestamps.get("first_queued", now),
                priority=i.priority,
                skills=i.skills,
                attributes=dict(i.attributes),
                customer_id=i.customer_id,
            )
            await self._apply(self.routing.submit(task, now))

    async def customer_left(self, interaction_id: str, outcome: str | None = None) -> None:
        """The customer hung up / closed the chat. Before an agent: abandoned; with an
        agent: the conversation ends and the agent goes to wrap-up."""
        async with self.lock:
            i = self.interactions.get(interaction_id)
            if i is None or i.is_terminal:
                return
            now = self.clock()
            if i.state in (InteractionState.CONNECTED, InteractionState.TRANSFERRED):
                await self._end_conversation(i, now)
                return
            if i.state in (InteractionState.QUEUED, InteractionState.OFFERED):
                await self._apply(self.routing.cancel(i.id, now, "abandoned"))
                self._revoke_offer_local(i)
                i.attributes.setdefault("outcome", "abandoned_queue")
            elif i.state == InteractionState.WRAP_UP:
                return
            else:
                i.attributes.setdefault("outcome", outcome or "abandoned_ivr")
            i.apply(InteractionEvent.ABANDON, now)
            await self._finish(i)

    async def resolved_in_self_service(
        self, interaction_id: str, outcome: str = "self_service"
    ) -> None:
        i = self.get(interaction_id)
        i.attributes["outcome"] = outcome
        i.apply(InteractionEvent.COMPLETE, self.clock())
        await self._finish(i)

    # --- agents ---------------------------------------------------------------------------
    async def agent_login(self, info: AgentInfo) -> None:
        async with self.lock:
            now = self.clock()
            known = self.agents.get(info.user_id)
            self.agents[info.user_id] = info if known is None else known
            if known is not None:
                known.endpoint, known.skills, known.queues = info.endpoint, info.skills, info.queues
            # An agent configured with no queues serves them all (a small desk's default).
            queues = info.queues or frozenset(self.routing.config.queues)
            profile = AgentProfile(info.user_id, skills=info.skills, queues=queues)
            current = self.routing.snapshot()["agents"].get(info.user_id)
            if current is not None and current["presence"] != "logged_out":
                # A reloaded console logs in again: refresh the profile, keep state and work.
                await self._apply(self.routing.agent_changed(profile, now))
            else:
                await self._apply(self.routing.agent_login(profile, now))
            await self._publish_agent_state(info.user_id)

    async def agent_ready(self, user_id: str) -> None:
        async with self.lock:
            self._known_agent(user_id)
            await self._apply(self.routing.agent_ready(user_id, self.clock()))
            await self._publish_agent_state(user_id)

    async def agent_not_ready(self, user_id: str, reason: str) -> None:
        async with self.lock:
            self._known_agent(user_id)
            await self._apply(self.routing.agent_not_ready(user_id, reason, self.clock()))
            await self._publish_agent_state(user_id)

    async def agent_logout(self, user_id: str) -> None:
        async with self.lock:
            self._known_agent(user_id)
            await self._apply(self.routing.agent_logout(user_id, self.clock()))
            await self._publish_agent_state(user_id)

    def _known_agent(self, user_id: str) -> AgentInfo:
        info = self.agents.get(user_id)
        if info is None:
            raise Conflict("log in to the console first (agent is not logged in)")
        return info

    # --- offers and conversations ---------------------------------------------------------
    async def accept(self, interaction_id: str, user_id: str) -> Interaction:
        async with self.lock:
            i = self.get(interaction_id)
            offer = self.offers.get(i.id)
            if offer is None or offer[0] != user_id:
                raise Conflict("this interaction is not offered to you (any more)")
            now = self.clock()
            await self._apply(self.routing.accept(i.id, user_id, now))
            del self.offers[i.id]
            i.agent_id = user_id
            i.apply(InteractionEvent.ACCEPT, now)
            adapter = self.adapters.get(i.channel)
            if adapter is not None:
                await adapter.connect(i, user_id)
            await self.writer.updated(i)
            await self._publish_interaction(i)
            await self._publish_agent_state(user_id)
            return i

    async def agent_answered(self, interaction_id: str) -> None:
        """The voice adapter saw the agent's phone answer: same as accepting on screen."""
        offer = self.offers.get(interaction_id)
        if offer is not None:
            await self.accept(interaction_id, offer[0])

    async def reject(self, interaction_id: str, user_id: str) -> None:
        async with self.lock:
            i = self.get(interaction_id)
            offer = self.offers.get(i.id)
            if offer is None or offer[0] != user_id:
                raise Conflict("this interaction is not offered to you (any more)")
            await self._apply(self.routing.reject(i.id, user_id, self.clock()))
            await self._publish_agent_state(user_id)

    async def hang_up(self, interaction_id: str, user_id: str) -> None:
        """The agent ends the conversation (hang up / close chat): wrap-up starts."""
        async with self.lock:
            i = self._owned(interaction_id, user_id)
            adapter = self.adapters.get(i.channel)
            if adapter is not None:
                await adapter.end(i)
            await self._end_conversation(i, self.clock())

    async def end_with_survey(self, interaction_id: str, user_id: str) -> None:
        """The agent ends the conversation and hands the customer to the post-call survey
        (voice: the caller stays on the line for the keypad survey). Wrap-up starts."""
        async with self.lock:
            i = self._owned(interaction_id, user_id)
            adapter = self.adapters.get(i.channel)
            if adapter is None:
                raise ValidationFailed(f"{i.channel.value} has no post-call survey")
            await adapter.control(i, "survey", {})
            i.attributes["survey_offered"] = True
            await self._end_conversation(i, self.clock())

    async def control(
        self, interaction_id: str, user_id: str, action: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        i = self._owned(interaction_id, user_id)
        adapter = self.adapters.get(i.channel)
        if adapter is None:
            raise ValidationFailed(f"{i.channel.value} has no call controls")
        now = self.clock()
        if action == "hold":
            i.attributes["hold_started"] = now
        elif action == "unhold":
            self._close_hold(i, now)
        result = await adapter.control(i, action, params)
        if action == "record":
            i.attributes["recording_ref"] = result.get("recording_ref")
        i.attributes["held"] = "hold_started" in i.attributes
        await self._publish_interaction(i)
        return result

    async def transfer_to_queue(self, interaction_id: str, user_id: str, queue: str) -> None:
        """Blind transfer to a queue: the agent's leg ends (wrap-up), the customer is routed
        again as a new linked contact."""
        async with self.lock:
            i = self._owned(interaction_id, user_id)
            now = self.clock()
            i.apply(InteractionEvent.TRANSFER, now)
            await self._apply(self.routing.end(i.id, user_id, now))
            self._close_hold(i, now)
            i.attributes["outcome"] = "transferred"
            await self.writer.updated(i)
            # The customer continues as a new leg linked to this contact.
            leg = await self.new_interaction(
                i.channel,
                direction=i.direction,
                customer_id=i.customer_id,
                attributes={
                    **{k: v for k, v in i.attributes.items() if k not in LEG_ONLY_ATTRIBUTES},
                    "related_contact_id": i.contact_id,
                    "transferred_from": user_id,
                },
                interaction_id=None,
            )
            i.attributes["transferred_to"] = leg.id
            self.agent_wrap_up_pending(i, user_id)
            await self._publish_interaction(i)
            await self._publish_agent_state(user_id)
            adapter = self.adapters.get(i.channel)
            if adapter is not None:
                await adapter.control(
                    i, "transfer_queue", {"queue": queue, "new_interaction": leg.id}
                )
        await self.enqueue(leg.id, queue, priority=i.priority + 1, skills=i.skills)

    def agent_wrap_up_pending(self, i: Interaction, user_id: str) -> None:
        i.attributes["wrap_agent"] = user_id

    async def wrap_up(
        self,
        interaction_id: str,
        user_id: str,
        *,
        disposition: str | None,
        notes: str | None,
        fcr: bool | None,
    ) -> Interaction:
        async with self.lock:
            i = self.get(interaction_id)
            if i.agent_id != user_id:
                raise Forbidden("not your interaction")
            if i.state not in (InteractionState.WRAP_UP, InteractionState.TRANSFERRED):
                raise Conflict(f"interaction is {i.state.value}, not in wrap-up")
            if disposition is None and self.disposition_required:
                raise ValidationFailed(
                    "a disposition code is required",
                    details={"fields": [{"field": "disposition", "message": "required"}]},
                )
            if (
                disposition is not None
                and self.dispositions
                and disposition not in self.dispositions
            ):
                raise ValidationFailed(
                    f"unknown disposition {disposition!r}",
                    details={"allowed": list(self.dispositions)},
                )
            now = self.clock()
            i.disposition = disposition
            if notes:
                i.attributes["notes"] = notes[:4000]
            if fcr is not None:
                i.attributes["fcr"] = fcr
            if i.state == InteractionState.TRANSFERRED:
                i.timestamps.setdefault("wrap_up", now)
                i.state = InteractionState.WRAP_UP
            await self._apply(self.routing.complete(i.id, user_id, now))
            i.apply(InteractionEvent.COMPLETE, now)
            info = self.agents.get(user_id)
            if info is not None:
                info.handled_today += 1
                info.handle_time_total += now - i.timestamps.get("first_connected", now)
                info.current.discard(i.id)
            i.attributes.setdefault("outcome", "answered")
            await self._finish(i)
            await self._publish_agent_state(user_id)
            return i

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

    async def _end_conversation(self, i: Interaction, now: float) -> None:
        self._close_hold(i, now)
        if i.state == InteractionState.CONNECTED:
            i.apply(InteractionEvent.END, now)
            if i.agent_id:
                await self._apply(self.routing.end(i.id, i.agent_id, now))
        i.attributes.setdefault("outcome", "answered")
        await self.writer.updated(i)
        await self._publish_interaction(i)
        if i.agent_id:
            await self._publish_agent_state(i.agent_id)

    async def _wrap_up_timed_out(self, agent_id: str) -> None:
        """The routing engine ended an agent's wrap-up on its timer: close the interactions
        whose wrap-up ran out, without a disposition (the contact says so)."""
        now = self.clock()
        limit = self.routing.config.agents.wrap_up_timeout
        for i in list(self.interactions.values()):
            started = i.timestamps.get("wrap_up")
            if (
                i.agent_id == agent_id
                and i.state == InteractionState.WRAP_UP
                and started is not None
                and now - started >= limit - 1e-6
            ):
                i.attributes["wrap_up_timed_out"] = True
                i.apply(InteractionEvent.COMPLETE, now)
                info = self.agents.get(agent_id)
                if info is not None:
                    info.current.discard(i.id)
                    info.handled_today += 1
                    info.handle_time_total += now - i.timestamps.get("first_connected", now)
                await self._finish(i)

    async def _finish(self, i: Interaction) -> None:
        await self.writer.updated(i)
        await self._publish_interaction(i)
        self.interactions.pop(i.id, None)
        self._wallboard_dirty = True

    # --- decisions -> effects -------------------------------------------------------------
    async def apply_decisions(self, decisions: list[Decision]) -> None:
        """Turn decisions made outside this object (e.g. a config reload) into effects;
        call with ``lock`` held."""
        await self._apply(decisions)

    async def _apply(self, decisions: list[Decision]) -> None:
        for d in decisions:
            try:
                await self._apply_one(d)
            except Exception:
                log.exception("applying a routing decision failed", decision=repr(d))
        if decisions:
            self._wallboard_dirty = True

    async def _apply_one(self, d: Decision) -> None:
        if isinstance(d, Offer):
            await self._offer(d)
        elif isinstance(d, Requeue | OfferRevoked):
            i = self.interactions.get(d.task_id)
            if i is not None:
                agent = self._revoke_offer_local(i)
                if i.state == InteractionState.OFFERED:
                    i.apply(InteractionEvent.OFFER_TIMEOUT, self.clock())
                adapter = self.adapters.get(i.channel)
                if adapter is not None and agent is not None:
                    await adapter.revoke_offer(i, agent)
        elif isinstance(d, AgentTimeout):
            await self._publish(agent_topic(d.agent_id), "rona", {"interaction_id": d.task_id})
            await self._publish_agent_state(d.agent_id)
        elif isinstance(d, AgentStateChanged):
            if d.reason == "wrap_up_timeout":
                await self._wrap_up_timed_out(d.agent_id)
            await self._publish_agent_state(d.agent_id)
        elif isinstance(d, WorkDropped):
            i = self.interactions.get(d.task_id)
            if i is not None and i.state == InteractionState.WRAP_UP:
                i.apply(InteractionEvent.COMPLETE, self.clock())
                await self._finish(i)
        elif isinstance(d, Announce):
            i = self.interactions.get(d.task_id)
            adapter = self.adapters.get(i.channel) if i else None
            if i is not None and adapter is not None:
                await adapter.announce(i, d.position, d.ewt or 0.0)
        elif isinstance(d, Overflow | QueueFull | AfterHours):
            i = self.interactions.get(d.task_id)
            if i is None:
                return
            if d.action == "queue" and d.to_queue:
                i.queue = d.to_queue
                i.attributes.setdefault(
                    "overflowed_from", getattr(d, "from_queue", getattr(d, "queue", None))
                )
            else:
                i.attributes["outcome"] = {
                    "voicemail": "voicemail",
                    "callback": "callback_requested",
                }.get(d.action, "overflow_disconnect")
                adapter = self.adapters.get(i.channel)
                if adapter is not None:
                    await adapter.control(i, d.action, {"reason": type(d).__name__})
                if not i.is_terminal:
                    i.apply(
                        InteractionEvent.COMPLETE
                        if i.state == InteractionState.QUEUED
                        else InteractionEvent.ABANDON,
                        self.clock(),
                    )
                await self._finish(i)

    async def _offer(self, d: Offer) -> None:
        i = self.interactions.get(d.task_id)
        if i is None:
            return
        now = self.clock()
        i.apply(InteractionEvent.OFFER, now)
        self.offers[i.id] = (d.agent_id, d.expires_at)
        info = self.agents.get(d.agent_id)
        if info is not None:
            info.current.add(i.id)
        routing_info = {
            "queue": d.queue,
            "channel": i.channel.value,
            "waited_s": round(d.waited, 1),
            "attempt": d.attempt,
            "ivr_path": i.attributes.get("ivr_path", []),
            "ivr_inputs": i.attributes.get("ivr_inputs", {}),
            "ewt_at_arrival": i.attributes.get("ewt_at_arrival"),
            "caller": i.attributes.get("caller_id") or i.attributes.get("from"),
            "subject": i.attributes.get("subject"),
        }
        pop = await self.screen_pop(i.customer_id, routing_info)
        await self._publish(
            agent_topic(d.agent_id),
            "offer",
            {
                "interaction": self._interaction_json(i),
                "expires_at": d.expires_at,
                "screen_pop": pop,
            },
        )
        adapter = self.adapters.get(i.channel)
        if adapter is not None:
            await adapter.offer(i, d.agent_id, info.endpoint if info else None, d.expires_at)
        await self._publish_agent_state(d.agent_id)

    def _revoke_offer_local(self, i: Interaction) -> str | None:
        offer = self.offers.pop(i.id, None)
        if offer is None:
            return None
        info = self.agents.get(offer[0])
        if info is not None:
            info.current.discard(i.id)
        self.bus_publish_later(agent_topic(offer[0]), "offer_revoked", {"interaction_id": i.id})
        return offer[0]

    def bus_publish_later(self, topic: str, kind: str, data: dict[str, Any]) -> None:
        asyncio.get_running_loop().create_task(self._publish(topic, kind, data))

    # --- publishing -----------------------------------------------------------------------
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

    # --- timers ---------------------------------------------------------------------------
    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                async with self.lock:
                    await self._apply(self.routing.tick(self.clock()))
            except Exception:
                log.exception("routing tick failed")

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
