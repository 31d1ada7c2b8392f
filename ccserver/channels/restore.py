"""At start, take back the written work the last run left pending (``pending_work``).

Emails, web forms and callbacks a caller asked for in the IVR go back to their queue with
their original place in line (or wait for business hours, as they did); callbacks
requested for a time window are due again at their window start; replies
the relay had not taken are sent again. An item that cannot be taken back (its queue was
removed from the configuration, say) is logged with the reason and marked
``unrestorable`` so it is visible in the table instead of failing every start.
"""

from __future__ import annotations

from dataclasses import dataclass

from ccserver.channels.email.crm_sink import CrmEmailSink
from ccserver.channels.email.outbound import OutboundMailer
from ccserver.channels.forms.callbacks import CallbackService
from ccserver.channels.forms.parking import ParkedWork
from ccserver.domain import Channel
from ccserver.logs import get_logger
from ccserver.runtime.contact_center import ContactCenter

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Restored:
    interactions: int
    deliveries: int
    unrestorable: int


async def restore_pending_work(
    cc: ContactCenter,
    parking: ParkedWork,
    callbacks: CallbackService,
    sink: CrmEmailSink,
    mailer: OutboundMailer,
) -> Restored:
    interactions = unrestorable = 0
    for item in await cc.durable.pending():
        if item.id in cc.interactions:
            continue
        try:
            i = cc.revive(item.payload)
            if i.channel == Channel.CALLBACK and "window_start" in i.attributes:
                await callbacks.schedule(i)  # a requested window: due at its start again
            else:
                kwargs = dict(item.payload.get("enqueue") or {})
                kwargs.setdefault("arrived_at", i.timestamps.get("first_queued"))
                await parking.enqueue(i.id, str(item.payload["queue"]), **kwargs)
            interactions += 1
        except Exception as exc:
            cc.interactions.pop(item.id, None)
            log.error("pending work not taken back", item=item.id, error=repr(exc))
            if cc.durable.store is not None:
                await cc.durable.store.done(item.id, "unrestorable")
            unrestorable += 1
    deliveries = await sink.pending_deliveries()
    for d in deliveries:
        await mailer.restore(d)
    result = Restored(interactions, len(deliveries), unrestorable)
    if interactions or deliveries or unrestorable:
        log.info(
            "pending work taken back after a restart",
            interactions=interactions,
            deliveries=len(deliveries),
            unrestorable=unrestorable,
        )
    return result
