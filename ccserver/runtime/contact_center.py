"""The live contact center: interactions, agents and the routing engine, turned into I/O.

Three layers, one object: :mod:`.live_state` (state, publishing, console and wallboard
views), :mod:`.decision_effects` (routing decisions become offers, screen pops, rings,
announcements) and this module, the API: channels report what customers do
(``new_interaction``, ``enqueue``, ``customer_left``, ``agent_answered``…) and consoles what
agents do (``accept``, ``hang_up``, ``control``, ``transfer_to_queue``, ``wrap_up``…).

All state lives in this object and in the sans-I/O cores it holds; all time comes from
``clock`` so tests can drive it. A background ticker calls ``routing.tick`` for timers
(offer timeouts, wrap-up ends, widening, max wait) and publishes the coalesced wallboard.
"""

from __future__ import annotations

from typing import Any

from agents import AgentProfile
from ccserver.domain import (
    Channel,
    Direction,
    Interaction,
    InteractionEvent,
    InteractionState,
    new_id,
)
from ccserver.errors import Conflict, Forbidden, ValidationFailed
from ccserver.logs import get_logger
from ccserver.runtime.decision_effects import DecisionEffects
from ccserver.runtime.live_state import AgentInfo, ScreenPopBuilder
from ccserver.runtime.pending_work import revive
from routing.task import (
    Decision,
    Task,
)

log = get_logger(__name__)

__all__ = ["LEG_ONLY_ATTRIBUTES", "AgentInfo", "ContactCenter", "ScreenPopBuilder"]

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


class ContactCenter(DecisionEffects):
    """What channels and consoles call (see the module docstring)."""

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
        arrived_at: float | None = None,
    ) -> list[Decision]:
        """Route ``interaction_id`` in ``queue``. ``arrived_at`` (work taken back after a
        restart) keeps its place in line instead of joining at the back."""
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
                arrived_at=min(now, arrived_at) if arrived_at is not None else now,
                priority=priority,
                skills=i.skills,
                attributes=dict(i.attributes),
                customer_id=i.customer_id,
                customer_tier=customer_tier,
                preferred_agent_id=preferred_agent_id,
            )
            await self.durable.keep(
                i,
                queue,
                enqueue={
                    "priority": priority,
                    "skills": i.skills,
                    "customer_tier": customer_tier,
                    "preferred_agent_id": preferred_agent_id,
                },
            )
            decisions = self.routing.submit(task, now)
            self._wallboard_dirty = True
            await self._apply(decisions)
            return decisions

    def revive(self, snap: dict[str, Any]) -> Interaction:
        """Take back written work kept before a restart (``pending_work``) as a live
        interaction on its existing contact; the caller routes it."""
        i = revive(snap)
        self.interactions[i.id] = i
        self._wallboard_dirty = True
        return i

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
            await self.durable.assigned(i, user_id)
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
        result = await adapter.control(i, action, params)  # refused: the hold clock untouched
        if action in ("hold", "consult"):  # a consult keeps the caller on music: hold time
            i.attributes.setdefault("hold_started", now)
        elif action in ("unhold", "consult_cancel"):
            self._close_hold(i, now)
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
            await self.durable.ended(i)  # the new leg below is the work kept from now on
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
