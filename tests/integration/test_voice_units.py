"""The voice channel's AMI helpers against a scripted connection: Originate outcomes from
OriginateResponse (matched by ChannelId, or by dial string on failure) and AGI results
matched by CommandID, including the failure paths (action refused, channel gone)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from ccserver.ami import AmiActionFailed, AmiConnection, Event, Response
from ccserver.channels.voice.agi_client import AgiClient
from ccserver.channels.voice.errors import CallGone
from ccserver.channels.voice.inbound import e164
from ccserver.channels.voice.originate import Originator


class FakeConn:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []
        self.fail = fail

    async def send_action(self, name: str, fields: Any = None, **_: Any) -> Response:
        self.sent.append((name, dict(fields or {})))
        if self.fail:
            raise AmiActionFailed(name, Response(fields={"Message": "nope"}, status="Error"))
        return Response(fields={"Response": "Success"}, status="Success")


def _ev(name: str, **fields: str) -> Event:
    return Event(fields=dict(fields), name=name)


async def _sent(conn: FakeConn, count: int) -> None:
    for _ in range(100):  # a few loop turns: the tasks only have to reach send_action
        if len(conn.sent) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{count} actions never sent")


@pytest.mark.parametrize(
    ("reason", "outcome"), [("5", "busy"), ("3", "no_answer"), ("1", "no_answer"), ("0", "failed")]
)
async def test_originate_failure_reasons(reason: str, outcome: str) -> None:
    conn = FakeConn()
    orig = Originator(cast(AmiConnection, conn))
    task = asyncio.create_task(orig.originate("PJSIP/agent1", {"Application": "Wait"}, timeout=5))
    await _sent(conn, 1)
    name, fields = conn.sent[0]
    assert name == "Originate" and fields["Async"] == "true" and fields["Timeout"] == "5000"
    assert fields["ChannelId"].startswith("ccs-")
    # Failures carry no uniqueid: matched by the dial string.
    orig.on_response(
        _ev("OriginateResponse", Response="Failure", Channel="PJSIP/agent1", Reason=reason,
            Uniqueid="<unknown>")
    )  # fmt: skip
    result = await task
    assert (result.result, result.channel) == (outcome, None)


async def test_originate_answered_matches_by_channel_id() -> None:
    conn = FakeConn()
    orig = Originator(cast(AmiConnection, conn))
    first = asyncio.create_task(orig.originate("PJSIP/a", {}, timeout=5, channel_id="ccs-1"))
    second = asyncio.create_task(orig.originate("PJSIP/a", {}, timeout=5, channel_id="ccs-2"))
    await _sent(conn, 2)
    orig.on_response(
        _ev("OriginateResponse", Response="Success", Channel="PJSIP/a-0002", Reason="4",
            Uniqueid="ccs-2")
    )  # fmt: skip
    orig.on_response(_ev("OriginateResponse", Response="Success", Uniqueid="someone-else"))
    done = await second
    assert (done.result, done.channel, done.uniqueid) == ("answered", "PJSIP/a-0002", "ccs-2")
    assert not first.done()
    orig.fail_all()  # the link dropped: the response that was in flight is lost
    assert (await first).result == "failed"


async def test_originate_refused_is_failed() -> None:
    orig = Originator(cast(AmiConnection, FakeConn(fail=True)))
    assert (await orig.originate("PJSIP/x", {}, timeout=1)).result == "failed"


async def test_agi_result_by_command_id_and_gone_channel() -> None:
    conn = FakeConn()
    agi = AgiClient(cast(AmiConnection, conn))
    task = asyncio.create_task(agi.run("PJSIP/c-1", "ANSWER"))
    other = asyncio.create_task(agi.run("PJSIP/c-2", "GET DATA en/x 100 1"))
    await _sent(conn, 2)
    cid = conn.sent[0][1]["CommandID"]
    agi.on_exec(_ev("AsyncAGIExec", Channel="PJSIP/c-1", CommandId="unrelated", Result="x"))
    agi.on_exec(
        _ev("AsyncAGIExec", Channel="PJSIP/c-1", CommandId=cid, Result="200%20result%3D0%0A")
    )
    assert await task == "200%20result%3D0%0A"
    assert agi.in_flight == 1
    agi.channel_gone("PJSIP/c-2")
    with pytest.raises(CallGone):
        await other
    assert agi.in_flight == 0


async def test_agi_on_channel_not_in_agi_is_call_gone() -> None:
    agi = AgiClient(cast(AmiConnection, FakeConn(fail=True)))
    with pytest.raises(CallGone):
        await agi.run("PJSIP/c-1", "ANSWER")
    assert agi.in_flight == 0


def test_caller_id_to_e164() -> None:
    assert e164("2025550143", "US") == "+12025550143"
    assert e164("+44 20 7946 0958", "US") == "+442079460958"
    assert e164("anonymous", "US") == "anonymous"
    assert e164("12", "US") == "12"
