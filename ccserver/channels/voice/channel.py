"""``VoiceChannel``: Asterisk calls as interactions - the voice ``ChannelAdapter``.

Inbound calls arrive as ``AsyncAGIStart`` (context ``from-customer``); :mod:`.inbound` runs
the IVR and the queue over AsyncAGI. When routing offers the call, the agent's endpoint is
Originated with ``Application=Bridge, Data=<caller channel>``: the answer is the accept
(``cc.agent_answered``); no answer needs nothing from us (routing's offer timer requeues and
``revoke_offer`` hangs up a still-ringing leg). Call control lives in :mod:`.control`.

A caller who hangs up anywhere closes the interaction (``cc.customer_left``). After an AMI
reconnect the calls are reconciled with ``CoreShowChannels``: a vanished channel is closed,
never left active. Outbound: :meth:`VoiceChannel.dial_out`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.ami import AmiConnection, AmiError, Event, EventList, decode_agi_env
from ccserver.channels.voice import callback_request, control
from ccserver.channels.voice.agi_client import AgiClient
from ccserver.channels.voice.calls import Call, Phase
from ccserver.channels.voice.errors import CallGone, VoiceOff
from ccserver.channels.voice.inbound import _ivr_fields, e164, hold_loop, run_inbound
from ccserver.channels.voice.lookups import CrmLookups
from ccserver.channels.voice.originate import DialResult, Originator
from ccserver.domain import Interaction, InteractionState
from ccserver.errors import CcserverError
from ccserver.logs import get_logger
from ccserver.runtime.contact_center import ContactCenter
from ivr.registry import FlowRegistry

log = get_logger(__name__)
INBOUND_CONTEXTS = frozenset({"from-customer"})
CONTROL_CONTEXT = "ccserver-agi"  # where a channel comes back under our control
HOLD_CONTEXT = "ccserver-hold"


# (scores {"csat": 5, "nps": 9}, links {"contact_id", "agent_id", "queue", "customer_id"})
SurveySink = Callable[[dict[str, Any], dict[str, Any]], Awaitable[None]]


class VoiceChannel:
    def __init__(
        self,
        cc: ContactCenter,
        conn: AmiConnection | None,
        lookups: CrmLookups,
        flows: FlowRegistry,
        *,
        region: str = "US",
        flow_name: str = "main",
        callback_offer_after_s: float = 300.0,
        outbound_context: str = "outbound",
        sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.cc = cc
        self.conn = conn
        self.lookups = lookups
        self.flows = flows
        self.region = region
        self.flow_name = flow_name
        self.callback_offer_after_s = callback_offer_after_s
        self.outbound_context = outbound_context
        self.sessions = sessions
        self.simulator: Any = None  # the built-in AsteriskSimulator when mode = "simulator"
        self.calls: dict[str, Call] = {}  # customer channel name -> call
        self.by_interaction: dict[str, Call] = {}
        self.legs: dict[str, str] = {}  # ChannelId of a leg we originated -> channel name
        self.leg_owner: dict[str, Call] = {}  # answered agent leg channel -> customer call
        # channel -> run once at its Hangup, before the usual handling (a consult's legs)
        self.hangup_hooks: dict[str, Callable[[], None]] = {}
        self.reconciled = 0  # calls closed because their channel vanished during an outage
        self.resyncs = 0  # completed reconciliations after a reconnect
        self.resynced_at = 0.0  # monotonic time the last one finished
        self.fallback_queue = "general"  # where a caller whose IVR was cut by an outage goes
        # Enqueue written work now or when its queue opens (the text channels' ParkedWork):
        # a voicemail left at night becomes a callback task for the morning.
        self.park_until_open: Callable[[str, str], Awaitable[bool]] | None = None
        # Stores post-call survey scores (wired by setup to the CRM's survey service).
        self.on_survey: SurveySink | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        if conn is not None:
            self.agi = AgiClient(conn)
            self.originator = Originator(conn)
            conn.add_event_handler(self._on_event)
            conn.on_reconnect = self.resync

    # --- life cycle ---------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.conn is not None

    @property
    def port(self) -> int | None:
        """The AMI port of the built-in simulator (useful with ``simulator_port = 0``)."""
        return int(self.simulator.port) if self.simulator is not None else None

    async def start(self) -> None:
        if self.conn is not None:
            await self.conn.connect()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.conn is not None:
            await self.conn.close()
        if self.simulator is not None:
            await self.simulator.stop()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("voice task failed", task=task.get_name(), exc_info=task.exception())

    def queue_open(self, queue: str, now: float) -> bool:
        return self.cc.queue_open(queue, now)

    # --- AMI events ---------------------------------------------------------------------------
    def _on_event(self, ev: Event) -> None:
        name = ev.name
        if name == "AsyncAGIExec":
            self.agi.on_exec(ev)
        elif name == "AsyncAGIStart":
            self._on_agi_start(ev)
        elif name == "AsyncAGIEnd":
            channel = ev.get("Channel") or ""
            self.agi.channel_gone(channel)
            call = self.calls.get(channel)
            if call is not None:
                call.in_agi = False
        elif name == "Hangup":
            self._on_hangup(ev)
        elif name == "OriginateResponse":
            self.originator.on_response(ev)
        elif name in ("BridgeEnter", "BridgeLeave"):
            call = self.calls.get(ev.get("Channel") or "")
            if call is not None:
                (call.bridged.set if name == "BridgeEnter" else call.bridged.clear)()
        elif name == "Newchannel":
            uid = ev.get("Uniqueid") or ""
            if uid.startswith("ccs-"):
                self.legs[uid] = ev.get("Channel") or ""

    def _on_agi_start(self, ev: Event) -> None:
        channel = ev.get("Channel") or ""
        call = self.calls.get(channel)
        if call is not None:  # back from hold / a transfer: waiting in a queue again
            call.in_agi = True
            if call.phase == Phase.SURVEY:
                from ccserver.channels.voice.survey import run_survey

                self.spawn(run_survey(self, call), f"voice-survey-{channel}")
                return
            if call.phase == Phase.QUEUED:
                self.spawn(self._resume_queue(call), f"voice-requeue-{channel}")
            return
        env = decode_agi_env(ev.get("Env") or "")
        if env.get("agi_context", ev.get("Context")) not in INBOUND_CONTEXTS:
            return  # e.g. an answered dial_out call: its owner drives it
        raw = env.get("agi_callerid") or ev.get("CallerIDNum") or ""
        call = Call(channel, ev.get("Uniqueid") or "", e164(raw, self.region) if raw else "")
        self.calls[channel] = call
        self.spawn(run_inbound(self, call), f"voice-in-{channel}")

    def _on_hangup(self, ev: Event) -> None:
        channel = ev.get("Channel") or ""
        self.agi.channel_gone(channel)
        self.legs.pop(ev.get("Uniqueid") or "", None)
        hook = self.hangup_hooks.pop(channel, None)
        if hook is not None:
            hook()
        call = self.calls.pop(channel, None)
        if call is not None:
            call.gone.set()
            self.spawn(self.caller_gone(call), f"voice-gone-{channel}")
            return
        owner = self.leg_owner.pop(channel, None)
        if owner is not None and owner.agent_leg == channel:
            owner.agent_leg = None
            if owner.phase == Phase.HELD:  # the agent hung up while the customer was held
                self.spawn(self.safe_hangup(owner.channel), f"voice-held-{channel}")

    async def _resume_queue(self, call: Call) -> None:
        with contextlib.suppress(CallGone):
            await self.agi.run(call.channel, "EXEC StartMusicOnHold default")
            await hold_loop(self, call)

    async def caller_gone(self, call: Call) -> None:
        """The customer's channel is gone: stop ringing agents, close the interaction."""
        prior, call.phase = call.phase, Phase.ENDED
        for leg_id in list(call.ringing.values()):
            await self.safe_hangup(self.legs.get(leg_id))
        call.ringing.clear()
        if prior == Phase.HELD and call.agent_leg:
            await self.safe_hangup(call.agent_leg)
        iid = call.interaction_id
        if iid is None:
            return  # run_inbound sees call.gone once the interaction exists
        self.by_interaction.pop(iid, None)
        i = self.cc.interactions.get(iid)
        if i is None or call.closed:
            return
        driver = call.attributes.get("driver")
        if driver is not None and not driver.session.finished:
            driver.hangup(self.cc.clock())
            i.attributes.update(_ivr_fields(driver.session))
        await self.cc.customer_left(iid)

    async def bridge_settled(self, call: Call, wait_s: float = 2.0) -> None:
        """Until the customer is in the bridge with the agent's phone. The phone's answer
        (OriginateResponse) comes just before its Bridge() application joins the customer:
        a Redirect sent in between (hold or consult at once after answering) would be undone
        by that join, the customer pulled out of the music. Bounded: a bridge that never
        shows up does not block the agent's action."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await call.bridged.wait()

    async def resync(self, conn: AmiConnection) -> None:
        """After a reconnect: calls whose channel vanished while we were blind are closed."""
        self.originator.fail_all()
        listing = await conn.send_action("CoreShowChannels", timeout=10.0)
        self.agi.link_lost()  # surviving callers' IVR / queue loops pick up again (inbound)
        events = listing.events if isinstance(listing, EventList) else []
        alive = {ev.get("Channel") for ev in events}
        # Hang-ups missed while blind, for the channels someone waits on (a consult's
        # target, agent or caller leg): as if the Hangup event had come, first.
        for channel in [c for c in self.hangup_hooks if c not in alive]:
            self.hangup_hooks.pop(channel)()
        for channel, call in list(self.calls.items()):
            if channel in alive:
                continue
            self.calls.pop(channel, None)
            call.gone.set()
            self.agi.channel_gone(channel)
            self.reconciled += 1
            await self.caller_gone(call)
        for leg, call in list(self.leg_owner.items()):
            if leg not in alive:
                self.leg_owner.pop(leg, None)
                call.agent_leg = None if call.agent_leg == leg else call.agent_leg
        self.resyncs += 1
        self.resynced_at = time.monotonic()

    # --- AMI helpers --------------------------------------------------------------------------
    def _require(self) -> AmiConnection:
        if self.conn is None:
            raise VoiceOff("voice is off (asterisk.mode = 'off')")
        return self.conn

    async def action(self, name: str, fields: dict[str, str]) -> None:
        try:
            await self._require().send_action(name, fields)
        except AmiError as exc:
            raise CallGone(f"{name} failed: {exc}", details={"action": name}) from None

    async def safe_hangup(self, channel: str | None) -> None:
        if channel and self.conn is not None:
            with contextlib.suppress(AmiError):
                await self.conn.send_action("Hangup", {"Channel": channel, "Cause": "16"})

    async def redirect(self, channel: str, context: str, **extra: str) -> None:
        await self.action(
            "Redirect", {"Channel": channel, "Context": context, "Exten": "s", "Priority": "1",
                         **extra},
        )  # fmt: skip

    # --- ChannelAdapter -----------------------------------------------------------------------
    async def offer(
        self, interaction: Interaction, agent_id: str, endpoint: str | None, expires_at: float
    ) -> None:
        call = self.by_interaction.get(interaction.id)
        if call is None or endpoint is None or self.conn is None or call.gone.is_set():
            return
        leg_id = self.originator.new_channel_id()
        call.ringing[agent_id] = leg_id
        # Stop ringing a little before routing's offer timer, so the phone is quiet when the
        # offer is withdrawn (a leg answering at that very moment is the rare race left).
        timeout = max(1.0, 0.9 * (expires_at - self.cc.clock()))
        self.spawn(
            self._ring(call, interaction.id, agent_id, endpoint, leg_id, timeout),
            f"voice-ring-{agent_id}",
        )

    async def _ring(
        self,
        call: Call,
        iid: str,
        agent_id: str,
        endpoint: str,
        leg_id: str,
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        caller = call.caller_id or "unknown"
        result = await self.originator.originate(
            endpoint,
            {"Application": "Bridge", "Data": call.channel, "CallerID": f'"{caller}" <{caller}>'},
            timeout=timeout,
            channel_id=leg_id,
        )
        if call.ringing.get(agent_id) == leg_id:
            del call.ringing[agent_id]
        if result.result != "answered" or result.channel is None:
            return  # busy / no answer: routing's offer timer puts the call back at the head
        offer = self.cc.offers.get(iid)
        if (
            call.gone.is_set()
            or call.interaction_id != iid
            or offer is None
            or offer[0] != agent_id
        ):
            # Answered after the offer was withdrawn: the customer goes back to the queue.
            await self._pull_back(call, result.channel)
            return
        call.agent_leg, call.agent_id, call.phase = result.channel, agent_id, Phase.CONNECTED
        self.leg_owner[result.channel] = call
        with contextlib.suppress(CcserverError):  # the offer ran out meanwhile: see below
            await self.cc.agent_answered(iid)
        i = self.cc.interactions.get(iid)
        if i is None or i.state != InteractionState.CONNECTED or i.agent_id != agent_id:
            # Routing withdrew the offer while the phone was answering: the customer, already
            # bridged, goes back to the queue (never dropped) and this leg ends.
            self.leg_owner.pop(result.channel, None)
            call.agent_leg = call.agent_id = None
            if not call.gone.is_set() and i is not None:
                call.phase = Phase.QUEUED
            await self._pull_back(call, result.channel)

    async def _pull_back(self, call: Call, leg: str | None) -> None:
        if not call.gone.is_set():
            with contextlib.suppress(CallGone):
                await self.redirect(call.channel, CONTROL_CONTEXT)
        await self.safe_hangup(leg)

    async def revoke_offer(self, interaction: Interaction, agent_id: str) -> None:
        call = self.by_interaction.get(interaction.id)
        if call is None:
            return
        leg_id = call.ringing.pop(agent_id, None)
        if leg_id is None:
            return
        # The leg may have answered and bridged the customer a moment ago (its events not
        # read yet): hanging it up would take the customer along. So the customer is taken
        # back under our control first (harmless if still in AsyncAGI: music restarts), then
        # the leg ends.
        self.spawn(self._pull_back(call, self.legs.get(leg_id)), f"voice-revoke-{agent_id}")

    async def connect(self, interaction: Interaction, agent_id: str) -> None:
        """Console accept: SIP phones answer themselves (the Originate); nothing to join."""

    async def announce(self, interaction: Interaction, position: int, ewt_s: float) -> None:
        call = self.by_interaction.get(interaction.id)
        if call is not None and call.phase == Phase.QUEUED:
            call.pending_announcements.put_nowait((position, ewt_s))

    async def control(
        self, interaction: Interaction, action: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        call = self.by_interaction.get(interaction.id)
        if call is None or call.gone.is_set():
            raise CallGone("the call is no longer up", details={"interaction_id": interaction.id})
        return await control.apply(self, call, interaction, action, params)

    async def end(self, interaction: Interaction) -> None:
        call = self.by_interaction.get(interaction.id)
        if call is not None and not call.attributes.get("detached"):
            await self.safe_hangup(call.channel)

    # --- used by inbound / control ------------------------------------------------------------
    async def request_callback(self, call: Call, queue: str, number: str) -> None:
        """The caller asked to be called back (see :mod:`.callback_request`)."""
        await callback_request.request_callback(self, call, queue, number)

    async def transfer_caller_to_number(self, call: Call, number: str) -> DialResult:
        """Blind transfer of the customer to an outside number (caller on music meanwhile)."""
        if call.agent_leg is not None or call.in_agi:
            await self.redirect(call.channel, HOLD_CONTEXT)
        return await self.bridge_new_leg(call, f"Local/{number}@{self.outbound_context}")

    async def bridge_new_leg(self, call: Call, dial: str) -> DialResult:
        caller = call.caller_id or "unknown"
        return await self.originator.originate(
            dial,
            {"Application": "Bridge", "Data": call.channel, "CallerID": f'"{caller}" <{caller}>'},
            timeout=60.0,
        )

    # --- outbound -----------------------------------------------------------------------------
    async def dial_out(
        self,
        number: str,
        caller_id: str | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109 - ring time
    ) -> DialResult:
        """Call ``number`` (through ``Local/<number>@outbound``) for a callback or a follow-up.

        Returns ``DialResult(result, channel, uniqueid)`` with ``result`` one of
        ``answered`` / ``busy`` / ``no_answer`` / ``failed``. An answered call waits in the
        ``ccserver-agi`` context (AsyncAGI) on ``channel``: bridge an agent to it with
        :meth:`bridge_agent`, or end it with :meth:`hangup`. Raises :class:`VoiceOff` when
        voice is off."""
        self._require()
        digits = "".join(ch for ch in number if ch.isdigit() or ch == "+")
        fields = {"Context": CONTROL_CONTEXT, "Exten": "s", "Priority": "1"}
        if caller_id:
            fields["CallerID"] = caller_id
        return await self.originator.originate(
            f"Local/{digits}@{self.outbound_context}", fields, timeout=timeout
        )

    async def bridge_agent(
        self,
        channel: str,
        endpoint: str,
        timeout: float = 30.0,  # noqa: ASYNC109 - ring time
    ) -> DialResult:
        """Ring ``endpoint`` and bridge it with ``channel`` (e.g. an answered dial_out)."""
        self._require()
        return await self.originator.originate(
            endpoint, {"Application": "Bridge", "Data": channel}, timeout=timeout
        )

    async def hangup(self, channel: str) -> None:
        await self.safe_hangup(channel)
