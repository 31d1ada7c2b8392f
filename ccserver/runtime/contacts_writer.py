"""Every interaction is written as a contact row through the durable outbox.

The row is inserted when the interaction starts (so even a call abandoned in the IVR is
there) and upserted at each milestone with the columns known by then; the outbox keeps the
order, so the final state wins even after a database outage.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ccserver.crm.outbox import Outbox
from ccserver.domain import Interaction


def _ts(value: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, dt.UTC) if value is not None else None


def contact_row(i: Interaction) -> dict[str, Any]:
    t = i.timestamps
    started = t.get("new", t.get("created", 0.0))
    queued = t.get("first_queued")
    answered = t.get("first_connected")
    ended = t.get("wrap_up") or t.get("abandoned") or t.get("completed")
    row: dict[str, Any] = {
        "id": i.contact_id,
        "interaction_id": i.id,
        "customer_id": i.customer_id,
        "channel": i.channel.value,
        "direction": i.direction.value,
        "queue": i.queue,
        "agent_id": i.agent_id,
        "started_at": _ts(started),
        "queued_at": _ts(queued),
        "answered_at": _ts(answered),
        "ended_at": _ts(ended),
        "wrap_up_end_at": _ts(t.get("completed")) if answered else None,
        "outcome": i.attributes.get("outcome"),
        "disposition": i.disposition,
        "notes": i.attributes.get("notes"),
        "fcr": i.attributes.get("fcr"),
        "recording_ref": i.attributes.get("recording_ref"),
        "ivr_path": i.attributes.get("ivr_path", []),
        "attributes": {
            k: v
            for k, v in i.attributes.items()
            if k not in ("ivr_path", "notes", "outcome", "fcr", "recording_ref")
        },
        "related_contact_id": i.attributes.get("related_contact_id"),
        "case_number": i.attributes.get("case_number"),
    }
    if queued is not None:
        row["wait_s"] = round((answered or ended or queued) - queued, 3)
    if answered is not None:
        talk_end = t.get("wrap_up") or ended or answered
        row["hold_s"] = round(float(i.attributes.get("hold_s", 0.0)), 3)
        row["talk_s"] = round(talk_end - answered - row["hold_s"], 3)
        if t.get("completed") and t.get("wrap_up"):
            row["wrap_s"] = round(t["completed"] - t["wrap_up"], 3)
    return row


class ContactsWriter:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def started(self, i: Interaction) -> None:
        await self.outbox.put("contact.insert", contact_row(i))

    async def updated(self, i: Interaction) -> None:
        await self.outbox.put("contact.update", contact_row(i))
