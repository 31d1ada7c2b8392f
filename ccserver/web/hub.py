"""The WebSocket hub at ``/ws``: what agents' consoles and supervisors' wallboards listen to.

Frames are ``{"type", "seq", "data"}``. ``seq`` is the bus event id the frame came from, so a
console that reconnects sends ``{"type": "resume", "data": {"last_seq": ...}}`` (or opens
``/ws?since=...``) and gets what it missed from the bus's bounded history — from any node —
or, when that is gone, a fresh snapshot.

* Auth: the session cookie (browsers) or ``Authorization: Bearer`` (integrations). The role
  decides the topics: agents get ``agent.<id>``; supervisors and admins also get the coalesced
  wallboard and ``supervisor.alerts``.
* Fan-out: one bus subscription per topic per process, shared by every connection on it.
* Slow consumers: each connection has a bounded send queue; a console that falls that far
  behind is closed with 1013 (it reconnects and resumes) instead of growing memory.
  Wallboard updates are coalesced: at most ``wallboard_hz`` frames per second per screen,
  always the newest state, whatever the event rate.
* Hostile input: frames over ``max_frame_bytes`` are refused by aiohttp (close 1009),
  non-JSON / unknown types get an ``error`` frame and are counted; a flood past the rate
  limit closes the socket with 1008.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from ccserver.bus import BusMessage, EventBus, SubscriberLagged
from ccserver.errors import AuthError
from ccserver.logs import get_logger
from ccserver.web.auth import Principal, current
from ccserver.web.metrics import METRICS

log = get_logger(__name__)

WALLBOARD_TOPIC = "supervisor.wallboard"
ALERTS_TOPIC = "supervisor.alerts"


def agent_topic(user_id: str) -> str:
    return f"agent.{user_id}"


class HubBackend(Protocol):
    """Snapshots come from the runtime (the hub itself keeps no domain state)."""

    async def agent_snapshot(
        self, user_id: str, display_name: str | None = None
    ) -> dict[str, Any]: ...

    async def wallboard_snapshot(self) -> dict[str, Any]: ...


@dataclass
class HubLimits:
    send_queue: int = 256
    max_frame_bytes: int = 64 * 1024
    rate_per_s: float = 20.0
    burst: float = 40.0
    heartbeat_s: float = 20.0
    wallboard_hz: float = 2.0


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    principal: Principal
    topics: tuple[str, ...]
    queue: asyncio.Queue[str | None]
    tokens: float
    last_refill: float
    wallboard: bool
    wallboard_dirty: bool = False
    rejected: int = 0
    closing: bool = False  # a close is scheduled (slow consumer): count and schedule once
    closed: bool = False
    writer: asyncio.Task[None] | None = field(default=None, repr=False)


class Hub:
    def __init__(
        self, bus: EventBus | None, backend: HubBackend | None, limits: HubLimits | None = None
    ) -> None:
        # Attached when the bus and the contact center have started (see app.py).
        self._bus = bus
        self._backend = backend
        self.limits = limits or HubLimits()
        self._by_topic: dict[str, set[_Conn]] = {}
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._conns: set[_Conn] = set()
        self._wallboard: dict[str, Any] | None = None
        self._wallboard_seq: str | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._closers: set[asyncio.Task[None]] = set()  # slow-consumer closes in flight
        self.frames_sent = 0
        self.on_count: Callable[[str, int], None] = lambda role, delta: None
        self.on_reject: Callable[[str], None] = lambda reason: None

    @property
    def bus(self) -> EventBus:
        assert self._bus is not None, "hub used before the bus started"
        return self._bus

    @bus.setter
    def bus(self, value: EventBus) -> None:
        self._bus = value

    @property
    def backend(self) -> HubBackend:
        assert self._backend is not None, "hub used before the contact center started"
        return self._backend

    @backend.setter
    def backend(self, value: HubBackend) -> None:
        self._backend = value

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_wallboards(), name="hub-wallboard")
        # The wallboard state arrives on the bus (published by whichever node routes), so
        # every node's supervisors see the same floor.
        self._pumps[WALLBOARD_TOPIC] = asyncio.create_task(
            self._pump(WALLBOARD_TOPIC), name="hub-pump-wallboard"
        )

    async def close(self) -> None:
        tasks = [*self._pumps.values()]
        if self._flusher:
            tasks.append(self._flusher)
        for conn in list(self._conns):
            await self._shutdown(conn, WSCloseCode.GOING_AWAY, "server shutting down")
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._pumps.clear()

    @property
    def connections(self) -> int:
        return len(self._conns)

    def pending_frames(self) -> int:
        """Frames queued for sockets and not yet written (for benchmarks and metrics)."""
        return sum(c.queue.qsize() for c in self._conns)

    # --- the endpoint ---------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        principal = current(request)
        if principal is None:
            raise AuthError("log in before opening the WebSocket")
        # No permessage-deflate: a zlib stream per socket costs ~100 KiB of memory and CPU per
        # frame, while console frames are small JSON on a LAN; 10,000 consoles must fit.
        ws = web.WebSocketResponse(
            heartbeat=self.limits.heartbeat_s,
            max_msg_size=self.limits.max_frame_bytes,
            compress=False,
        )
        await ws.prepare(request)
        supervisor = principal.role in ("supervisor", "admin")
        topics = [agent_topic(principal.user_id)]
        if supervisor:
            topics.append(ALERTS_TOPIC)
        conn = _Conn(
            ws,
            principal,
            tuple(topics),
            asyncio.Queue(self.limits.send_queue),
            self.limits.burst,
            time.monotonic(),
            wallboard=supervisor,
        )
        conn.writer = asyncio.create_task(self._write(conn), name="hub-writer")
        self._conns.add(conn)
        self.on_count(principal.role, +1)
        try:
            await self._send_snapshot(conn, since=request.query.get("since"))
            for t in conn.topics:
                self._join(t, conn)
            await self._read(conn)
        finally:
            await self._shutdown(conn, WSCloseCode.OK, "bye")
            self.on_count(principal.role, -1)
        return ws

    async def _read(self, conn: _Conn) -> None:
        async for msg in conn.ws:
            if msg.type != WSMsgType.TEXT:
                self._reject(conn, "binary frame", "only JSON text frames are accepted")
            elif not self._take_token(conn):
                self.on_reject("flood")
                await self._shutdown(conn, WSCloseCode.POLICY_VIOLATION, "too many messages")
                return
            else:
                await self._dispatch(conn, msg.data)
            if conn.closed:
                return

    async def _dispatch(self, conn: _Conn, raw: str) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            self._reject(conn, "bad json", "frame is not valid JSON")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            self._reject(conn, "bad shape", 'a frame is an object with a string "type"')
            return
        kind = frame["type"]
        raw_data = frame.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        if kind == "ping":
            self._enqueue(conn, "pong", None, {"t": time.time()})
        elif kind == "resume":
            last = data.get("last_seq")
            await self._send_snapshot(conn, since=last if isinstance(last, str) else None)
        else:
            self._reject(conn, "unknown type", f"unknown frame type {kind[:40]!r}")

    def _reject(self, conn: _Conn, reason: str, message: str) -> None:
        conn.rejected += 1
        self.on_reject(reason)
        self._enqueue(conn, "error", None, {"code": reason.replace(" ", "_"), "message": message})

    def _take_token(self, conn: _Conn) -> bool:
        now = time.monotonic()
        conn.tokens = min(
            self.limits.burst, conn.tokens + (now - conn.last_refill) * self.limits.rate_per_s
        )
        conn.last_refill = now
        if conn.tokens < 1:
            return False
        conn.tokens -= 1
        return True

    # --- snapshots and resume -------------------------------------------------------------
    async def _send_snapshot(self, conn: _Conn, since: str | None) -> None:
        topic = agent_topic(conn.principal.user_id)
        if since:
            missed = await self._missed(topic, since)
            if missed is not None:
                self._enqueue(conn, "resumed", since, {"replayed": len(missed)})
                for m in missed:
                    self._enqueue(
                        conn, str(m.data.get("type", "event")), m.id, m.data.get("data", {})
                    )
                if conn.wallboard:
                    await self._send_wallboard(conn)
                return
        snap = await self.backend.agent_snapshot(
            conn.principal.user_id, conn.principal.display_name
        )
        history = await self.bus.read_since(topic, None, limit=1)
        seq = history[-1].id if history else None
        self._enqueue(conn, "snapshot", seq, snap)
        if conn.wallboard:
            await self._send_wallboard(conn)

    async def _missed(self, topic: str, since: str) -> list[BusMessage] | None:
        """Messages after ``since``, or None when the bounded history no longer reaches it."""
        try:
            oldest = await self.bus.read_since(topic, None, limit=1)
            if oldest and _id_key(oldest[0].id) > _id_key(since):
                return None  # history was trimmed past the client's position
            return await self.bus.read_since(topic, since, limit=1000)
        except Exception:
            return None

    async def _send_wallboard(self, conn: _Conn) -> None:
        if self._wallboard is None:
            self._wallboard = await self.backend.wallboard_snapshot()
        self._enqueue(conn, "wallboard", self._wallboard_seq, self._wallboard)

    # --- fan-out --------------------------------------------------------------------------
    def _join(self, topic: str, conn: _Conn) -> None:
        self._by_topic.setdefault(topic, set()).add(conn)
        if topic not in self._pumps:
            self._pumps[topic] = asyncio.create_task(self._pump(topic), name=f"hub-pump-{topic}")

    def _leave(self, conn: _Conn) -> None:
        for topic in conn.topics:
            members = self._by_topic.get(topic)
            if members is None:
                continue
            members.discard(conn)
            if not members:
                del self._by_topic[topic]
                pump = self._pumps.pop(topic, None)
                if pump is not None:
                    pump.cancel()

    async def _pump(self, topic: str) -> None:
        last: str | None = None
        while True:
            try:
                async with self.bus.subscribe([topic], from_id=last) as sub:
                    async for m in sub:
                        last = m.id
                        self._fan_out(topic, m)
            except SubscriberLagged:
                continue  # resume from `last` out of the bus history
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("hub subscription failed; retrying", topic=topic, exc_info=True)
                await asyncio.sleep(1.0)

    def _fan_out(self, topic: str, m: BusMessage) -> None:
        if topic == WALLBOARD_TOPIC:
            self.wallboard_changed(m.data.get("data", {}), m.id)
            return
        members = self._by_topic.get(topic)
        if not members:
            return
        # Encode once per message, not once per screen: fan-out cost is then one queue put
        # per connection.
        frame = self._encode(str(m.data.get("type", "event")), m.id, m.data.get("data", {}))
        for conn in list(members):
            self._put(conn, frame)

    def wallboard_changed(self, state: dict[str, Any], seq: str | None = None) -> None:
        """New wallboard state (called by the runtime or the wallboard topic pump); sent to
        every supervisor at the next coalescing tick, never more than wallboard_hz a second."""
        self._wallboard = state
        self._wallboard_seq = seq
        for conn in self._conns:
            if conn.wallboard:
                conn.wallboard_dirty = True

    async def _flush_wallboards(self) -> None:
        period = 1.0 / self.limits.wallboard_hz
        while True:
            await asyncio.sleep(period)
            if self._wallboard is None:
                continue
            frame = self._encode("wallboard", self._wallboard_seq, self._wallboard)
            for conn in list(self._conns):
                if conn.wallboard_dirty:
                    conn.wallboard_dirty = False
                    self._put(conn, frame)

    # --- sending --------------------------------------------------------------------------
    @staticmethod
    def _encode(kind: str, seq: str | None, data: Any) -> str:
        # orjson: the frame encode is the per-message cost of fan-out (several times faster
        # than json.dumps); anything it cannot encode natively is sent as its str().
        return orjson.dumps(
            {"type": kind, "seq": seq, "data": data},
            default=str,
            option=orjson.OPT_NON_STR_KEYS,
        ).decode()

    def _enqueue(self, conn: _Conn, kind: str, seq: str | None, data: Any) -> None:
        self._put(conn, self._encode(kind, seq, data))

    def _put(self, conn: _Conn, frame: str) -> None:
        if conn.closed:
            return
        try:
            conn.queue.put_nowait(frame)
        except asyncio.QueueFull:
            if conn.closing:
                return
            conn.closing = True
            self.on_reject("slow consumer")
            self._closers.add(
                asyncio.get_running_loop().create_task(
                    self._shutdown(
                        conn, WSCloseCode.TRY_AGAIN_LATER, "too slow; reconnect and resume"
                    )
                )
            )
            for task in [t for t in self._closers if t.done()]:
                self._closers.discard(task)

    async def _write(self, conn: _Conn) -> None:
        while True:
            frame = await conn.queue.get()
            if frame is None:
                return
            try:
                await conn.ws.send_str(frame)
                self.frames_sent += 1
            except Exception:  # the peer went away mid-send; the reader side cleans up
                return

    async def _shutdown(self, conn: _Conn, code: int, message: str) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._conns.discard(conn)
        self._leave(conn)
        if conn.writer is not None:
            conn.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await conn.writer
        if not conn.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.ws.close(code=code, message=message.encode())


def _id_key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return (0, 0)


HUB = web.AppKey("hub", Hub)


def setup_hub_metrics(app: web.Application, hub: Hub) -> None:
    metrics = app.get(METRICS)
    if metrics is not None:
        hub.on_count = lambda role, d: metrics.ws_connections.labels(role).inc(d)
        hub.on_reject = lambda reason: metrics.ws_rejected.labels(reason).inc()
