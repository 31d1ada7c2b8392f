"""Routing decisions become effects: an ``Offer`` reserves the agent, builds the screen pop
and pushes it to the agent's console (and rings their phone through the channel adapter); a
``Requeue`` after RONA withdraws the offer on the console; an ``Announce`` goes to the waiting
customer; overflow and after-hours exits end the interaction through its channel. A ticker
drives the routing engine's timers and the coalesced wallboard."""

from __future__ import annotations

import asyncio
import contextlib

from ccserver.domain import (
    Interaction,
    InteractionEvent,
    InteractionState,
)
from ccserver.logs import get_logger
from ccserver.runtime.live_state import LiveState
from ccserver.web.hub import agent_topic
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
    WorkDropped,
)

log = get_logger(__name__)


class DecisionEffects(LiveState):
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

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                async with self.lock:
                    await self._apply(self.routing.tick(self.clock()))
            except Exception:
                log.exception("routing tick failed")

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

    async def _end_conversation(self, i: Interaction, now: float) -> None:
        self._close_hold(i, now)
        if i.state == InteractionState.CONNECTED:
            i.apply(InteractionEvent.END, now)
            if i.agent_id:
                await self._apply(self.routing.end(i.id, i.agent_id, now))
        i.attributes.setdefault("outcome", "answered")
        await self.writer.updated(i)
        # Handled: only wrap-up is left, so a restart must not offer this work again.
        await self.durable.ended(i)
        await self._publish_interaction(i)
        if i.agent_id:
            await self._publish_agent_state(i.agent_id)
