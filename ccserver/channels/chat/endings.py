"""How a chat ends without (or after) an agent: the survey, the transcript by email, a
message left or a callback requested when nobody is available."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ccserver.channels.chat.session import ChatSession
from ccserver.domain import new_id
from ccserver.errors import ValidationFailed

if TYPE_CHECKING:
    from ccserver.channels.chat.service import ChatService

MAX_TEXT = 2000
_CAN_LEAVE_WORD = frozenset({"ivr", "queued", "closed"})


async def survey(svc: ChatService, s: ChatSession, data: dict[str, Any]) -> None:
    if not s.survey_open or s.survey_done:
        return
    csat, nps = data.get("csat"), data.get("nps")
    if not (isinstance(csat, int) and 1 <= csat <= 5) or not (
        nps is None or (isinstance(nps, int) and 0 <= nps <= 10)
    ):
        await s.emit("error", {"code": "invalid_survey"}, numbered=False)
        return
    s.survey_done = True
    text = data.get("text")
    if svc.survey_writer is not None:
        await svc.survey_writer(
            {
                "id": new_id(),
                "customer_id": s.customer_id,
                "contact_id": s.contact_id,
                "agent_id": s.agent_id,
                "queue": s.queue,
                "csat": csat,
                "nps": nps,
                "text": text[:2000] if isinstance(text, str) else None,
                "created_at": dt.datetime.now(dt.UTC),
            }
        )
    await s.emit("ended", {"case_number": s.case_number, "thanks": True})


async def transcript(svc: ChatService, s: ChatSession) -> None:
    """Mail the chat to the address of the pre-chat form, once: never to an address
    typed later, so the widget cannot be used to send mail to strangers."""
    address = s.customer.get("email")
    if not address or svc.send_transcript is None or s.transcript_sent:
        await s.emit("error", {"code": "transcript_unavailable"}, numbered=False)
        return
    s.transcript_sent = True
    lines = [
        f"{dt.datetime.fromtimestamp(ln['at'], dt.UTC):%H:%M} "
        f"{ln.get('name') or ln['from']}: {ln['text']}"
        for ln in s.transcript
        if not ln.get("whisper")
    ]
    await svc.send_transcript(s, "\n".join(lines))
    await s.emit("transcript_sent", {"to": address})


async def leave_message(svc: ChatService, s: ChatSession, data: dict[str, Any]) -> None:
    text = data.get("text")
    if s.state not in _CAN_LEAVE_WORD or not isinstance(text, str) or not text.strip():
        return
    if svc.on_message is None:
        raise ValidationFailed("leaving a message is not available")
    c = s.customer
    number = await svc.on_message(
        c["name"], c.get("email"), c.get("phone"), text[:MAX_TEXT], s.customer_id
    )
    await left_word(svc, s, "message_left")
    await s.emit("message_left", {"case_number": number})
    await svc.finish(s, ask_survey=False)


async def callback(svc: ChatService, s: ChatSession, data: dict[str, Any]) -> None:
    phone = data.get("phone") or s.customer.get("phone")
    if s.state not in _CAN_LEAVE_WORD or not isinstance(phone, str) or not phone:
        await s.emit("error", {"code": "phone_required"}, numbered=False)
        return
    if svc.on_callback is None:
        raise ValidationFailed("callbacks are not available")
    try:
        number = await svc.on_callback(phone, s.customer["name"], s.customer_id, s.contact_id)
    except ValidationFailed as exc:
        await s.emit("error", {"code": "invalid_phone", "text": exc.message}, numbered=False)
        return
    await left_word(svc, s, "callback_requested")
    await s.emit("callback_scheduled", {"case_number": number})
    await svc.finish(s, ask_survey=False)


async def left_word(svc: ChatService, s: ChatSession, outcome: str) -> None:
    """The chat ends with a message or a callback request instead of an agent (the
    interaction may be over already, e.g. closed by the after-hours action)."""
    i = svc.cc.interactions.get(s.id)
    if i is not None and not i.is_terminal:
        i.attributes["outcome"] = outcome
        await svc.cc.customer_left(s.id, outcome)
