"""A caller in the queue (or the IVR) asks to be called back instead of waiting.

The call ends as ``callback_requested`` and a ``callback`` interaction carrying the number
(``attributes["callback_number"]``, linked by ``related_contact_id``) waits in the same queue
in its place; the agent who gets it calls back (e.g. through ``VoiceChannel.dial_out``).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ccserver.channels.voice.calls import Call, Phase
from ccserver.channels.voice.errors import CallGone
from ccserver.domain import Channel, Direction, Interaction

if TYPE_CHECKING:
    from ccserver.channels.voice.channel import VoiceChannel


async def callback_task(
    vc: VoiceChannel, call_interaction: Interaction, number: str, **attributes: Any
) -> Interaction:
    """A callback interaction for the caller of ``call_interaction`` (linked to its
    contact), not yet routed."""
    return await vc.cc.new_interaction(
        Channel.CALLBACK,
        direction=Direction.OUTBOUND,
        customer_id=call_interaction.customer_id,
        attributes={
            **attributes,
            "callback_number": number,
            "caller_id": number,
            "related_contact_id": call_interaction.contact_id,
        },
    )


async def request_callback(vc: VoiceChannel, call: Call, queue: str, number: str) -> None:
    """The caller asked to be called back: this call ends as ``callback_requested`` and a
    callback interaction (with the number) waits in ``queue`` in its place."""
    iid = call.interaction_id or ""
    i = vc.cc.get(iid)
    i.attributes["outcome"] = "callback_requested"
    call.closed, call.phase = True, Phase.ENDED
    await vc.cc.customer_left(iid, "callback_requested")
    cb = await callback_task(vc, i, number)
    await vc.cc.enqueue(cb.id, queue, priority=i.priority, skills=dict(i.skills))
    lang = str(i.attributes.get("language") or "en")
    with contextlib.suppress(CallGone):
        await vc.agi.run(call.channel, f'STREAM FILE {lang}/callback-confirm ""')
    await vc.safe_hangup(call.channel)
