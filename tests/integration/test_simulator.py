"""Contact-center call flows against the simulator, through our AMI client over TCP."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from ccserver.ami.agi import AgiResult, parse_agi_result
from ccserver.ami.connection import AmiConnection
from ccserver.ami.errors import AmiActionFailed
from ccserver.ami.protocol import Event, EventList, Response, encode_action
from ccserver.simulator import (
    AsteriskSimulator,
    Hangup,
    Press,
    Talk,
    Wait,
    WaitForAgent,
    random_script,
)

SCALE = 0.01


class Harness:
    def __init__(self, sim: AsteriskSimulator, conn: AmiConnection) -> None:
        self.sim = sim
        self.conn = conn
        self.events: list[Event] = []
        self._arrived = asyncio.Event()
        self._cursor = 0
        conn.add_event_handler(self._on_event)
        self._ids = 0

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        self._arrived.set()

    async def expect(self, name: str, *, anywhere: bool = False, **match: str) -> Event:
        """The next event called ``name`` (with these header values) after the cursor, or
        anywhere in the session when order does not matter."""
        async with asyncio.timeout(3):
            while True:
                for i in range(0 if anywhere else self._cursor, len(self.events)):
                    event = self.events[i]
                    if event.name == name and all(event.get(k) == v for k, v in match.items()):
                        if not anywhere:
                            self._cursor = i + 1
                        return event
                self._arrived.clear()
                await self._arrived.wait()

    def names_for(self, channel: str) -> list[str]:
        return [e.name for e in self.events if e.get("Channel") == channel]

    async def agi(self, channel: str, command: str) -> AgiResult:
        self._ids += 1
        command_id = f"cmd-{self._ids}"
        await self.conn.send_action(
            "AGI", {"Channel": channel, "Command": command, "CommandID": command_id}
        )
        event = await self.expect("AsyncAGIExec", Channel=channel, CommandId=command_id)
        return parse_agi_result(event["Result"])


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    sim = AsteriskSimulator("127.0.0.1", 0, "ccserver", "pw", time_scale=SCALE)
    await sim.start()
    conn = AmiConnection("127.0.0.1", sim.port, "ccserver", "pw", ping_interval=None)
    try:
        await conn.connect()
        yield Harness(sim, conn)
    finally:
        await conn.close()
        await sim.stop()


async def test_inbound_ivr_queue_agent_answer_and_caller_hangup(h: Harness) -> None:
    h.sim.set_endpoint("PJSIP/agent1", answer_after=2)
    call = h.sim.place_call(
        "15551230000", [Press("2"), WaitForAgent(100), Talk(5), Hangup()], caller_name="Ann"
    )
    start = await h.expect("AsyncAGIStart", Channel=call.name)
    assert start["CallerIDNum"] == "15551230000" and start["Context"] == "from-customer"
    assert (await h.agi(call.name, "ANSWER")).ok
    await h.expect("Newstate", anywhere=True, Channel=call.name, ChannelState="6")
    menu = await h.agi(call.name, "GET DATA ivr-menu 5000 1")
    assert menu.result == "2" and call.pressed == ["2"]
    assert (await h.agi(call.name, "EXEC StartMusicOnHold default")).result == "0"
    await h.expect("MusicOnHoldStart", anywhere=True, Channel=call.name)
    assert (await h.agi(call.name, 'SAY NUMBER 3 ""')).result == "0"
    await h.conn.send_action(
        "Originate",
        {
            "Channel": "PJSIP/agent1",
            "Application": "Bridge",
            "Data": call.name,
            "Timeout": 15000,
            "CallerID": '"Ann" <15551230000>',
            "Async": "true",
        },
    )
    answered = await h.expect("OriginateResponse")
    assert answered["Response"] == "Success" and answered["Reason"] == "4"
    agent_channel = answered["Channel"]
    assert agent_channel.startswith("PJSIP/agent1-")
    await h.expect("AsyncAGIEnd", Channel=call.name)
    await h.expect("BridgeCreate")
    enter1 = await h.expect("BridgeEnter")
    enter2 = await h.expect("BridgeEnter")
    assert {enter1["Channel"], enter2["Channel"]} == {agent_channel, call.name}
    assert await asyncio.wait_for(call.finished, 3) == 16
    assert not call.abandoned and call.connected_to == agent_channel
    await h.expect("Hangup", Channel=agent_channel)
    assert "BridgeLeave" in h.names_for(call.name)
    assert not h.sim.channels


async def test_agent_never_answers_caller_stays_and_next_agent_gets_it(h: Harness) -> None:
    h.sim.set_endpoint("PJSIP/lazy", never_answer=True)
    h.sim.set_endpoint("PJSIP/busy", busy=True)
    h.sim.set_endpoint("PJSIP/good", answer_after=1)
    call = h.sim.place_call("15551230001", [WaitForAgent(1000)])
    await h.expect("AsyncAGIStart", Channel=call.name)
    for endpoint, reason in (("lazy", "3"), ("busy", "5")):
        await h.conn.send_action(
            "Originate",
            {
                "Channel": f"PJSIP/{endpoint}",
                "Application": "Bridge",
                "Data": call.name,
                "Timeout": 3000,
                "Async": "true",
            },
        )
        failed = await h.expect("OriginateResponse")
        assert (failed["Response"], failed["Reason"], failed["Uniqueid"]) == (
            "Failure",
            reason,
            "<unknown>",
        )
    statuses = {e["DialStatus"] for e in h.events if e.name == "DialEnd"}
    assert statuses == {"NOANSWER", "BUSY"}
    # The customer is never dropped because an agent failed: still in AGI.
    assert call.name in h.sim.channels
    assert (await h.agi(call.name, "SAY DIGITS 1")).ok
    await h.conn.send_action(
        "Originate",
        {"Channel": "PJSIP/good", "Application": "Bridge", "Data": call.name, "Async": "true"},
    )
    assert (await h.expect("OriginateResponse"))["Response"] == "Success"
    await h.expect("BridgeEnter", Channel=call.name)
    h.sim.hangup(call.name, 16)
    assert await asyncio.wait_for(call.finished, 3) == 16


async def test_hold_redirect_recording_and_supervisor_spy(h: Harness) -> None:
    h.sim.set_endpoint("PJSIP/agent1", answer_after=0.5)
    h.sim.set_endpoint("PJSIP/super", answer_after=0.5)
    call = h.sim.place_call("15551230002", [WaitForAgent(1000), Talk(1000)])
    await h.expect("AsyncAGIStart", Channel=call.name)
    await h.conn.send_action(
        "Originate",
        {"Channel": "PJSIP/agent1", "Application": "Bridge", "Data": call.name, "Async": "1"},
    )
    agent = (await h.expect("OriginateResponse"))["Channel"]
    await h.expect("BridgeEnter", Channel=call.name)
    # Phone hold from the agent's handset.
    h.sim.hold(agent)
    assert (await h.expect("Hold", Channel=agent))["MusicClass"] == "default"
    h.sim.unhold(agent)
    await h.expect("Unhold", Channel=agent)
    # Recording.
    await h.conn.send_action("MixMonitor", {"Channel": call.name, "File": "rec-1.wav"})
    await h.expect("MixMonitorStart", Channel=call.name)
    await h.conn.send_action("StopMixMonitor", {"Channel": call.name})
    await h.expect("MixMonitorStop", Channel=call.name)
    # Supervisor whisper.
    await h.conn.send_action(
        "Originate",
        {
            "Channel": "PJSIP/super",
            "Application": "ChanSpy",
            "Data": f"{agent},qw",
            "Async": "true",
        },
    )
    spy = await h.expect("OriginateResponse")
    started = await h.expect("ChanSpyStart")
    assert started["SpyeeChannel"] == agent and started["SpyerChannel"] == spy["Channel"]
    await h.conn.send_action("Hangup", {"Channel": spy["Channel"]})
    await h.expect("ChanSpyStop")
    # Hold by Redirect: the caller goes to music on hold; the agent leg ends (Bridge()).
    await h.conn.send_action(
        "Redirect", {"Channel": call.name, "Context": "ccserver-hold", "Exten": "s", "Priority": 1}
    )
    await h.expect("BridgeLeave", Channel=call.name)
    await h.expect("Hangup", Channel=agent)
    await h.expect("MusicOnHoldStart", Channel=call.name)
    assert call.name in h.sim.channels
    # Back to ccserver (AGI) for a transfer, then a blind transfer to another agent.
    await h.conn.send_action(
        "Redirect", {"Channel": call.name, "Context": "ccserver-agi", "Exten": "s", "Priority": 1}
    )
    await h.expect("MusicOnHoldStop", Channel=call.name)
    await h.expect("AsyncAGIStart", Channel=call.name)


async def test_agi_command_set(h: Harness) -> None:
    call = h.sim.place_call("15551230003", [Press("7"), Press("9"), Wait(1000)])
    await h.expect("AsyncAGIStart", Channel=call.name)
    assert (await h.agi(call.name, "WAIT FOR DIGIT 5000")).result == str(ord("7"))
    stream = await h.agi(call.name, 'STREAM FILE welcome ""')
    assert (stream.result, stream.extras) == ("0", {"endpos": "2000"})
    # A long announcement, interrupted by the caller's escape digit.
    say = await h.agi(call.name, "SAY DIGITS 12345678901234567890 9")
    assert say.result == str(ord("9"))
    timeout = await h.agi(call.name, "GET DATA menu 100 3")
    assert timeout.result == "" and timeout.data == "timeout"
    assert (await h.agi(call.name, "EXEC NoSuchApp x")).result == "-2"
    assert (await h.agi(call.name, "GET VARIABLE NOPE")).result == "0"
    missing = await h.agi(call.name, 'STREAM FILE no-such-file ""')
    assert (missing.result, missing.extras) == ("-1", {"endpos": "0"})
    await h.expect("AsyncAGIEnd", Channel=call.name)
    assert await asyncio.wait_for(call.finished, 3) == 16
    response = await h.conn.send_action(
        "AGI", {"Channel": call.name, "Command": "ANSWER"}, check=False
    )
    assert isinstance(response, Response) and response.status == "Error"


async def test_asyncagi_break_and_agi_hangup(h: Harness) -> None:
    first = h.sim.place_call("15551230004", [Wait(1000)])
    second = h.sim.place_call("15551230005", [Wait(1000)])
    await h.expect("AsyncAGIStart", Channel=first.name)
    assert (await h.agi(first.name, "ASYNCAGI BREAK")).result == "0"
    await h.expect("AsyncAGIEnd", Channel=first.name)
    assert (await h.agi(second.name, "HANGUP")).result == "1"
    assert await asyncio.wait_for(first.finished, 3) == 16
    assert await asyncio.wait_for(second.finished, 3) == 16


async def test_outbound_callback_results(h: Harness) -> None:
    h.sim.set_endpoint("PJSIP/15550001", answer_after=1)
    h.sim.set_endpoint("PJSIP/15550002", busy=True)
    h.sim.set_endpoint("PJSIP/15550003", never_answer=True)
    for n in (1, 2, 3):
        await h.conn.send_action(
            "Originate",
            {
                "Channel": f"Local/1555000{n}@outbound",
                "Context": "ccserver-agi",
                "Exten": "s",
                "Priority": 1,
                "Timeout": 2000,
                "CallerID": "ACME <18005550100>",
                "Async": "true",
            },
        )
    results = {}
    for _ in range(3):
        event = await h.expect("OriginateResponse")
        results[event["Channel"].split("@")[0]] = event["Reason"]
    assert results == {"Local/15550001": "4", "Local/15550002": "5", "Local/15550003": "3"}
    start = await h.expect("AsyncAGIStart", anywhere=True)
    assert (
        start["Channel"].startswith("Local/15550001@outbound-")
        and start["Context"] == "ccserver-agi"
    )


async def test_random_callers_abandon_when_patience_runs_out(h: Harness) -> None:
    rng = random.Random(4)
    calls = [
        h.sim.place_call(f"1555000{i}", random_script(rng, patience=(1, 3), talk=(1, 2)))
        for i in range(5)
    ]
    causes = await asyncio.wait_for(asyncio.gather(*(c.finished for c in calls)), 5)
    assert causes == [16] * 5
    assert all(c.abandoned for c in calls)  # nobody was ever connected


async def test_permission_denied_before_login_and_logoff(h: Harness) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", h.sim.port)
    try:
        assert await reader.readline() == b"Asterisk Call Manager/11.0.0\r\n"
        writer.write(encode_action("Ping", None, "p1") + encode_action("Logoff", None, "p2"))
        data = await asyncio.wait_for(reader.read(), 3)  # the server closes after Goodbye
        assert b"Response: Error\r\nActionID: p1\r\nMessage: Permission denied" in data
        assert b"Response: Goodbye" in data
    finally:
        writer.close()
        await writer.wait_closed()


async def test_bridge_action_status_regex_hangup_and_events_off(h: Harness) -> None:
    one = h.sim.place_call("15551230010", [Wait(1000)])
    two = h.sim.place_call("15551230011", [Wait(1000)])
    await h.expect("AsyncAGIStart", Channel=two.name)
    await h.conn.send_action("Bridge", {"Channel1": one.name, "Channel2": two.name})
    await h.expect("BridgeEnter", anywhere=True, Channel=two.name)
    status = await h.conn.send_action("Status", {"Channel": one.name})
    assert isinstance(status, EventList) and status.complete is not None
    (item,) = status.events
    assert item["Privilege"] == "Call" and item["BridgeID"]
    assert status.complete["Items"] == "1"
    with pytest.raises(AmiActionFailed):
        await h.conn.send_action("Bridge", {"Channel1": one.name, "Channel2": "PJSIP/x-1"})
    off = await h.conn.send_action("Events", {"EventMask": "off"})
    assert isinstance(off, Response) and off["Events"] == "Off"
    seen = len(h.events)
    hung = await h.conn.send_action("Hangup", {"Channel": "/^PJSIP\\/1555123001[01]-.*$/"})
    assert isinstance(hung, EventList) and hung.complete is not None
    assert sorted(e["Channel"] for e in hung.events) == sorted([one.name, two.name])
    assert await asyncio.wait_for(one.finished, 3) == 16
    assert await asyncio.wait_for(two.finished, 3) == 16
    pong = await h.conn.send_action("Ping")  # round trip: any Hangup event would be here
    assert isinstance(pong, Response) and len(h.events) == seen
