"""The independent ``asterisk-ami`` client (thread based) talks to the simulator: if it cannot,
the simulator is wrong, not our codec."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asterisk.ami import AMIClient, SimpleAction

from ccserver.simulator import AsteriskSimulator, Wait

# asterisk-ami 0.1.7 calls Condition.notifyAll() in its reader thread; with warnings as errors
# that DeprecationWarning would kill the thread. It is the library's, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:notifyAll:DeprecationWarning")


@pytest.fixture
async def sim() -> AsyncIterator[AsteriskSimulator]:
    simulator = AsteriskSimulator("127.0.0.1", 0, "ccserver", "s3cret", time_scale=0.01)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def run_client(
    port: int, secret: str, actions: list[SimpleAction]
) -> tuple[Any, list[Any], list[Any]]:
    client = AMIClient(address="127.0.0.1", port=port, timeout=3)
    events: list[Any] = []
    got_event = threading.Event()

    def on_event(event: Any, **_: Any) -> None:
        events.append(event)
        if event.name == "Newchannel":
            got_event.set()

    client.add_event_listener(on_event)
    client.connect()
    try:
        login = client.login(username="ccserver", secret=secret).response
        responses = [client.send_action(a).response for a in actions]
        if actions:
            got_event.wait(3)
        client.logoff()
    finally:
        client.disconnect()
    return login, responses, events


async def test_asterisk_ami_client_logs_in_sends_actions_and_gets_events(
    sim: AsteriskSimulator,
) -> None:
    loop = asyncio.get_running_loop()
    # A call placed while the thread client runs gives it a Newchannel event to receive.
    loop.call_later(0.3, lambda: sim.place_call("15551230000", [Wait(100)]))
    login, responses, events = await asyncio.to_thread(
        run_client,
        sim.port,
        "s3cret",
        [
            SimpleAction("Ping"),
            SimpleAction("Command", Command="core show version"),
            SimpleAction("NoSuchAction"),
        ],
    )
    assert login is not None and login.status == "Success"
    ping, command, unknown = responses
    assert ping.status == "Success" and ping.keys["Ping"] == "Pong"
    assert command.status == "Success"
    assert unknown.status == "Error" and "Invalid/unknown command" in unknown.keys["Message"]
    names = [e.name for e in events]
    assert "FullyBooted" in names and "Newchannel" in names


async def test_asterisk_ami_client_wrong_secret_is_refused(sim: AsteriskSimulator) -> None:
    sim.login_failure_delay = 0.0
    login, _, _ = await asyncio.to_thread(run_client, sim.port, "wrong", [])
    assert login is not None and login.status == "Error"
