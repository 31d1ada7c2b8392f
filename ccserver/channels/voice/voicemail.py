"""A caller leaves a voicemail (the IVR's ``voicemail`` node, typically after hours).

After the node's prompt, Asterisk records the caller (AGI ``RECORD FILE`` with a beep) until
they press #, stay silent for a few seconds, reach the node's ``max_seconds`` or hang up.
The call's contact ends as ``voicemail`` and carries the recording's reference (the file is
on the Asterisk host, like call recordings) and its length. A message with sound in it
becomes work for a person: a callback interaction in the node's queue, linked to the call,
with the recording attached, which waits for business hours like other written work and
survives a restart (``pending_work``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ccserver.ami.agi import parse_agi_result
from ccserver.channels.voice.callback_request import callback_task
from ccserver.channels.voice.calls import Call
from ccserver.channels.voice.errors import CallGone
from ccserver.domain import Interaction
from ccserver.logs import get_logger
from ivr import actions as a

if TYPE_CHECKING:
    from ccserver.channels.voice.channel import VoiceChannel

log = get_logger(__name__)
SAMPLE_RATE = 8000  # RECORD FILE's endpos counts samples of the 8 kHz recording
SILENCE_S = 5  # seconds of silence that end the message
MIN_MESSAGE_S = 1.0  # shorter than this: the caller hung up without speaking


async def take_voicemail(vc: VoiceChannel, call: Call, i: Interaction, vm: a.Voicemail) -> None:
    cc = vc.cc
    ref = f"voicemail/{call.uniqueid or i.id}"
    started = cc.clock()
    seconds: float
    ended_by = "timeout"
    try:
        reply = parse_agi_result(
            await vc.agi.run(
                call.channel,
                f'RECORD FILE {ref} wav "#" {int(vm.max_seconds * 1000)} 0 BEEP s={SILENCE_S}',
            )
        )
        samples = int(reply.extras.get("endpos", "0") or 0)
        seconds = samples / SAMPLE_RATE
        if reply.data in ("dtmf", "hangup"):
            ended_by = reply.data
        if reply.result == "-1" and reply.data != "hangup":
            # Asterisk could not write the file: nothing was kept.
            log.warning("voicemail not recorded", channel=call.channel, reply=reply.raw)
            seconds = 0.0
    except CallGone:
        # Most callers just hang up when they have said their piece.
        seconds, ended_by = cc.clock() - started, "hangup"
    seconds = round(min(seconds, float(vm.max_seconds)), 1)
    kept = seconds >= MIN_MESSAGE_S
    i.attributes.update(outcome="voicemail", voicemail_s=seconds, voicemail_ended_by=ended_by)
    if kept:
        i.attributes["recording_ref"] = f"{ref}.wav"
    call.closed = True
    await cc.customer_left(i.id, "voicemail")
    await vc.safe_hangup(call.channel)
    if kept:
        await _call_back(vc, call, i, vm, f"{ref}.wav", seconds)


async def _call_back(
    vc: VoiceChannel, call: Call, i: Interaction, vm: a.Voicemail, ref: str, seconds: float
) -> None:
    """The message becomes a callback task for the voicemail's queue."""
    number = str(i.attributes.get("caller_id") or call.caller_id)
    task = await callback_task(
        vc, i, number,
        **dict(vm.attributes), voicemail_ref=ref, voicemail_s=seconds, source="voicemail",
        subject="Voicemail",
    )  # fmt: skip
    if vc.park_until_open is not None:
        await vc.park_until_open(task.id, vm.queue)
    else:
        await vc.cc.enqueue(task.id, vm.queue)
