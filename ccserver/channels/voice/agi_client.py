"""AsyncAGI over AMI: send ``Action: AGI`` and await the matching ``AsyncAGIExec``.

Asterisk answers the action at once ("Added AGI command to queue"); the command's result
comes later as an ``AsyncAGIExec`` event carrying our ``CommandID``. One waiter per command;
when the channel hangs up or leaves AsyncAGI every waiter on it fails with
:class:`CallGone`, so an IVR loop never waits for a result that cannot come.
"""

from __future__ import annotations

import asyncio
import secrets

from ccserver.ami import AmiActionFailed, AmiConnection, AmiConnectionError, AmiTimeout, Event
from ccserver.channels.voice.errors import AgiLinkLost, CallGone


class AgiClient:
    def __init__(self, conn: AmiConnection, *, command_timeout: float = 300.0) -> None:
        self._conn = conn
        self.command_timeout = command_timeout
        self._waiting: dict[str, tuple[str, asyncio.Future[str]]] = {}

    async def run(self, channel: str, command: str) -> str:
        """Run one AGI command on ``channel``; returns the (percent-encoded) Result."""
        command_id = secrets.token_hex(8)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = (channel, future)
        try:
            try:
                await self._conn.send_action(
                    "AGI", {"Channel": channel, "Command": command, "CommandID": command_id}
                )
            except AmiActionFailed as exc:  # no such channel / not in AsyncAGI any more
                raise CallGone(f"{channel}: {exc}") from None
            except (AmiConnectionError, AmiTimeout) as exc:
                raise AgiLinkLost(f"{channel}: AMI link lost ({exc})") from None
            async with asyncio.timeout(self.command_timeout):
                return await future
        except TimeoutError:
            raise CallGone(f"{channel}: no AGI result in {self.command_timeout}s") from None
        finally:
            self._waiting.pop(command_id, None)

    def on_exec(self, event: Event) -> None:
        """``AsyncAGIExec``: complete the waiter of its CommandId."""
        entry = self._waiting.get(event.get("CommandId") or "")
        if entry is not None and not entry[1].done():
            entry[1].set_result(event.get("Result") or "")

    def channel_gone(self, channel: str) -> None:
        """Hangup / AsyncAGIEnd of ``channel``: fail its waiters."""
        for name, future in list(self._waiting.values()):
            if name == channel and not future.done():
                future.set_exception(CallGone(f"{channel} left AsyncAGI"))
                future.exception()  # retrieved: the waiter may already be gone

    def link_lost(self) -> None:
        """After a reconnect: results of commands in flight while blind will never come."""
        for name, future in list(self._waiting.values()):
            if not future.done():
                future.set_exception(AgiLinkLost(f"{name}: AGI result lost with the AMI link"))
                future.exception()

    @property
    def in_flight(self) -> int:
        return len(self._waiting)
