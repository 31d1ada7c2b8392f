"""Web chat as routed interactions: pre-chat form -> text IVR (buttons) -> queue with
position and wait -> agent -> survey. What the contact center asks of a chat (offer,
connect, transfer, end) is ``adapter.ChatChannelAdapter``; options are ``options.py``.

Customer frames (widget -> server) and server frames are documented in ``ws.py``. Agent
side: customer lines go to the agent's console on bus topic ``agent.<id>`` as
``chat_message``; every line also goes to ``interaction.<id>`` so a supervisor can watch;
a whisper reaches the agent (and watchers), never the customer. Lines are written to the
``messages`` table through the outbox as they happen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from ccserver.channels.chat import endings
from ccserver.channels.chat.endings import MAX_TEXT
from ccserver.channels.chat.ivr_driver import ChatIvrDriver, ChatTurn
from ccserver.channels.chat.options import ChatOptions
from ccserver.channels.chat.session import ChatSession, TokenBucket, close_sockets
from ccserver.channels.forms.crm_glue import CaseNumbers, MessageWriter, find_or_create_customer
from ccserver.crm.customers import CustomerService
from ccserver.domain import Channel, Interaction, InteractionState
from ccserver.errors import Conflict, NotFound, RateLimited, ValidationFailed
from ccserver.logs import get_logger
from ccserver.runtime.contact_center import ContactCenter
from ccserver.web.hub import agent_topic
from ivr import actions as a
from ivr.session import IvrSession

log = get_logger(__name__)

Lookup = Callable[[str, str], Awaitable[dict[str, Any] | None]]
# (phone, name, customer_id, contact id of the chat) -> case number of the callback
CallbackHook = Callable[[str, str, str | None, str], Awaitable[str]]
# (name, email, phone, text, customer_id) -> case number of the message
MessageHook = Callable[[str, str | None, str | None, str, str | None], Awaitable[str]]


def interaction_topic(interaction_id: str) -> str:
    return f"interaction.{interaction_id}"


class ChatService:
    def __init__(
        self,
        cc: ContactCenter,
        customers: CustomerService,
        writer: MessageWriter,
        cases: CaseNumbers,
        flows: Any,  # ivr.registry.FlowRegistry (or None: straight to the default queue)
        *,
        options: ChatOptions | None = None,
        lookup: Lookup | None = None,
        on_callback: CallbackHook | None = None,
        on_message: MessageHook | None = None,
        survey_writer: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        send_transcript: Callable[[ChatSession, str], Awaitable[None]] | None = None,
    ) -> None:
        self.cc = cc
        self.customers = customers
        self.writer = writer
        self.cases = cases
        self.flows = flows
        self.options = options or ChatOptions()
        self.lookup = lookup
        self.on_callback = on_callback
        self.on_message = on_message
        self.survey_writer = survey_writer
        self.send_transcript = send_transcript
        self.sessions: dict[str, ChatSession] = {}
        self._ticker: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        self._ticker = asyncio.create_task(self._tick_loop(), name="chat-ticker")

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for s in list(self.sessions.values()):
            await close_sockets(s.sockets)

    def get(self, chat_id: str) -> ChatSession:
        s = self.sessions.get(chat_id)
        if s is None:
            raise NotFound("no such chat")
        return s

    # --- customer ------------------------------------------------------------------------
    async def start_chat(self, form: dict[str, Any]) -> ChatSession:
        """A validated pre-chat form (see ws.PreChat) -> a chat in the IVR (or queued)."""
        if len(self.sessions) >= self.options.max_sessions:
            raise RateLimited("too many chats open; please try again later")
        now = self.cc.clock()
        customer_id = await find_or_create_customer(
            self.customers, name=form["name"], email=form.get("email"), phone=form.get("phone")
        )
        number = self.cases.allocate()
        i = await self.cc.new_interaction(
            Channel.CHAT,
            customer_id=customer_id,
            attributes={
                "from": form.get("email") or form.get("phone"),
                "customer_name": form["name"],
                "topic": form.get("topic"),
                "subject": form.get("topic"),
                "case_number": number,
                "caller_id": form.get("phone"),
            },
        )
        assert i.contact_id is not None
        s = ChatSession(
            i.id,
            number,
            i.contact_id,
            dict(form),
            customer_id,
            TokenBucket(self.options.rate_per_s, self.options.burst, now),
        )
        self.sessions[i.id] = s
        flow = self.flows.get(self.options.flow) if self.flows is not None else None
        if flow is None:
            await self._route(s, self.options.default_queue, 0, {})
            return s
        await self.cc.start_self_service(i.id)
        s.driver = ChatIvrDriver(
            IvrSession(
                flow,
                "chat",
                now,
                caller_id=form.get("phone"),
                variables={"topic": form.get("topic") or ""},
                queue_open=self._queue_open,
            )
        )
        s.pending = s.driver.start(now)
        return s

    async def begin(self, s: ChatSession) -> None:
        """Run the IVR's first turn once the widget is attached (so it sees the prompts)."""
        turn, s.pending = s.pending, None
        if turn is not None and s.driver is not None:
            async with s.lock:
                await self._play(s, turn)

    def _queue_open(self, queue: str, now: float) -> bool:
        return self.cc.queue_open(queue, now)

    async def customer_frame(self, s: ChatSession, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        data = frame.get("data") if isinstance(frame.get("data"), dict) else {}
        assert isinstance(data, dict)
        now = self.cc.clock()
        if kind == "typing":
            if s.agent_id:
                await self.to_agent(s, "chat_typing", {"interaction_id": s.id, "from": "customer"})
            return
        if kind == "read":
            seq = data.get("seq")
            if s.agent_id and isinstance(seq, int):
                await self.to_agent(s, "chat_read", {"interaction_id": s.id, "seq": seq})
            return
        limited = ("message", "choice", "leave_message", "callback", "transcript")
        if kind in limited and not s.bucket.take(now):
            await s.emit(
                "notice", {"code": "slow_down", "text": "Please slow down."}, numbered=False
            )
            return
        async with s.lock:
            if kind == "message":
                await self._customer_text(s, data, now)
            elif kind == "choice" and s.driver is not None and s.state == "ivr":
                value = data.get("value")
                if isinstance(value, str):
                    shown = s.buttons.get(value, value[:32])  # the label the customer clicked
                    await s.emit("msg", s.add_line("customer", shown, now, choice=value[:32]))
                    await self._play(s, s.driver.on_message({"value": value}, now))
            elif kind == "leave":
                await self._customer_leaves(s, now)
            elif kind == "leave_message":
                await endings.leave_message(self, s, data)
            elif kind == "callback":
                await endings.callback(self, s, data)
            elif kind == "survey":
                await endings.survey(self, s, data)
            elif kind == "transcript":
                await endings.transcript(self, s)
            else:
                await s.emit("error", {"code": "unknown_frame"}, numbered=False)

    async def _customer_text(self, s: ChatSession, data: dict[str, Any], now: float) -> None:
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            return
        if len(text) > MAX_TEXT:
            await s.emit("error", {"code": "too_long", "max": MAX_TEXT}, numbered=False)
            return
        line = s.add_line("customer", text, now)
        s.last_customer_seq = await s.emit("msg", {**line, "interaction_id": s.id})
        await self.writer.write(s.contact_id, "inbound", text, sender="customer")
        if s.state == "ivr" and s.driver is not None:
            await self._play(s, s.driver.on_message({"text": text}, now))
        elif s.state == "connected" and s.agent_id:
            await self.to_agent(s, "chat_message", {"interaction_id": s.id, **line})
        await self.to_watchers(s, "chat_message", {"interaction_id": s.id, **line})

    async def share_line(
        self, s: ChatSession, line: dict[str, Any], *, to_agent: bool = True
    ) -> None:
        """A line to the agent (once connected; not their own) and to whoever watches the
        chat; before an agent joins it reaches them in ``chat_history``."""
        payload = {"interaction_id": s.id, **line}
        if to_agent and s.state == "connected" and s.agent_id:
            await self.to_agent(s, "chat_message", payload)
        await self.to_watchers(s, "chat_message", payload)

    async def _customer_leaves(self, s: ChatSession, now: float) -> None:
        was_connected = s.state == "connected"
        if s.driver is not None and not s.driver.finished:
            s.driver.leave(now)
        await self.cc.customer_left(s.id)
        if was_connected and s.agent_id:
            await self.to_agent(s, "chat_ended", {"interaction_id": s.id, "by": "customer"})
        await self.finish(s, ask_survey=was_connected)

    async def finish(self, s: ChatSession, *, ask_survey: bool) -> None:
        s.state = "ended"
        if ask_survey and not s.survey_open:
            s.survey_open = True
            await s.emit(
                "survey",
                {
                    "questions": [
                        {"id": "csat", "text": "How satisfied are you?", "min": 1, "max": 5},
                        {"id": "nps", "text": "How likely are you to recommend us?",
                         "min": 0, "max": 10},
                    ]
                },
            )  # fmt: skip
        else:
            await s.emit("ended", {"case_number": s.case_number})

    # --- IVR -----------------------------------------------------------------------------
    async def _play(self, s: ChatSession, turn: ChatTurn) -> None:
        now = self.cc.clock()
        for m in turn.messages:
            if m.get("buttons"):
                s.buttons = {str(b["value"]): str(b["label"]) for b in m["buttons"]}
            await s.emit("msg", s.add_line("bot", str(m.get("text", "")), now, **_bot_extra(m)))
        for action in turn.actions:
            if s.state != "ivr" or s.driver is None:
                return
            if isinstance(action, a.Lookup):
                data = await self.lookup(action.kind, action.key) if self.lookup else None
                await self._play(s, s.driver.lookup_result(data, now))
            elif isinstance(action, a.SetAttribute):
                self.cc.get(s.id).attributes[action.name] = action.value
            elif isinstance(action, a.Route):
                self._ivr_fields(s)
                await self._route(s, action.queue, action.priority, dict(action.skills),
                                  dict(action.attributes))  # fmt: skip
            elif isinstance(action, a.OfferCallback | a.Voicemail | a.Transfer):
                self._ivr_fields(s)
                queue = getattr(action, "queue", self.options.default_queue)
                await self._route(s, queue, 0, {}, {}, no_agents=True)
            elif isinstance(action, a.Hangup):
                self._ivr_fields(s)
                await self.cc.resolved_in_self_service(s.id, "self_service")
                await self.finish(s, ask_survey=False)

    def _ivr_fields(self, s: ChatSession) -> None:
        if s.driver is not None:
            self.cc.get(s.id).attributes.update(s.driver.session.contact_fields())

    async def _route(
        self,
        s: ChatSession,
        queue: str,
        priority: int,
        skills: dict[str, int],
        attributes: dict[str, Any] | None = None,
        *,
        no_agents: bool = False,
    ) -> None:
        if queue not in self.cc.routing.config.queues:
            queue = self.options.default_queue
        i = self.cc.get(s.id)
        i.attributes.update(attributes or {})
        now = self.cc.clock()
        s.state, s.queue = "queued", queue
        try:
            stats = self.cc.routing.queue_stats(queue, now)
            i.attributes["ewt_at_arrival"] = stats.ewt_new_arrival
            staffed = stats.agents_staffed
        except Exception:
            staffed = 0
        await self.cc.enqueue(s.id, queue, priority=priority, skills=skills)
        if s.state != "queued":
            return  # offered and accepted at once, or ended by after-hours handling
        if no_agents or staffed == 0:
            await s.emit("no_agents", {"options": ["leave_message", "callback", "wait"]})
        if i.state == InteractionState.QUEUED:
            with contextlib.suppress(Exception):
                est = self.cc.routing.position_and_ewt(s.id, now)
                await self.announce(i, est.position, est.ewt or 0.0)

    async def announce(self, interaction: Interaction, position: int, ewt_s: float) -> None:
        """Position and wait estimate to a waiting customer (also the adapter's announce)."""
        s = self.sessions.get(interaction.id)
        if s is not None and s.state == "queued":
            await s.emit("queue", {"position": position, "ewt_s": round(ewt_s)}, numbered=False)

    # --- agent side ----------------------------------------------------------------------
    async def agent_says(
        self, interaction_id: str, user_id: str, text: str, *, display_name: str
    ) -> dict[str, Any]:
        s = self.get(interaction_id)
        if s.agent_id != user_id or s.state != "connected":
            raise Conflict("this chat is not connected to you")
        text = text.strip()
        if not text or len(text) > MAX_TEXT:
            raise ValidationFailed(f"a chat message has 1 to {MAX_TEXT} characters")
        now = self.cc.clock()
        async with s.lock:
            line = s.add_line("agent", text, now, name=display_name)
            seq = await s.emit("msg", line)
            if s.last_customer_seq:  # the agent answered: the customer's lines were read
                await s.emit("read", {"seq": s.last_customer_seq}, numbered=False)
        await self.writer.write(s.contact_id, "outbound", text, sender=user_id)
        await self.to_watchers(s, "chat_message", {"interaction_id": s.id, **line})
        return {"seq": seq, **line}

    async def agent_typing(self, interaction_id: str, user_id: str) -> None:
        s = self.get(interaction_id)
        if s.agent_id == user_id and s.state == "connected":
            await s.emit("typing", {"from": "agent"}, numbered=False)

    async def whisper(self, interaction_id: str, user_id: str, name: str, text: str) -> None:
        """A supervisor's note to the agent: never sent to the customer."""
        s = self.get(interaction_id)
        text = text.strip()
        if not text or len(text) > MAX_TEXT:
            raise ValidationFailed(f"a whisper has 1 to {MAX_TEXT} characters")
        if not s.agent_id:
            raise Conflict("no agent on this chat yet")
        now = self.cc.clock()
        line = s.add_line("supervisor", text, now, name=name, whisper=True)
        payload = {"interaction_id": s.id, **line}
        await self.to_agent(s, "chat_message", payload)
        await self.to_watchers(s, "chat_message", payload)
        await self.writer.write(s.contact_id, "internal", text, sender=user_id)

    async def to_agent(self, s: ChatSession, kind: str, data: dict[str, Any]) -> None:
        if s.agent_id:
            await self._publish(agent_topic(s.agent_id), kind, data)

    async def to_watchers(self, s: ChatSession, kind: str, data: dict[str, Any]) -> None:
        await self._publish(interaction_topic(s.id), kind, data)

    async def _publish(self, topic: str, kind: str, data: dict[str, Any]) -> None:
        try:
            await self.cc.bus.publish(topic, {"type": kind, "data": data})
        except Exception:
            log.warning("chat publish failed", topic=topic, exc_info=True)

    # --- timers --------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                await self.tick(self.cc.clock())
            except Exception:
                log.exception("chat tick failed")

    async def tick(self, now: float) -> None:
        for s in list(self.sessions.values()):
            if s.state == "ivr" and s.driver is not None:
                deadline = s.driver.session.deadline
                if deadline is not None and now >= deadline:
                    async with s.lock:
                        await self._play(s, s.driver.on_timeout(now))
            if s.alone_since is not None and now - s.alone_since >= self.options.abandon_after_s:
                if s.state != "ended":
                    async with s.lock:
                        await self._customer_leaves(s, now)
                self.sessions.pop(s.id, None)


def _bot_extra(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"buttons": m.get("buttons", [])}
    if "input" in m:
        out["input"] = m["input"]
    return out


def public_customer(s: ChatSession) -> dict[str, Any]:
    c = s.customer
    return {k: c.get(k) for k in ("name", "email", "phone", "topic")}
