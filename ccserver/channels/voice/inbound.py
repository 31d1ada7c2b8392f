"""An inbound call from AsyncAGIStart to the agent: interaction, caller ID lookup, the IVR
over AsyncAGI, then the queue (music on hold, position / wait announcements, callback offer).

One task per call runs :func:`run_inbound`. Any :class:`CallGone` means the caller left
(hangup or AsyncAGI ended because the agent's leg bridged it): the task just stops; the
channel's Hangup event closes the interaction (``VoiceChannel._caller_gone``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import phonenumbers

from ccserver.channels.voice.calls import Call, Phase
from ccserver.channels.voice.errors import AgiLinkLost, CallGone
from ccserver.channels.voice.ivr_driver import AgiCommand, VoiceIvrDriver, parse_agi_result
from ccserver.channels.voice.voicemail import take_voicemail
from ccserver.domain import Channel, Direction
from ccserver.errors import NotFound
from ccserver.logs import get_logger
from ivr import actions as a
from ivr.session import IvrSession

if TYPE_CHECKING:
    from ccserver.channels.voice.channel import VoiceChannel

log = get_logger(__name__)


def e164(raw: str, region: str) -> str:
    """Caller ID as E.164 when it parses (``+15551230000``); the raw digits otherwise."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return raw
    if not phonenumbers.is_possible_number(number):
        return raw
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


async def run_inbound(vc: VoiceChannel, call: Call) -> None:
    try:
        await _inbound(vc, call)
    except AgiLinkLost as lost:
        await _after_link_loss(vc, call, lost.at)
    except (CallGone, NotFound):
        pass  # the caller left: the Hangup / AsyncAGIEnd handler owns what happens next
    except Exception:
        log.exception("inbound call failed", channel=call.channel)
        await vc.safe_hangup(call.channel)


async def _inbound(vc: VoiceChannel, call: Call) -> None:
    cc = vc.cc
    attributes: dict[str, Any] = {
        "caller_id": call.caller_id,
        "channel": call.channel,
        "uniqueid": call.uniqueid,
    }
    i = await cc.new_interaction(Channel.VOICE, direction=Direction.INBOUND, attributes=attributes)
    call.interaction_id = i.id
    vc.by_interaction[i.id] = call
    if call.gone.is_set():  # hung up while we were creating it
        await vc.caller_gone(call)
        return
    customer = await vc.lookups.resolve("customer_by_phone", call.caller_id)
    if customer is not None:
        i.customer_id = str(customer["id"])
    await cc.start_self_service(i.id)
    flow = vc.flows.get(vc.flow_name)
    session = IvrSession(
        flow,
        "voice",
        cc.clock(),
        caller_id=call.caller_id,
        variables={f"customer.{k}": v for k, v in (customer or {}).items()},
        queue_open=vc.queue_open,
    )
    driver = VoiceIvrDriver(session)
    call.attributes["driver"] = driver
    route = await _run_ivr(vc, call, driver)
    i.attributes.update(_ivr_fields(session))
    if route is None:
        return
    if isinstance(route, a.Route):
        await _to_queue(vc, call, route, customer)
    elif isinstance(route, a.OfferCallback):
        await vc.request_callback(call, route.queue, route.number or call.caller_id)
    elif isinstance(route, a.Transfer):
        await vc.transfer_caller_to_number(call, route.number)
    elif isinstance(route, a.Voicemail):
        await take_voicemail(vc, call, i, route)


def _ivr_fields(session: IvrSession) -> dict[str, Any]:
    fields = session.contact_fields()
    return {k: v for k, v in fields.items() if k != "outcome" or v is not None}


async def _run_ivr(vc: VoiceChannel, call: Call, driver: VoiceIvrDriver) -> a.IvrAction | None:
    """Drive the IVR to its terminal action (None: it hung up / the caller left)."""
    cc = vc.cc
    i = cc.get(call.interaction_id or "")
    terminal: a.IvrAction | None = None
    driver.start(cc.clock())
    while (step := driver.next_step()) is not None:
        if isinstance(step, AgiCommand):
            if step.kind == "hangup":
                await _ivr_hangs_up(vc, call, driver)
            result = await vc.agi.run(call.channel, step.text)
            driver.on_result(result, cc.clock())
        elif isinstance(step, a.Lookup):
            driver.lookup_result(await vc.lookups.resolve(step.kind, step.key), cc.clock())
        elif isinstance(step, a.SetAttribute):
            if step.name == "customer_id" and step.value:
                i.customer_id = str(step.value)
            elif step.name not in ("skills", "priority", "queue"):
                i.attributes[step.name] = step.value
        elif isinstance(step, a.Route | a.OfferCallback | a.Voicemail | a.Transfer):
            terminal = step
        elif isinstance(step, a.SurveyResult):
            i.attributes["survey"] = dict(step.scores)
    return terminal


async def _ivr_hangs_up(vc: VoiceChannel, call: Call, driver: VoiceIvrDriver) -> None:
    """The flow ends the call (goodbye after self-service, loop guard): close the interaction
    with the IVR's outcome *before* the HANGUP, so the Hangup event finds nothing to abandon."""
    session = driver.session
    i = vc.cc.get(call.interaction_id or "")
    i.attributes.update(_ivr_fields(session))
    call.closed = True
    if session.contact_fields().get("outcome") == "self_service":
        await vc.cc.resolved_in_self_service(i.id, "self_service")
    else:
        await vc.cc.customer_left(i.id, "ivr_hangup")


async def _to_queue(
    vc: VoiceChannel, call: Call, route: a.Route, customer: dict[str, Any] | None
) -> None:
    cc = vc.cc
    iid = call.interaction_id or ""
    i = cc.get(iid)
    i.attributes.update({k: v for k, v in route.attributes.items() if k != "skills"})
    if route.reason:
        i.attributes["reason"] = route.reason
    if route.queue in cc.routing.config.queues:
        stats = cc.routing.queue_stats(route.queue, cc.clock())
        i.attributes["ewt_at_arrival"] = stats.ewt_new_arrival
    call.phase = Phase.QUEUED
    # Music first: the agent may be found at once, and then the bridge replaces it.
    with contextlib.suppress(CallGone):
        await vc.agi.run(call.channel, "EXEC StartMusicOnHold default")
    await cc.enqueue(
        iid,
        route.queue,
        priority=route.priority,
        skills=dict(route.skills),
        customer_tier=(customer or {}).get("tier"),
    )
    await hold_loop(vc, call)


async def hold_loop(vc: VoiceChannel, call: Call) -> None:
    """While the caller waits: play each announcement the routing engine asks for, then
    offer a callback when the wait is long. Ends when the caller leaves AsyncAGI."""
    call.hold_generation += 1
    generation = call.hold_generation
    while call.phase == Phase.QUEUED and call.in_agi and not call.gone.is_set():
        item = asyncio.ensure_future(call.pending_announcements.get())
        gone = asyncio.ensure_future(call.gone.wait())
        try:
            await asyncio.wait({item, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not item.done():
                item.cancel()
        if not item.done() or item.cancelled():
            return
        if call.phase != Phase.QUEUED:
            return
        if generation != call.hold_generation:
            call.pending_announcements.put_nowait(item.result())  # for the loop in charge
            return
        position, ewt = item.result()
        await _announce(vc, call, position, ewt)


async def _announce(vc: VoiceChannel, call: Call, position: int, ewt: float) -> None:
    lang = str(vc.cc.get(call.interaction_id or "").attributes.get("language") or "en")
    run = vc.agi.run
    await run(call.channel, f'STREAM FILE {lang}/queue-position ""')
    await run(call.channel, f'SAY NUMBER {position} ""')
    minutes = max(1, round(ewt / 60)) if ewt > 0 else 0
    if minutes:
        await run(call.channel, f'STREAM FILE {lang}/queue-wait-minutes ""')
        await run(call.channel, f'SAY NUMBER {minutes} ""')
    call.announcements.append((position, ewt))
    if ewt >= vc.callback_offer_after_s and call.phase == Phase.QUEUED:
        answer = parse_agi_result(await run(call.channel, f'STREAM FILE {lang}/queue-callback "1"'))
        if answer.ok and answer.result == str(ord("1")) and call.phase == Phase.QUEUED:
            queue = vc.cc.get(call.interaction_id or "").queue or "general"
            await vc.request_callback(call, queue, call.caller_id)
            return
    if call.phase == Phase.QUEUED:
        await run(call.channel, "EXEC StartMusicOnHold default")


async def _after_link_loss(vc: VoiceChannel, call: Call, lost_at: float) -> None:
    """The AMI link dropped under a running IVR or queue loop. Once reconnected and
    reconciled, a caller who is still there is served on: the IVR cannot resume mid-menu,
    so a caller cut in the IVR is queued in ``vc.fallback_queue``; a queued caller gets
    music and announcements again. (A vanished caller was closed by the reconciliation.)"""
    for _ in range(600):  # up to a minute for the link to come back and be reconciled
        if call.gone.is_set() or vc.resynced_at >= lost_at:
            break
        await asyncio.sleep(0.1)
    if call.gone.is_set() or call.interaction_id is None or vc.resynced_at < lost_at:
        return
    try:
        if call.phase == Phase.IVR:
            i = vc.cc.get(call.interaction_id)
            driver = call.attributes.get("driver")
            if isinstance(driver, VoiceIvrDriver):
                i.attributes.update(_ivr_fields(driver.session))
            i.attributes["ivr_interrupted"] = True
            await _to_queue(vc, call, a.Route(queue=vc.fallback_queue), None)
        elif call.phase == Phase.QUEUED:
            with contextlib.suppress(CallGone):
                await vc.agi.run(call.channel, "EXEC StartMusicOnHold default")
            await hold_loop(vc, call)
    except (CallGone, NotFound):
        pass  # gone during the outage: the reconciliation closed it (caller_gone)
