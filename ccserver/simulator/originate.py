"""``Action: Originate`` in the simulated PBX: dial a channel, report OriginateResponse, then
run the application (Wait, Bridge, ChanSpy, AGI) or the dialplan on the answered channel."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from ccserver.simulator.channel import (
    REASON_ANSWERED,
    REASON_BUSY,
    REASON_FAILED,
    REASON_NO_ANSWER,
    Pairs,
    SimChannel,
)
from ccserver.simulator.pbx import Pbx


@dataclass
class OriginateRequest:
    channel: str
    action_id: str | None = None
    application: str | None = None
    data: str = ""
    context: str | None = None
    exten: str | None = None
    priority: str | None = None
    timeout_ms: int = 30000
    caller_id: tuple[str, str] = ("<unknown>", "<unknown>")
    variables: tuple[tuple[str, str], ...] = ()
    channel_id: str | None = None
    other_channel_id: str | None = None

    def validate(self) -> str | None:
        """Asterisk's synchronous refusals (before any channel exists)."""
        if not self.channel:
            return "Channel not specified"
        if not self.application and not (self.context and self.exten and self.priority):
            return "Originate with 'Exten' requires 'Context' and 'Priority'"
        return None


def parse_caller_id(text: str | None) -> tuple[str, str]:
    if not text:
        return ("<unknown>", "<unknown>")
    if "<" in text and text.endswith(">"):
        name, _, num = text[:-1].partition("<")
        return (num.strip(), name.strip().strip('"') or "<unknown>")
    return (text.strip(), "<unknown>")


async def run_originate(pbx: Pbx, req: OriginateRequest, *, report: bool = True) -> bool:
    """Dial, emit OriginateResponse (``report``: async only, as Asterisk), start the application.
    True when answered."""
    tech, _, resource = req.channel.partition("/")
    tech_upper = tech.upper()
    channel: SimChannel | None = None
    reason = REASON_FAILED
    if tech_upper == "LOCAL" and "@" in resource:
        channel, reason = await _dial_local(pbx, req, resource)
    elif tech_upper in ("PJSIP", "SIP", "IAX2", "DAHDI") and resource:
        channel, reason = await _dial_endpoint(pbx, req, tech, resource)
    if channel is None or reason != REASON_ANSWERED:
        if report:
            _respond(pbx, req, None, reason)
        return False
    for key, value in req.variables:
        channel.variables[key] = value
    if report:
        _respond(pbx, req, channel, REASON_ANSWERED)
    if channel.originate_reported is not None:
        channel.originate_reported.set()
    pbx.spawn(_after_answer(pbx, req, channel), f"originate-app-{channel.name}")
    return True


def _respond(pbx: Pbx, req: OriginateRequest, ch: SimChannel | None, reason: int) -> None:
    pairs: Pairs = []
    if req.action_id is not None:
        pairs.append(("ActionID", req.action_id))
    pairs.append(("Response", "Success" if ch is not None else "Failure"))
    pairs.append(("Channel", ch.name if ch is not None else req.channel))
    if req.application:
        pairs += [("Application", req.application), ("Data", req.data)]
    else:
        pairs += [("Context", req.context or ""), ("Exten", req.exten or "")]
    pairs += [
        ("Reason", str(reason)),
        ("Uniqueid", ch.uniqueid if ch is not None else "<unknown>"),
        ("CallerIDNum", req.caller_id[0]),
        ("CallerIDName", req.caller_id[1]),
    ]
    pbx.emit("OriginateResponse", "call,all", pairs)


async def _wait_answer(pbx: Pbx, ch: SimChannel, timeout_ms: int) -> bool:
    waiter = asyncio.ensure_future(ch.answered.wait())
    gone = asyncio.ensure_future(ch.gone.wait())
    try:
        await asyncio.wait(
            {waiter, gone},
            timeout=timeout_ms / 1000 * pbx.time_scale,
            return_when="FIRST_COMPLETED",
        )
    finally:
        waiter.cancel()
        gone.cancel()
        await asyncio.gather(waiter, gone, return_exceptions=True)
    return ch.answered.is_set() and not ch.gone.is_set()


async def _dial_endpoint(
    pbx: Pbx, req: OriginateRequest, tech: str, resource: str
) -> tuple[SimChannel | None, int]:
    behaviour = pbx.endpoint(f"{tech}/{resource}")
    ch = pbx.new_channel(
        f"{tech}/{resource}",
        context=req.context or "",
        exten=req.exten or "s",
        state=0,
        cid=req.caller_id,
        uniqueid=req.channel_id,
    )
    ch.connected_num, ch.connected_name = req.caller_id
    _dial_begin(pbx, ch, resource)
    await pbx.sleep(0.05)
    if behaviour.busy:
        pbx.set_state(ch, 7)
        _dial_end(pbx, ch, "BUSY")
        pbx.hangup(ch, 17, request=False)
        return None, REASON_BUSY
    pbx.set_state(ch, 5)  # the phone rings
    if not behaviour.never_answer:
        pbx.spawn(_answer_later(pbx, ch, behaviour.answer_after), f"answer-{ch.name}")
    if await _wait_answer(pbx, ch, req.timeout_ms):
        _dial_end(pbx, ch, "ANSWER")
        if behaviour.hangup_after is not None:
            pbx.spawn(_hangup_later(pbx, ch, behaviour.hangup_after), f"far-hangup-{ch.name}")
        return ch, REASON_ANSWERED
    if not ch.gone.is_set():
        _dial_end(pbx, ch, "NOANSWER")
        pbx.hangup(ch, 19)
    return None, REASON_NO_ANSWER


def _dial_begin(pbx: Pbx, dest: SimChannel, dial_string: str) -> None:
    # An Originate has no calling channel: only the Dest* block (as recorded in b1/c5).
    pbx.emit("DialBegin", "call,all", [*dest.block("Dest"), ("DialString", dial_string)])


def _dial_end(pbx: Pbx, dest: SimChannel, status: str) -> None:
    pbx.emit("DialEnd", "call,all", [*dest.block("Dest"), ("DialStatus", status)])


async def _answer_later(pbx: Pbx, ch: SimChannel, seconds: float) -> None:
    await pbx.sleep(seconds)
    pbx.answer(ch)


async def _hangup_later(pbx: Pbx, ch: SimChannel, seconds: float, cause: int = 16) -> None:
    await pbx.sleep(seconds)
    pbx.hangup(ch, cause, request=cause != 0)


async def _dial_local(
    pbx: Pbx, req: OriginateRequest, resource: str
) -> tuple[SimChannel | None, int]:
    exten, _, context = resource.partition("@")
    context = context.split("/", 1)[0]
    seq = None
    one = pbx.new_channel(
        f"Local/{exten}@{context}",
        context=context,
        exten=exten,
        state=0,
        uniqueid=req.channel_id,
        suffix=";1",
    )
    seq = int(one.name.rsplit("-", 1)[1][:8], 16)
    two = pbx.new_channel(
        f"Local/{exten}@{context}",
        context=context,
        exten=exten,
        state=4,
        uniqueid=req.other_channel_id,
        linkedid=one.linkedid,
        suffix=";2",
        seq=seq,
    )
    one.local_peer, two.local_peer = two, one
    one.originate_reported = asyncio.Event()
    for ch in (one, two):
        if req.caller_id[0] != "<unknown>":
            ch.cid_num, ch.cid_name = req.caller_id
            ch.connected_num, ch.connected_name = req.caller_id
        for key, value in req.variables:
            ch.variables[key] = value
    kind = pbx.behaviour(context, exten)
    if kind is not None:
        _dial_begin(pbx, one, resource)
    if kind is None:
        # OriginateResponse goes out first, then the two halves hang up (c5).
        pbx.spawn(_hangup_later(pbx, two, 0, cause=0), f"no-exten-{two.name}")
        return None, REASON_FAILED
    if kind == "dial":
        behaviour = pbx.endpoint(f"PJSIP/{exten}")
        if behaviour.busy:
            _dial_end(pbx, one, "BUSY")
            pbx.hangup(two, 17, request=False)
            return None, REASON_BUSY
        if not behaviour.never_answer:
            pbx.spawn(_answer_later(pbx, two, behaviour.answer_after), f"answer-{two.name}")
    else:
        pbx.enter_context(two, context, exten)
    if await _wait_answer(pbx, one, req.timeout_ms):
        _dial_end(pbx, one, "ANSWER")
        return one, REASON_ANSWERED
    if not one.gone.is_set():
        _dial_end(pbx, one, "NOANSWER")
        pbx.hangup(one, 19)
        return None, REASON_NO_ANSWER
    _dial_end(pbx, one, "BUSY" if one.hangup_cause == 17 else "CHANUNAVAIL")
    return None, REASON_BUSY if one.hangup_cause == 17 else REASON_FAILED


def _callee_go_on(options: str) -> tuple[str, str] | None:
    """Bridge()'s ``F(context^exten^priority)`` option: where the bridged party continues
    when the caller of Bridge() hangs up. The bare ``F`` (next priority) is not modelled."""
    match = re.search(r"F\(([^)^]+)\^([^)^]+)\^[^)]*\)", options)
    return (match.group(1), match.group(2)) if match else None


async def _after_answer(pbx: Pbx, req: OriginateRequest, ch: SimChannel) -> None:
    if ch.gone.is_set():
        return  # hung up between the answer and its application (Bridge must not run)
    if not req.application:
        if not pbx.enter_context(ch, req.context or "", req.exten or "s"):
            pbx.hangup(ch, 1)
        return
    app = req.application.lower()
    ch.application, ch.app_data = req.application, req.data
    if app == "wait":
        await pbx.sleep(float(req.data or 0))
        pbx.hangup(ch, 16)
    elif app == "bridge":
        name, _, options = req.data.partition(",")
        target = pbx.find_channel(name)
        if target is None:
            pbx.hangup(ch, 16)
            return
        pbx.bridge(ch, target)
        target.after_bridge = _callee_go_on(options)
    elif app == "chanspy":
        target_name, _, options = req.data.partition(",")
        target = pbx.find_channel(target_name) or next(
            (c for c in pbx.channels.values() if c.name.startswith(target_name) and c is not ch),
            None,
        )
        if target is None:
            pbx.hangup(ch, 16)
            return
        ch.spying_on = target
        ch.variables["SPY_MODE"] = (
            "barge" if "B" in options else "whisper" if "w" in options else "listen"
        )
        pbx.emit("ChanSpyStart", "call,all", ch.block("Spyer") + target.block("Spyee"))
    elif app == "agi":
        pbx.start_agi(ch)
    elif app in ("musiconhold", "startmusiconhold"):
        pbx.start_moh(ch)
    # Any other application: the channel just stays up until someone hangs it up.
