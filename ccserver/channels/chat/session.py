"""One customer's chat: its numbered frames (for reconnection), its sockets and its limits.

Every frame the customer must not miss carries a per-chat ``seq``; the last frames are kept
so a widget that reconnects with ``last_seq`` gets exactly what it missed, in order.
Typing indicators are not numbered (stale ones are useless after a reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from ccserver.channels.chat.ivr_driver import ChatIvrDriver

MAX_KEPT_FRAMES = 500


class FrameSink(Protocol):
    async def send_json(self, data: Any) -> None: ...


class TokenBucket:
    """Flood control: ``burst`` messages at once, then ``rate`` per second."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class ChatSession:
    id: str  # the interaction id
    case_number: str
    contact_id: str
    customer: dict[str, Any]
    customer_id: str | None
    bucket: TokenBucket
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    state: str = "ivr"  # ivr | queued | connected | closed (after hours) | ended
    driver: ChatIvrDriver | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    queue: str | None = None
    seq: int = 0
    frames: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_KEPT_FRAMES))
    sockets: set[FrameSink] = field(default_factory=set)
    alone_since: float | None = None  # no socket attached since then
    survey_open: bool = False
    survey_done: bool = False
    transcript_sent: bool = False
    last_customer_seq: int = 0
    transcript: list[dict[str, Any]] = field(default_factory=list)  # for the agent's console
    buttons: dict[str, str] = field(default_factory=dict)  # last menu: value -> label
    pending: Any = None  # the IVR's first turn, played once the widget is attached
    # Attached files (chat/uploads.py): id -> the entry kept on the messages row; uploads
    # still streaming count towards the per-chat limit; their own flood control.
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploading: int = 0
    upload_bucket: TokenBucket | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The id the widget keeps for the whole conversation: the first leg's interaction id.
    # A transfer gives the chat a new ``id`` (a new leg) but the widget, which may be
    # offline at that moment, resumes and uploads with this one (see ``find_chat``).
    chat_id: str = ""

    def __post_init__(self) -> None:
        self.chat_id = self.chat_id or self.id

    async def emit(self, kind: str, data: dict[str, Any], *, numbered: bool = True) -> int:
        """Send a frame to every socket of this chat; numbered frames are kept for replay."""
        frame: dict[str, Any] = {"type": kind, "data": data}
        if numbered:
            self.seq += 1
            frame["seq"] = self.seq
            self.frames.append(frame)
        for ws in list(self.sockets):
            try:
                await ws.send_json(frame)
            except Exception:  # a dead socket is dropped; the customer can resume
                self.sockets.discard(ws)
        return self.seq

    def missed(self, last_seq: int) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["seq"] > last_seq]

    def attach(self, ws: FrameSink) -> None:
        self.sockets.add(ws)
        self.alone_since = None

    def detach(self, ws: FrameSink, now: float) -> None:
        self.sockets.discard(ws)
        if not self.sockets:
            self.alone_since = now

    def add_line(self, sender: str, text: str, at: float, **extra: Any) -> dict[str, Any]:
        line = {"from": sender, "text": text, "at": at, **extra}
        self.transcript.append(line)
        del self.transcript[:-MAX_KEPT_FRAMES]
        return line


def find_chat(
    sessions: dict[str, ChatSession], chat_id: object, token: object
) -> ChatSession | None:
    """The chat the widget names by ``chat_id`` (its first leg's id, or the current one) if
    ``token`` is its resume token; None for an unknown id and a wrong token alike."""
    if not isinstance(chat_id, str) or not isinstance(token, str):
        return None
    s = sessions.get(chat_id)
    if s is None:  # transferred: the widget still names the first leg
        s = next((x for x in sessions.values() if x.chat_id == chat_id), None)
    if s is None or not hmac.compare_digest(token.encode(), s.token.encode()):
        return None
    return s


def now_s() -> float:
    return time.time()


async def close_sockets(sockets: set[FrameSink]) -> None:
    for ws in list(sockets):
        close = getattr(ws, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
