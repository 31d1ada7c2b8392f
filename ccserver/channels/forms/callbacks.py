"""Callback requests (from the web form, the chat or the IVR) as routed CALLBACK work.

A request becomes an outbound Channel.CALLBACK interaction at once (so the contact exists
and carries the case number); it is enqueued when its window opens. When an agent accepts
the offer, the customer is dialled through a :class:`Dialer` (the voice channel's
``dial_out``); the result is recorded on the contact, and no answer / busy is retried
after a delay, up to ``max_attempts``, as a new contact linked to the previous one.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from dataclasses import dataclass
from typing import Any, Protocol

from ccserver.channels.forms.crm_glue import CaseNumbers
from ccserver.channels.forms.parking import ParkedWork
from ccserver.crm.identities import IdentityError, normalise_phone
from ccserver.domain import Channel, Direction, Interaction, InteractionState
from ccserver.errors import ValidationFailed
from ccserver.logs import get_logger
from ccserver.runtime.channel_port import QuietChannelAdapter
from ccserver.runtime.contact_center import ContactCenter
from ccserver.web.hub import agent_topic

log = get_logger(__name__)
RETRYABLE = frozenset({"no_answer", "busy"})


class Dialer(Protocol):
    async def dial_out(
        self, number: str, *, agent_id: str, endpoint: str | None, interaction: Interaction
    ) -> str:
        """Ring the agent and the customer; returns answered | busy | no_answer | failed."""
        ...


@dataclass(frozen=True, slots=True)
class CallbackOptions:
    queue: str = "general"
    max_attempts: int = 3
    retry_delay_s: float = 300.0
    default_window_s: float = 4 * 3600.0


class CallbackService(QuietChannelAdapter):
    """Callback requests: the agent sees who to call back and accepts on the console; the
    accept dials the customer."""

    label = "a callback"

    def __init__(
        self,
        cc: ContactCenter,
        cases: CaseNumbers,
        *,
        dialer: Dialer | None = None,
        options: CallbackOptions = CallbackOptions(),
        default_region: str = "US",
        tick_s: float = 0.25,
        parking: ParkedWork | None = None,
    ) -> None:
        self.cc = cc
        self.cases = cases
        self.dialer = dialer
        self.options = options
        self.default_region = default_region
        self.tick_s = tick_s
        self.parking = parking
        self._due: list[tuple[float, str]] = []  # (window start, interaction id)
        self._task: asyncio.Task[None] | None = None
        self._dials: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="callbacks")

    async def close(self) -> None:
        tasks = [t for t in (self._task, *self._dials) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._task = None

    def normalise(self, phone: str) -> str:
        try:
            return normalise_phone(phone, self.default_region)
        except IdentityError as exc:
            raise ValidationFailed(
                "not a valid phone number",
                details={"fields": [{"field": "phone", "message": str(exc)}]},
            ) from None

    async def request(
        self,
        phone: str,
        *,
        name: str | None = None,
        customer_id: str | None = None,
        window_start: float | None = None,
        window_end: float | None = None,
        source: str = "form",
        note: str | None = None,
        case_number: str | None = None,
        attempt: int = 1,
        related_contact_id: str | None = None,
    ) -> Interaction:
        number = self.normalise(phone)
        now = self.cc.clock()
        start = max(now, window_start or now)
        end = window_end or start + self.options.default_window_s
        if end <= start:
            raise ValidationFailed(
                "the callback window ends before it starts",
                details={
                    "fields": [{"field": "window_end", "message": "must be after window_start"}]
                },
            )
        attributes: dict[str, Any] = {
            "callback_number": number,
            "caller_id": number,
            "customer_name": name,
            "case_number": case_number or self.cases.allocate(),
            "window_start": start,
            "window_end": end,
            "callback_attempt": attempt,
            "source": source,
            "subject": f"Callback request ({source})",
        }
        if note:
            attributes["note"] = note[:1000]
        if related_contact_id:
            attributes["related_contact_id"] = related_contact_id
        i = await self.cc.new_interaction(
            Channel.CALLBACK,
            direction=Direction.OUTBOUND,
            customer_id=customer_id,
            attributes=attributes,
        )
        # Kept until it ends, so a restart before (or while) it is dialled keeps it.
        await self.cc.durable.keep(i, self.options.queue, due_at=start)
        heapq.heappush(self._due, (start, i.id))
        if start <= now:
            await self._release_due(now)
        return i

    async def schedule(self, i: Interaction) -> None:
        """Take back a callback kept before a restart: due at its window start as before
        (a window that has passed while the server was down ends as ``window_missed``)."""
        start = float(i.attributes.get("window_start", self.cc.clock()))
        heapq.heappush(self._due, (start, i.id))
        await self._release_due(self.cc.clock())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self._release_due(self.cc.clock())
            except Exception:
                log.exception("releasing due callbacks failed")

    async def _release_due(self, now: float) -> None:
        while self._due and self._due[0][0] <= now:
            _, iid = heapq.heappop(self._due)
            i = self.cc.interactions.get(iid)
            if i is None or i.state != InteractionState.NEW:
                continue
            if now > float(i.attributes.get("window_end", now)):
                i.attributes["outcome"] = "window_missed"
                await self.cc.resolved_in_self_service(iid, "window_missed")
                continue
            # A callback taken back after a restart keeps its place in line.
            arrived = i.timestamps.get("first_queued")
            if self.parking is not None:
                await self.parking.enqueue(iid, self.options.queue, arrived_at=arrived)
            else:
                await self.cc.enqueue(iid, self.options.queue, arrived_at=arrived)

    # --- ChannelAdapter ------------------------------------------------------------------
    async def connect(self, interaction: Interaction, agent_id: str) -> None:
        """Accepted: dial in the background (the accept call must not wait for the ring)."""
        task = asyncio.create_task(self._dial(interaction, agent_id), name="callback-dial")
        self._dials.add(task)
        task.add_done_callback(self._dials.discard)

    async def _dial(self, i: Interaction, agent_id: str) -> None:
        number = str(i.attributes["callback_number"])
        info = self.cc.agents.get(agent_id)
        if self.dialer is None or not getattr(self.dialer, "available", True):
            outcome = "manual"  # no voice channel: the agent dials from their own phone
        else:
            try:
                outcome = await self.dialer.dial_out(
                    number, agent_id=agent_id, endpoint=info.endpoint if info else None,
                    interaction=i,
                )  # fmt: skip
            except Exception:
                log.exception("callback dial failed", interaction=i.id)
                outcome = "failed"
        i.attributes["callback_result"] = outcome
        await self.cc.writer.updated(i)
        data = {"interaction_id": i.id, "number": number, "result": outcome}
        with contextlib.suppress(Exception):
            await self.cc.bus.publish(
                agent_topic(agent_id), {"type": "callback_result", "data": data}
            )
        if outcome in ("answered", "manual"):
            return
        i.attributes["outcome"] = f"callback_{outcome}"
        await self.cc.customer_left(i.id)  # the agent goes to wrap-up; the contact says why
        attempt = int(i.attributes.get("callback_attempt", 1))
        end = float(i.attributes.get("window_end", 0.0))
        retry_at = self.cc.clock() + self.options.retry_delay_s
        if outcome in RETRYABLE and attempt < self.options.max_attempts and retry_at < end:
            await self.request(
                number,
                name=i.attributes.get("customer_name"),
                customer_id=i.customer_id,
                window_start=retry_at,
                window_end=end,
                source="retry",
                case_number=i.attributes.get("case_number"),
                attempt=attempt + 1,
                related_contact_id=i.contact_id,
            )

    async def end(self, interaction: Interaction) -> None:
        """The agent hung up: release the customer's leg if the dialer placed one."""
        channel = interaction.attributes.get("callback_channel")
        hang_up = getattr(self.dialer, "hang_up", None)
        if channel and hang_up is not None:
            try:
                await hang_up(str(channel))
            except Exception:
                log.warning("callback leg hang-up failed", channel=channel, exc_info=True)
