"""``AsteriskSimulator``: a TCP server speaking real AMI plus a Python API to drive calls.

    sim = AsteriskSimulator("127.0.0.1", 0, "ccserver", "secret", time_scale=0.01)
    await sim.start()                      # sim.port is the bound port
    sim.set_endpoint("PJSIP/agent1", answer_after=2.0)
    call = sim.place_call("15551230000", [Press("1"), WaitForAgent(60), Talk(30), Hangup()])
    cause = await call.finished
    await sim.stop()

The dialplan it models is ``config/asterisk/extensions.conf``: inbound calls enter
``from-customer`` and wait in ``AGI(agi:async)`` until ccserver drives them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from ccserver.simulator.callers import CallHandle, Step, run_script
from ccserver.simulator.channel import Endpoint, SimChannel
from ccserver.simulator.pbx import Pbx
from ccserver.simulator.server import AmiSession

__all__ = ["AsteriskSimulator"]


class AsteriskSimulator:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "ccserver",
        secret: str = "ccsecret",
        *,
        time_scale: float = 1.0,
        login_failure_delay: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port
        self.users = {username: secret}
        self.pbx = Pbx(time_scale)
        self.login_failure_delay = login_failure_delay
        # True: sessions keep reading but answer nothing (a deadlocked Asterisk).
        self.frozen = False
        self._server: asyncio.Server | None = None
        self._sessions: set[AmiSession] = set()
        self._session_tasks: set[asyncio.Task[None]] = set()

    # -- life cycle ----------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_connections(graceful=True)
        await self.pbx.shutdown()
        for task in list(self._session_tasks):
            task.cancel()
        await asyncio.gather(*self._session_tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> AsteriskSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = AmiSession(
            self.pbx,
            reader,
            writer,
            self.users,
            self.login_failure_delay,
            frozen=lambda: self.frozen,
        )
        self._sessions.add(session)
        self.pbx.sinks.append(session.deliver)
        task = asyncio.current_task()
        if task is not None:
            self._session_tasks.add(task)
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
            self.pbx.sinks.remove(session.deliver)
            if task is not None:
                self._session_tasks.discard(task)
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    # -- test / demo API -----------------------------------------------------------------
    @property
    def time_scale(self) -> float:
        return self.pbx.time_scale

    @property
    def channels(self) -> dict[str, SimChannel]:
        return self.pbx.channels

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    def set_endpoint(
        self,
        endpoint: str,
        *,
        answer_after: float = 0.5,
        never_answer: bool = False,
        busy: bool = False,
        hangup_after: float | None = None,
    ) -> None:
        """Behaviour of a dialled phone, e.g. ``"PJSIP/agent1"`` or ``"PJSIP/15551230000"``."""
        self.pbx.endpoints[endpoint] = Endpoint(answer_after, never_answer, busy, hangup_after)

    def place_call(
        self,
        caller_id: str,
        script: Sequence[Step] = (),
        *,
        caller_name: str = "<unknown>",
        exten: str = "s",
        context: str = "from-customer",
        dnid: str | None = None,
    ) -> CallHandle:
        """A customer phone calls in over PJSIP and runs ``script``."""
        ch = self.pbx.new_channel(
            f"PJSIP/{caller_id}",
            context=context,
            exten=exten,
            state=4,
            cid=(caller_id, caller_name),
        )
        if dnid:
            ch.variables["DNID"] = dnid
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        handle = CallHandle(ch, future)
        self.pbx.spawn(self._call(handle, script, context, exten), f"call-{ch.name}")
        return handle

    async def _call(
        self, handle: CallHandle, script: Sequence[Step], context: str, exten: str
    ) -> None:
        ch = handle.channel
        try:
            if not self.pbx.enter_context(ch, context, exten):
                self.pbx.hangup(ch, 1)
            else:
                await run_script(self.pbx, handle, script)
                await ch.gone.wait()
        finally:
            if not handle.finished.done():
                if ch.gone.is_set():
                    handle.finished.set_result(ch.hangup_cause or 16)
                else:
                    handle.finished.cancel()

    def hangup(self, channel: str, cause: int = 16) -> None:
        ch = self.pbx.find_channel(channel)
        if ch is not None:
            self.pbx.hangup(ch, cause)

    def hold(self, channel: str) -> None:
        ch = self.pbx.find_channel(channel)
        if ch is not None:
            self.pbx.hold(ch, True)

    def unhold(self, channel: str) -> None:
        ch = self.pbx.find_channel(channel)
        if ch is not None:
            self.pbx.hold(ch, False)

    def press(self, channel: str, digits: str) -> None:
        """DTMF from the far end of ``channel`` right now (lost if nothing listens)."""
        ch = self.pbx.find_channel(channel)
        if ch is not None:
            for digit in digits:
                self.pbx.dtmf(ch, digit, 120, "Received")

    def drop_connections(self, *, graceful: bool = False) -> None:
        """Cut every AMI link (an Asterisk restart as the client sees it)."""
        for session in list(self._sessions):
            if graceful:
                session.close()
            else:
                session.abort()

    def send_raw(self, data: bytes) -> None:
        """Write raw bytes to every logged-in session (garbage-on-the-wire tests)."""
        for session in list(self._sessions):
            session.write(data)
