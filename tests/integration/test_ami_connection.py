"""Our asyncio AMI client against the simulator, over real loopback TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ccserver.ami.agi import decode_agi_env, parse_agi_result
from ccserver.ami.connection import AmiConnection
from ccserver.ami.errors import (
    AmiActionFailed,
    AmiAuthError,
    AmiClosed,
    AmiConnectionError,
    AmiTimeout,
)
from ccserver.ami.protocol import Event, EventList, Response
from ccserver.ami.retry import ConstantBackoff, Retry
from ccserver.simulator import AsteriskSimulator, Hangup, Press, Wait

SCALE = 0.01


@pytest.fixture
async def sim() -> AsyncIterator[AsteriskSimulator]:
    simulator = AsteriskSimulator(
        "127.0.0.1", 0, "ccserver", "s3cret", time_scale=SCALE, login_failure_delay=0.1
    )
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def client(sim: AsteriskSimulator, **kwargs: object) -> AmiConnection:
    options: dict[str, object] = {
        "retry": Retry(ConstantBackoff(0.02), retries=50),
        "default_timeout": 3.0,
        "ping_interval": None,
    }
    options.update(kwargs)
    return AmiConnection("127.0.0.1", sim.port, "ccserver", "s3cret", **options)  # type: ignore[arg-type]


async def next_event(events: asyncio.Queue[Event], name: str) -> Event:
    async with asyncio.timeout(3.0):
        while True:
            event = await events.get()
            if event.name == name:
                return event


def collect(conn: AmiConnection) -> asyncio.Queue[Event]:
    queue: asyncio.Queue[Event] = asyncio.Queue()
    conn.add_event_handler(queue.put_nowait)
    return queue


@pytest.mark.parametrize("auth", ["plain", "md5"])
async def test_login_and_ping(sim: AsteriskSimulator, auth: str) -> None:
    async with client(sim, auth=auth) as conn:
        assert conn.banner == "Asterisk Call Manager/11.0.0"
        pong = await conn.send_action("Ping", timeout=2)
        assert isinstance(pong, Response) and pong["Ping"] == "Pong"
        assert conn.connected


async def test_failed_login_raises_auth_error(sim: AsteriskSimulator) -> None:
    conn = AmiConnection("127.0.0.1", sim.port, "ccserver", "wrong", ping_interval=None)
    with pytest.raises(AmiAuthError):
        await conn.connect()
    await conn.close()
    md5 = AmiConnection("127.0.0.1", sim.port, "nobody", "x", auth="md5", ping_interval=None)
    with pytest.raises(AmiAuthError):
        await md5.connect()


async def test_connection_refused(unused_port: int) -> None:
    conn = AmiConnection("127.0.0.1", unused_port, "u", "p", connect_timeout=1)
    with pytest.raises(AmiConnectionError):
        await conn.connect()


async def test_unknown_action_and_error_responses(sim: AsteriskSimulator) -> None:
    async with client(sim) as conn:
        with pytest.raises(AmiActionFailed) as info:
            await conn.send_action("NoSuchAction")
        assert "Invalid/unknown command" in info.value.message
        failed = await conn.send_action("Hangup", {"Channel": "PJSIP/none-1"}, check=False)
        assert isinstance(failed, Response) and failed.status == "Error"
        version = await conn.send_action("Command", {"Command": "core show version"})
        assert isinstance(version, Response)
        assert version.output[0].startswith("Asterisk 22")


async def test_event_lists_and_status(sim: AsteriskSimulator) -> None:
    async with client(sim) as conn:
        call = sim.place_call("15551230000", [Wait(100)])
        result = await conn.send_action("CoreShowChannels")
        assert isinstance(result, EventList) and result.complete is not None
        assert [e["Channel"] for e in result.events] == [call.name]
        assert result.complete["ListItems"] == "1"
        assert result.events[0]["Application"] == "AGI"
        queues = await conn.send_action("QueueStatus")
        assert isinstance(queues, EventList) and queues.events == []
        await conn.send_action("Setvar", {"Channel": call.name, "Variable": "X", "Value": "1"})
        got = await conn.send_action("Getvar", {"Channel": call.name, "Variable": "X"})
        assert isinstance(got, Response) and got["Value"] == "1"


async def test_asyncagi_round_trip_with_caller_digits(sim: AsteriskSimulator) -> None:
    async with client(sim) as conn:
        events = collect(conn)
        call = sim.place_call("15551230000", [Press("42"), Wait(50), Hangup()], caller_name="Ann")
        start = await next_event(events, "AsyncAGIStart")
        env = decode_agi_env(start["Env"])
        assert env["agi_channel"] == call.name and env["agi_callerid"] == "15551230000"
        assert start["ChannelState"] == "4"

        async def agi(command: str, command_id: str) -> str:
            await conn.send_action(
                "AGI", {"Channel": call.name, "Command": command, "CommandID": command_id}
            )
            while True:
                event = await next_event(events, "AsyncAGIExec")
                if event.get("CommandID") == command_id:
                    return event["Result"]

        assert parse_agi_result(await agi("ANSWER", "a1")).result == "0"
        assert parse_agi_result(await agi("SET VARIABLE LANG fr", "a2")).result == "1"
        assert parse_agi_result(await agi("GET VARIABLE LANG", "a3")).data == "fr"
        got = parse_agi_result(await agi("GET DATA menu 3000 2", "a4"))
        assert got.result == "42"
        assert parse_agi_result(await agi("NOT A COMMAND", "a5")).code == 510
        cause = await asyncio.wait_for(call.finished, 3)
        assert cause == 16


async def test_originate_ok_and_failures(sim: AsteriskSimulator) -> None:
    sim.set_endpoint("PJSIP/agent1", answer_after=1)
    sim.set_endpoint("PJSIP/agent2", never_answer=True)
    sim.set_endpoint("PJSIP/agent3", busy=True)
    async with client(sim) as conn:
        events = collect(conn)
        for endpoint in ("agent1", "agent2", "agent3"):
            await conn.send_action(
                "Originate",
                {
                    "Channel": f"PJSIP/{endpoint}",
                    "Application": "Wait",
                    "Data": "5",
                    "Timeout": 3000,
                    "Async": "true",
                },
            )
        results: dict[str, tuple[str, str]] = {}
        while len(results) < 3:
            event = await next_event(events, "OriginateResponse")
            results[event["Channel"].split("-")[0]] = (event["Response"], event["Reason"])
        assert results == {
            "PJSIP/agent1": ("Success", "4"),
            "PJSIP/agent2": ("Failure", "3"),
            "PJSIP/agent3": ("Failure", "5"),
        }
        with pytest.raises(AmiActionFailed):
            await conn.send_action("Originate", {"Channel": "FOO/bar", "Application": "Wait"})
        with pytest.raises(AmiActionFailed, match="requires 'Context'"):
            await conn.send_action("Originate", {"Channel": "PJSIP/agent1"})


async def test_action_timeout(sim: AsteriskSimulator) -> None:
    sim.set_endpoint("PJSIP/slow", answer_after=500)
    async with client(sim) as conn:
        with pytest.raises(AmiTimeout):
            await conn.send_action(
                "Originate",
                {"Channel": "PJSIP/slow", "Application": "Wait", "Data": "1"},
                timeout=0.2,
            )
        pong = await conn.send_action("Ping")  # the link is still usable
        assert isinstance(pong, Response) and pong.ok


async def test_garbage_on_the_wire_does_not_kill_the_connection(sim: AsteriskSimulator) -> None:
    async with client(sim) as conn:
        sim.send_raw(b"\x00\xff garbage without colon\r\n\r\n" + b"z" * 100_000 + b"\r\n\r\n")
        pong = await conn.send_action("Ping")
        assert isinstance(pong, Response) and pong.ok
        assert conn.protocol_errors >= 1


async def test_reconnect_with_resync_after_disconnect_mid_call(sim: AsteriskSimulator) -> None:
    resynced: list[int] = []
    done = asyncio.Event()

    async def resync(c: AmiConnection) -> None:
        channels = await c.send_action("CoreShowChannels")
        await c.send_action("QueueStatus")
        assert isinstance(channels, EventList)
        resynced.append(len(channels.events))
        done.set()

    async with client(sim, on_reconnect=resync) as conn:
        call = sim.place_call("15551230000", [Wait(1000)])
        await conn.send_action("Ping")
        sim.drop_connections()
        with pytest.raises(AmiConnectionError):
            await conn.send_action("Ping", timeout=1)  # in flight while the link drops, or
        # queued while down: this one waits for the reconnect and then succeeds
        pong = await conn.send_action("Ping", timeout=3)
        assert isinstance(pong, Response) and pong.ok
        await asyncio.wait_for(done.wait(), 3)
        assert resynced == [1] and conn.reconnects == 1
        assert call.name in sim.channels


async def test_keepalive_ping_detects_hung_asterisk_and_reconnects(
    sim: AsteriskSimulator,
) -> None:
    reconnected = asyncio.Event()

    async def on_reconnect(c: AmiConnection) -> None:
        reconnected.set()

    async with client(
        sim, ping_interval=0.05, ping_timeout=0.1, connect_timeout=0.2, on_reconnect=on_reconnect
    ) as conn:
        sim.frozen = True  # the TCP link stays up, nothing answers
        await asyncio.wait_for(conn.wait_disconnected(), 3)  # the missing Pong drops it
        await asyncio.sleep(0.3)  # reconnect attempts fail: login gets no answer either
        assert not conn.connected and not reconnected.is_set()
        sim.frozen = False
        await asyncio.wait_for(reconnected.wait(), 3)
        assert conn.reconnects == 1
        pong = await conn.send_action("Ping")
        assert isinstance(pong, Response) and pong.ok


async def test_close_fails_waiters_and_rejects_new_actions(sim: AsteriskSimulator) -> None:
    conn = client(sim)
    await conn.connect()
    sub = conn.events("Newchannel")
    sim.place_call("15551230000", [Wait(100)])
    first = await asyncio.wait_for(anext(sub), 2)
    assert first.name == "Newchannel"
    await conn.close()
    with pytest.raises(AmiClosed):
        await conn.send_action("Ping")
    assert [e async for e in sub] == []


async def test_bounded_send_queue(sim: AsteriskSimulator) -> None:
    async with client(sim, max_queued=2) as conn:
        results = await asyncio.gather(*(conn.send_action("Ping") for _ in range(20)))
        assert all(isinstance(r, Response) and r.ok for r in results)
