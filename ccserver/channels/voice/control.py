"""Agent and supervisor call control on a live voice call (``VoiceChannel.control``).

hold / unhold: Redirect customer and agent leg into ``ccserver-hold`` (music), then the AMI
``Bridge`` action joins them again. record / stop_record: MixMonitor on the customer channel
(``{"recording_ref": file}``). dtmf: PlayDTMF per digit. transfer: to a number
(``Local/<n>@outbound``) or to another agent's endpoint, bridged with the customer; the
agent's own leg ends. consult / consult_complete / consult_cancel: attended transfer (see
:mod:`.consult`). transfer_queue: the customer goes back under AsyncAGI control, waiting
as the new interaction. monitor: Originate the supervisor's endpoint into ChanSpy
(listen ``q``, whisper ``qw``, barge ``qB``). Routing's overflow actions (callback,
voicemail, disconnect) end the call with a short prompt.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ccserver.channels.voice import consult
from ccserver.channels.voice.calls import Call, Phase
from ccserver.channels.voice.errors import CallGone, ConsultConflict, NoCallControl

if TYPE_CHECKING:
    from ccserver.channels.voice.channel import VoiceChannel
    from ccserver.domain import Interaction

SPY_OPTIONS = {"listen": "q", "whisper": "qw", "barge": "qB"}
OVERFLOW_PROMPTS = {"callback": "callback-confirm", "voicemail": "leave-message"}
# What a consult in progress allows besides its own steps: these do not move the caller or
# the agent's phone, which the consult has parked and bridged.
DURING_CONSULT = frozenset({"hangup", "record", "stop_record", "monitor"})


def _agent_leg(call: Call) -> str:
    if call.agent_leg is None:
        raise NoCallControl("the agent's phone is not connected to this call")
    return call.agent_leg


async def apply(
    vc: VoiceChannel, call: Call, i: Interaction, action: str, params: dict[str, Any]
) -> dict[str, Any]:
    if action == "consult":
        return await consult.start(vc, call, i, params)
    if action == "consult_complete":
        return await consult.complete(vc, call, i)
    if action == "consult_cancel":
        return await consult.cancel(vc, call, i)
    if call.consult is not None and action not in DURING_CONSULT:
        raise ConsultConflict(f"finish or cancel the consult before {action}")
    if action == "hold":
        if call.phase != Phase.CONNECTED:
            raise NoCallControl(f"cannot hold a call that is {call.phase.value}")
        await vc.bridge_settled(call)
        await vc.redirect(
            call.channel, "ccserver-hold", ExtraChannel=_agent_leg(call),
            ExtraContext="ccserver-hold", ExtraExten="s", ExtraPriority="1",
        )  # fmt: skip
        call.phase = Phase.HELD
        return {"held": True}
    if action == "unhold":
        if call.phase != Phase.HELD:
            raise NoCallControl("the call is not on hold")
        await vc.action("Bridge", {"Channel1": call.channel, "Channel2": _agent_leg(call)})
        call.phase = Phase.CONNECTED
        return {"held": False}
    if action == "hangup":
        await vc.safe_hangup(call.channel)
        return {"ok": True}
    if action == "record":
        ref = f"{i.id}.wav"
        await vc.action("MixMonitor", {"Channel": call.channel, "File": ref, "Options": "b"})
        call.recording = ref
        return {"recording_ref": ref}
    if action == "stop_record":
        await vc.action("StopMixMonitor", {"Channel": call.channel})
        stopped, call.recording = call.recording, None
        return {"recording_ref": stopped}
    if action == "dtmf":
        digits = str(params.get("digits") or "")
        if not digits:
            raise NoCallControl("dtmf needs digits")
        for digit in digits:
            await vc.action("PlayDTMF", {"Channel": call.channel, "Digit": digit})
        return {"sent": digits}
    if action == "transfer":
        return await _transfer(vc, call, i, params)
    if action == "transfer_queue":
        return await _transfer_queue(vc, call, i, params)
    if action == "monitor":
        return await _monitor(vc, call, params)
    if action == "survey":
        return await _to_survey(vc, call, i)
    if action in ("callback", "voicemail", "disconnect", "overflow_disconnect"):
        call.closed = True
        vc.spawn(_goodbye(vc, call, OVERFLOW_PROMPTS.get(action)), f"voice-{action}")
        return {"ended": action}
    raise NoCallControl(f"unknown call control {action!r}")


async def _to_survey(vc: VoiceChannel, call: Call, i: Interaction) -> dict[str, Any]:
    """The agent ends the call "with survey": the caller is taken back under AsyncAGI (the
    survey flow runs when it arrives, see VoiceChannel._on_agi_start) and the agent's phone
    is released. The answers are linked to this leg's contact, agent and queue."""
    from ccserver.channels.voice.channel import CONTROL_CONTEXT

    if call.phase not in (Phase.CONNECTED, Phase.HELD):
        raise NoCallControl(f"cannot start a survey on a call that is {call.phase.value}")
    leg = call.agent_leg
    call.attributes["survey_for"] = {
        "contact_id": i.contact_id,
        "agent_id": i.agent_id,
        "queue": i.queue,
        "customer_id": i.customer_id,
        "language": i.attributes.get("language"),
    }
    call.phase = Phase.SURVEY
    call.closed = True  # the interaction ends for the agent now; the caller's hangup is expected
    await vc.redirect(call.channel, CONTROL_CONTEXT)
    call.agent_leg = None
    await vc.safe_hangup(leg)
    return {"survey": True}


async def _goodbye(vc: VoiceChannel, call: Call, prompt: str | None) -> None:
    if prompt and call.in_agi:
        with contextlib.suppress(CallGone):
            await vc.agi.run(call.channel, f'STREAM FILE en/{prompt} ""')
    await vc.safe_hangup(call.channel)


async def _transfer(
    vc: VoiceChannel, call: Call, i: Interaction, params: dict[str, Any]
) -> dict[str, Any]:
    number, agent_id = params.get("number"), params.get("agent_id")
    if number:
        dial = f"Local/{number}@{vc.outbound_context}"
    else:
        info = vc.cc.agents.get(str(agent_id or ""))
        if info is None or not info.endpoint:
            raise NoCallControl("that agent is not logged in with a phone")
        dial = info.endpoint
    # The customer hears music while the new party rings; the agent's leg ends (blind).
    await vc.redirect(call.channel, "ccserver-hold")
    call.attributes["detached"] = True
    vc.calls.pop(call.channel, None)
    vc.by_interaction.pop(i.id, None)
    i.attributes["transferred_to_number" if number else "transferred_to_agent"] = number or agent_id
    vc.spawn(_finish_transfer(vc, call, i, dial), f"voice-transfer-{call.channel}")
    return {"transferring_to": number or agent_id}


async def _finish_transfer(vc: VoiceChannel, call: Call, i: Interaction, dial: str) -> None:
    result = await vc.bridge_new_leg(call, dial)
    i.attributes["transfer_result"] = result.result
    if result.result != "answered":
        await vc.safe_hangup(call.channel)  # nobody took it: do not leave the caller on music
    else:
        i.attributes["outcome"] = "transferred"
    if i.agent_id and vc.cc.interactions.get(i.id) is i:
        with contextlib.suppress(Exception):
            await vc.cc.hang_up(i.id, i.agent_id)  # the agent's part is over: wrap-up


async def _transfer_queue(
    vc: VoiceChannel, call: Call, i: Interaction, params: dict[str, Any]
) -> dict[str, Any]:
    new_id = str(params["new_interaction"])
    vc.by_interaction.pop(i.id, None)
    call.interaction_id = new_id
    vc.by_interaction[new_id] = call
    leg = vc.cc.interactions.get(new_id)
    if leg is not None:
        # The new leg starts its own clock: hold time and recording were the old leg's.
        for key in ("hold_s", "hold_started", "held", "recording_ref"):
            leg.attributes.pop(key, None)
    call.phase, call.agent_leg, call.agent_id, call.in_agi = Phase.QUEUED, None, None, False
    # Back under AsyncAGI (music, announcements); the agent's leg leaves the bridge and ends.
    await vc.redirect(call.channel, "ccserver-agi")
    return {"queue": params.get("queue"), "interaction_id": new_id}


async def _monitor(vc: VoiceChannel, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    mode = str(params.get("mode") or "listen")
    if mode not in SPY_OPTIONS:
        raise NoCallControl(f"monitor mode must be one of {sorted(SPY_OPTIONS)}")
    supervisor = str(params.get("supervisor_id") or "")
    endpoint = params.get("endpoint")
    info = vc.cc.agents.get(supervisor)
    if endpoint is None and info is not None:
        endpoint = info.endpoint
    if endpoint is None and vc.sessions is not None and supervisor:
        from ccserver.web.user_directory import agent_profile

        with contextlib.suppress(Exception):
            endpoint = (await agent_profile(vc.sessions, supervisor)).endpoint
    if not endpoint:
        raise NoCallControl("the supervisor has no phone endpoint configured")
    target = call.agent_leg or call.channel
    data = f"{target},{SPY_OPTIONS[mode]}"
    vc.spawn(
        vc.originator.originate(
            str(endpoint),
            {"Application": "ChanSpy", "Data": data, "CallerID": f'"Monitor" <{mode}>'},
            timeout=30.0,
        ),
        f"voice-monitor-{supervisor}",
    )
    return {"mode": mode, "endpoint": endpoint, "target": target}
