"""Originate with a known outcome: answered, busy, no_answer or failed.

Every Originate we send is async and carries ``ChannelId`` (the new channel's uniqueid), so
its ``OriginateResponse`` (and the channel's events) can be matched to the request. On a
failure Asterisk reports ``Uniqueid: <unknown>``; those are matched by the dial string.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Literal

from ccserver.ami import AmiConnection, AmiError, Event

Outcome = Literal["answered", "busy", "no_answer", "failed"]
# OriginateResponse "Reason" (AST_CONTROL_*): 4 answered, 5 busy, 3/1 no answer, else failed.
_REASONS: dict[str, Outcome] = {"4": "answered", "5": "busy", "3": "no_answer", "1": "no_answer"}


@dataclass(frozen=True, slots=True)
class DialResult:
    """What happened to an Originate: ``result`` and, when answered, the new channel."""

    result: Outcome
    channel: str | None = None
    uniqueid: str | None = None


@dataclass(slots=True)
class _Pending:
    dial: str
    future: asyncio.Future[DialResult]


class Originator:
    def __init__(self, conn: AmiConnection) -> None:
        self._conn = conn
        self._pending: dict[str, _Pending] = {}  # our ChannelId -> waiter

    @staticmethod
    def new_channel_id() -> str:
        return f"ccs-{secrets.token_hex(8)}"

    async def originate(
        self,
        channel: str,
        fields: dict[str, str],
        *,
        timeout: float,  # noqa: ASYNC109 - how long the far end may ring
        channel_id: str | None = None,
    ) -> DialResult:
        """Dial ``channel`` (``timeout`` s to answer) with the application/context ``fields``;
        returns once the far end answered or failed."""
        channel_id = channel_id or self.new_channel_id()
        future: asyncio.Future[DialResult] = asyncio.get_running_loop().create_future()
        self._pending[channel_id] = _Pending(channel, future)
        request = {
            "Channel": channel,
            **fields,
            "Timeout": str(max(1, int(timeout * 1000))),
            "Async": "true",
            "ChannelId": channel_id,
        }
        try:
            await self._conn.send_action("Originate", request)
            async with asyncio.timeout(timeout + 30.0):
                return await future
        except (AmiError, TimeoutError):
            return DialResult("failed")
        finally:
            self._pending.pop(channel_id, None)

    def on_response(self, event: Event) -> None:
        """``OriginateResponse``: complete the matching waiter."""
        uid = event.get("Uniqueid") or ""
        pending = self._pending.get(uid)
        if pending is None:
            dial = event.get("Channel") or ""
            pending = next(
                (p for p in self._pending.values() if p.dial == dial and not p.future.done()),
                None,
            )
        if pending is None or pending.future.done():
            return
        if (event.get("Response") or "").lower() == "success":
            outcome: Outcome = "answered"
        else:
            outcome = _REASONS.get(event.get("Reason") or "", "failed")
            outcome = "failed" if outcome == "answered" else outcome
        name = event.get("Channel") if outcome == "answered" else None
        pending.future.set_result(DialResult(outcome, name, uid if name else None))

    def fail_all(self) -> None:
        """The link dropped: responses in flight are lost; waiters see ``failed``."""
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_result(DialResult("failed"))
