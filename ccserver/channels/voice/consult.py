"""Attended (consult / warm) transfer: ``consult``, ``consult_complete``, ``consult_cancel``.

consult: customer and agent leg are Redirected into ``ccserver-hold`` (music; the hold clock
runs, see ``ContactCenter.control``), then the target is Originated with
``Application=Bridge, Data=<agent leg>,F(ccserver-hold^s^1)``: its answer pulls the agent's
phone out of the music into a private bridge with the target. complete: the AMI ``Bridge``
action joins the customer with the target's channel (moving it out of the consult bridge) and
the agent's leg is hung up: the agent goes to wrap-up. cancel: ``Bridge`` customer + agent
(moving the agent out first, so hanging up the target cannot take the agent's phone along),
then the target's leg is hung up.

Why Redirect / Originate / Bridge and not ``Atxfer``: Atxfer makes Asterisk dial a dialplan
extension from the agent's bridge through the features.conf DTMF-transfer machinery. Its AMI
response only says "queued": the target's channel, whether it answered, was busy or never
answered are not reported to the action, completion happens when the transferer hangs up,
and the target must be a dialplan extension (not another agent's endpoint). Cancelling needs
CancelAtxfer (Asterisk 16+). The primitives above each report their outcome
(``OriginateResponse`` with a Reason, the ChannelId we chose), work on every Asterisk since
12, and are the ones ccserver's hold / blind transfer already use, so the simulator emulates
them faithfully: the only addition there is the ``F()`` option of Bridge().

The agent's phone hanging up during the consult: the consulted leg cannot be kept (an
Originate'd Bridge() ends when its bridged party leaves, so "hang up to transfer" as with
Atxfer is not possible here), so the caller goes back to the queue; never dropped.

The consult's state lives in the call record (``Call.consult``, table ``CONSULT_STEPS``);
Hangups of the three channels involved reach it through ``VoiceChannel.hangup_hooks``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ccserver.channels.voice.calls import Call, Consult, ConsultState, Phase
from ccserver.channels.voice.errors import (
    CallGone,
    ConsultConflict,
    ConsultTargetUnavailable,
    NoCallControl,
)
from ccserver.logs import get_logger

if TYPE_CHECKING:
    from ccserver.channels.voice.channel import VoiceChannel
    from ccserver.domain import Interaction

log = get_logger(__name__)
HOLD = "ccserver-hold"
RING_S = 30.0  # how long the consulted party may ring before the agent is back with the caller
# Why the agent asking for this cannot have it now (per consult state; None: no consult).
_REFUSED: dict[str, dict[ConsultState | None, str]] = {
    "consult": {
        ConsultState.DIALING: "a consult is already ringing: complete or cancel it first",
        ConsultState.TALKING: "a consult is already in progress: complete or cancel it first",
    },
    "complete": {
        None: "there is no consult to complete (consult someone first)",
        ConsultState.DIALING: "the consulted party has not answered yet",
    },
    "cancel": {None: "there is no consult to cancel"},
}


def _refuse(action: str, consult: Consult | None) -> None:
    state = consult.state if consult is not None else None
    if consult is None or not consult.can(action):
        message = _REFUSED[action].get(state, f"cannot {action} a consult that is {state}")
        raise ConsultConflict(message, details={"consult": state.value if state else None})


async def start(
    vc: VoiceChannel, call: Call, i: Interaction, params: dict[str, Any]
) -> dict[str, Any]:
    if call.consult is not None:
        raise ConsultConflict(_REFUSED["consult"][call.consult.state])
    if call.phase not in (Phase.CONNECTED, Phase.HELD):
        raise NoCallControl(f"cannot consult on a call that is {call.phase.value}")
    agent_leg = call.agent_leg
    if agent_leg is None:
        raise NoCallControl("the agent's phone is not connected to this call")
    number, agent_id = params.get("number"), params.get("agent_id")
    if bool(number) == bool(agent_id):
        raise NoCallControl("consult needs either a number or an agent_id")
    if number:
        target, kind, dial = str(number), "number", f"Local/{number}@{vc.outbound_context}"
    else:
        target, kind, dial = str(agent_id), "agent", _agent_endpoint(vc, call, str(agent_id))
    if call.phase == Phase.CONNECTED:  # already held: both are on music already
        await vc.bridge_settled(call)
        await vc.redirect(
            call.channel, HOLD, ExtraChannel=agent_leg,
            ExtraContext=HOLD, ExtraExten="s", ExtraPriority="1",
        )  # fmt: skip
    consult = Consult(target, kind, dial, vc.originator.new_channel_id())
    call.consult, call.phase = consult, Phase.CONSULT
    vc.hangup_hooks[call.channel] = lambda: _left(vc, call, i, consult, "caller_left")
    vc.hangup_hooks[agent_leg] = lambda: _left(vc, call, i, consult, "agent_left")
    i.attributes["consult"] = consult.view()
    i.attributes.pop("consult_result", None)  # the previous consult's, if any
    vc.spawn(_dial(vc, call, i, consult, agent_leg), f"voice-consult-{call.channel}")
    return {"consult": consult.view()}


def _agent_endpoint(vc: VoiceChannel, call: Call, agent_id: str) -> str:
    if agent_id == call.agent_id:
        raise ConsultTargetUnavailable("you cannot consult yourself")
    info = vc.cc.agents.get(agent_id)
    presence = vc.cc.routing.snapshot()["agents"].get(agent_id, {}).get("presence")
    if info is None or presence in (None, "logged_out"):
        raise ConsultTargetUnavailable(
            f"agent {agent_id} is not logged in", details={"agent_id": agent_id}
        )
    if not info.endpoint:
        raise ConsultTargetUnavailable(
            f"agent {agent_id} has no phone endpoint", details={"agent_id": agent_id}
        )
    return info.endpoint


async def _dial(
    vc: VoiceChannel, call: Call, i: Interaction, consult: Consult, agent_leg: str
) -> None:
    caller = call.caller_id or "unknown"
    # F(): when the target hangs up, Asterisk sends the agent's phone back to the music
    # (instead of hanging it up), from where Bridge joins it with the caller again.
    result = await vc.originator.originate(
        consult.dial,
        {"Application": "Bridge", "Data": f"{agent_leg},F({HOLD}^s^1)",
         "CallerID": f'"{caller}" <{caller}>'},
        timeout=RING_S,
        channel_id=consult.channel_id,
    )  # fmt: skip
    if call.consult is not consult or not consult.can("answered"):
        # Over meanwhile. Cancelled: an answer racing the cancel is hung up, and the agent,
        # whom its Bridge() may have pulled away, is joined with the caller again. The caller
        # or the agent left: a late answer stays (the consulted party talks with the agent).
        if result.channel and consult.ended_by == "cancel":
            vc.hangup_hooks.pop(result.channel, None)
            await vc.safe_hangup(result.channel)
            if not call.gone.is_set():
                await _rejoin(vc, call)
        return
    if result.result != "answered" or result.channel is None:
        consult.step("failed")
        await _back_to_caller(vc, call, i, consult, result.result)
        return
    consult.step("answered")
    consult.leg = result.channel
    vc.hangup_hooks[result.channel] = lambda: _target_left(vc, call, i, consult)
    i.attributes["consult"] = consult.view()
    await vc.cc.consult_changed(i)


def _unhook(vc: VoiceChannel, call: Call, consult: Consult) -> None:
    for channel in (call.channel, call.agent_leg, consult.leg):
        if channel:
            vc.hangup_hooks.pop(channel, None)
    if call.consult is consult:
        call.consult = None


async def _back_to_caller(
    vc: VoiceChannel, call: Call, i: Interaction, consult: Consult, result: str
) -> None:
    """The consult ended by itself (no answer, busy, failed, the target hung up): the agent
    is joined with the caller again and told why."""
    _unhook(vc, call, consult)
    i.attributes.pop("consult", None)
    if call.gone.is_set() or call.agent_leg is None:
        return
    call.phase = Phase.CONNECTED
    await _rejoin(vc, call)
    await vc.cc.consult_changed(i, result)


async def _rejoin(vc: VoiceChannel, call: Call) -> None:
    """The AMI Bridge action joins caller and agent again, wherever each of them is (music,
    the consult's bridge): Asterisk moves channels that are in a bridge already."""
    if call.agent_leg is not None:
        with contextlib.suppress(CallGone):  # one side hung up meanwhile: its Hangup rules
            await vc.action("Bridge", {"Channel1": call.channel, "Channel2": call.agent_leg})


def _target_left(vc: VoiceChannel, call: Call, i: Interaction, consult: Consult) -> None:
    if call.consult is consult and consult.can("target_left"):
        consult.step("target_left")
        vc.spawn(_back_to_caller(vc, call, i, consult, "target_hung_up"), "voice-consult-back")


def _left(vc: VoiceChannel, call: Call, i: Interaction, consult: Consult, event: str) -> None:
    """The caller or the agent's phone hung up during the consult."""
    if call.consult is not consult or not consult.can(event):
        return
    consult.step(event)
    ringing = consult.leg or vc.legs.get(consult.channel_id)
    _unhook(vc, call, consult)  # the phase stays CONSULT: caller_gone keeps the agent's phone
    i.attributes.pop("consult", None)
    if event == "caller_left":
        # The agent keeps the consulted party until one of them hangs up; the interaction
        # ends as the caller left (VoiceChannel.caller_gone, right after this hook).
        vc.spawn(vc.cc.consult_changed(i, "caller_left"), "voice-consult-caller-left")
        return
    # The agent's phone is gone: the consulted leg goes with it (ringing, or ending with
    # its Bridge()), so nobody can take the caller now. The caller goes back to the queue
    # (a new leg ahead of equal-priority callers), never left alone on music or hung up on.
    vc.spawn(_requeue(vc, call, i, ringing), "voice-consult-agent-left")


async def _requeue(vc: VoiceChannel, call: Call, i: Interaction, ringing: str | None) -> None:
    await vc.safe_hangup(ringing)
    call.phase = Phase.CONNECTED  # transfer_to_queue takes a connected call
    i.attributes["consult_result"] = "agent_left"
    if i.agent_id and i.queue:
        try:
            await vc.cc.transfer_to_queue(i.id, i.agent_id, i.queue)
            return
        except Exception:
            log.exception("caller not requeued after the agent hung up", channel=call.channel)
    await vc.safe_hangup(call.channel)


async def _release(vc: VoiceChannel, *channels: str | None) -> None:
    for channel in channels:
        await vc.safe_hangup(channel)


async def cancel(vc: VoiceChannel, call: Call, i: Interaction) -> dict[str, Any]:
    consult = call.consult
    _refuse("cancel", consult)
    assert consult is not None
    consult.step("cancel")
    other = consult.leg or vc.legs.get(consult.channel_id)  # answered, or still ringing
    _unhook(vc, call, consult)
    i.attributes.pop("consult", None)
    call.phase = Phase.CONNECTED
    await _rejoin(vc, call)
    await vc.safe_hangup(other)
    return {"consult": None, "cancelled": consult.target}


async def complete(vc: VoiceChannel, call: Call, i: Interaction) -> dict[str, Any]:
    consult = call.consult
    _refuse("complete", consult)
    assert consult is not None and consult.leg is not None
    consult.step("complete")
    agent_leg = call.agent_leg
    _unhook(vc, call, consult)
    await vc.action("Bridge", {"Channel1": call.channel, "Channel2": consult.leg})
    # From here the call is the customer's and the target's, no longer ours (as after a
    # blind transfer): their Hangups must not touch this interaction.
    call.attributes["detached"] = True
    vc.calls.pop(call.channel, None)
    vc.by_interaction.pop(i.id, None)
    if agent_leg is not None:
        vc.leg_owner.pop(agent_leg, None)
    call.agent_leg = None
    await vc.safe_hangup(agent_leg)
    i.attributes.pop("consult", None)
    key = "transferred_to_number" if consult.kind == "number" else "transferred_to_agent"
    i.attributes.update(
        {key: consult.target, "transfer_kind": "attended", "transfer_result": "answered",
         "outcome": "transferred"}
    )  # fmt: skip
    if i.agent_id:
        await vc.cc.hang_up(i.id, i.agent_id)  # the agent's part is over: wrap-up
    return {"consult": None, "transferred_to": consult.target, "transfer_kind": "attended"}
