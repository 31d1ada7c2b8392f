"""Written work survives a restart: an email and a web form waiting for an agent, a callback
scheduled for later and an acknowledgement the relay refused are all there again after the
server stops and starts on the same database, the same interactions on the same contacts,
in their original place in line; an item that cannot come back is set aside, not retried
at every start. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiosmtplib
from sqlalchemy import select
from test_api_harness import start_harness
from test_chat_harness import TextApp, mail, next_frame, relay_server, text_settings

from ccserver.app import SERVICES
from ccserver.crm.models import Contact, PendingWork
from ccserver.domain import Channel, Direction, Interaction, new_id
from ccserver.runtime.pending_work import INTERACTION, snapshot


def _iso(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


async def _rows(app: TextApp) -> dict[str, PendingWork]:
    services = app.h.app[SERVICES]
    await services.require_outbox().flush()
    async with services.require_sessions()() as s:
        return {r.id: r for r in (await s.execute(select(PendingWork))).scalars()}


async def _wait(predicate: Any, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_waiting_work_comes_back_after_a_restart(tmp_path: Path, db_url: str) -> None:
    async with relay_server() as (relay, relay_port):
        # Retries far apart: the refused acknowledgement is still pending at the stop.
        settings = text_settings(tmp_path, relay_port, CCSERVER_DATABASE__URL=db_url)
        mail_toml = tmp_path / "config" / "email.toml"
        mail_toml.write_text(
            mail_toml.read_text().replace(
                "backoff_initial_seconds = 0.1", "backoff_initial_seconds = 600"
            )
        )
        relay.refusing = 1

        # --- first run: the agent holds the mail, everything else waits ---------------
        async for h in start_harness(settings):
            first = TextApp(h, relay)
            users = dict(h.user_ids)
            msg = mail(
                "Invoice twice", "You charged me twice.", "Ruth Restart <ruth@customer.example.com>"
            )
            port = first.channels.smtp_port
            assert port
            await aiosmtplib.send(msg, hostname="127.0.0.1", port=port, start_tls=False)
            await _wait(lambda: relay.refusing >= 2)  # the ack was tried and refused
            mail_iid = next(
                i.id for i in first.cc.interactions.values() if i.channel == Channel.EMAIL
            )
            waiting = first.cc.get(mail_iid)
            assert waiting.state.value == "queued"
            mail_contact, mail_queued = waiting.contact_id, waiting.timestamps["first_queued"]
            case_number = waiting.attributes["case_number"]
            # Alice takes the mail, then goes on a break: the rest waits.
            api, alice, sub = await first.ready_agent("alice")
            await next_frame(sub, "offer", interaction_id=mail_iid)
            r, body = await api.post(f"/api/v1/interactions/{mail_iid}/accept")
            assert r.status == 200, body
            r, body = await api.post(
                "/api/v1/console/state", json={"state": "not_ready", "reason": "break"}
            )
            assert r.status == 200, body
            await sub.aclose()

            anon = h.anonymous()
            r, form = await anon.post(
                "/api/v1/forms/contact",
                json={"name": "Fred Form", "email": "fred@example.com", "subject": "Refund",
                      "message": "Where is my refund?"},
            )  # fmt: skip
            assert r.status == 201, form
            window = time.time() + 3600
            r, callback = await anon.post(
                "/api/v1/forms/callback",
                json={"name": "Cathy Later", "phone": "+14155550123",
                      "window_start": _iso(window)},
            )  # fmt: skip
            assert r.status == 201, callback
            assert first.cc.get(callback["interaction_id"]).state.value == "new"

            # A caller who asked the IVR for a callback instead of waiting in billing.
            ivr_cb = await first.cc.new_interaction(
                Channel.CALLBACK,
                direction=Direction.OUTBOUND,
                attributes={"callback_number": "+14155550188", "caller_id": "+14155550188"},
            )
            await first.cc.enqueue(ivr_cb.id, "billing", priority=2)

            # Work whose queue is gone from the configuration by the next start.
            lost = Interaction(id=new_id(), channel=Channel.EMAIL, contact_id=new_id())
            store = first.cc.durable.store
            assert store is not None
            await store.keep(INTERACTION, lost.id, {**snapshot(lost), "queue": "no-such-queue"})

            rows = await _rows(first)
            pending = {k for k, v in rows.items() if v.state == "pending"}
            assert {mail_iid, form["interaction_id"], callback["interaction_id"]} <= pending
            assert any(v.kind == "email_delivery" for k, v in rows.items() if k in pending)
            # Taken by alice before the stop: it goes back to her first.
            assert rows[mail_iid].payload["enqueue"]["preferred_agent_id"] == alice
        relay.refusing = 0

        # --- second run on the same database and data directory ------------------------
        async for h in start_harness(settings, existing_users=users):
            second = TextApp(h, relay)
            # The acknowledgement is sent again at start, not after the old 10-minute back-off.
            ack = await relay.wait_for(lambda m: m["Auto-Submitted"] == "auto-replied")
            assert f"[#{case_number}]" in ack["Subject"]

            waiting = second.cc.get(mail_iid)  # alice's work did not end: it is back in line
            assert waiting.state.value == "queued" and waiting.queue == "general"
            assert waiting.contact_id == mail_contact
            assert waiting.timestamps["first_queued"] == mail_queued  # its place in line
            assert waiting.attributes["restarts"] == 1
            assert second.cc.get(form["interaction_id"]).state.value == "queued"
            cb = second.cc.get(callback["interaction_id"])
            assert cb.state.value == "new"  # still waiting for its window
            assert abs(float(cb.attributes["window_start"]) - window) < 1.0
            assert lost.id not in second.cc.interactions
            back = second.cc.get(ivr_cb.id)  # in its own queue, not the callback form's
            assert (back.state.value, back.queue, back.priority) == ("queued", "billing", 2)

            rows = await _rows(second)
            assert rows[lost.id].state == "unrestorable"
            delivery = next(v for v in rows.values() if v.kind == "email_delivery")

            # An agent logs in: the oldest waiting work (the mail) is offered and handled.
            api, _uid, sub = await second.ready_agent("alice")
            offer = await next_frame(sub, "offer", interaction_id=mail_iid)
            assert offer["interaction"]["channel"] == "email"
            r, body = await api.post(f"/api/v1/interactions/{mail_iid}/accept")
            assert r.status == 200, body
            r, body = await api.post(f"/api/v1/interactions/{mail_iid}/control",
                                     json={"action": "hangup"})  # fmt: skip
            assert r.status == 200, body
            disposition = second.cc.dispositions[0] if second.cc.dispositions else None
            r, body = await api.post(
                f"/api/v1/interactions/{mail_iid}/wrap-up", json={"disposition": disposition}
            )
            assert r.status == 200, body
            await sub.aclose()

            rows = await _rows(second)
            assert rows[mail_iid].state == "done"
            assert rows[delivery.id].state == "sent"
            assert rows[callback["interaction_id"]].state == "pending"
            async with h.app[SERVICES].require_sessions()() as s:
                contacts = (
                    (await s.execute(select(Contact).where(Contact.interaction_id == mail_iid)))
                    .scalars()
                    .all()
                )
            assert [c.id for c in contacts] == [mail_contact]  # the same contact, not a copy
            assert contacts[0].answered_at is not None and contacts[0].agent_id == _uid
