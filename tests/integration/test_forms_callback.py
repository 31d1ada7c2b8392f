"""A callback request from the web form waits for its window, is routed as an outbound
CALLBACK offer, and the agent's accept dials the customer through the Dialer protocol (a
fake here; the voice channel's dial_out in production). No answer is written on the
contact and retried per config; the retry is a new contact linked to the first."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import test_chat_harness as _h
from sqlalchemy import select
from test_chat_harness import TextApp, next_frame

from ccserver.app import SERVICES
from ccserver.crm.models import Contact
from ccserver.domain import Interaction

text_app = _h.text_app
pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class FakeDialer:
    outcomes: list[str]
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    available: bool = True

    async def dial_out(
        self, number: str, *, agent_id: str, endpoint: str | None, interaction: Interaction
    ) -> str:
        self.calls.append((number, agent_id, interaction.id))
        return self.outcomes.pop(0)


async def _wrap_up(api: Any, text_app: TextApp, iid: str) -> None:
    disposition = text_app.cc.dispositions[0] if text_app.cc.dispositions else None
    for _ in range(100):  # the dial runs in the background; wait for its hang-up
        if text_app.cc.get(iid).state.value == "wrap_up":
            break
        await asyncio.sleep(0.05)
    r, body = await api.post(
        f"/api/v1/interactions/{iid}/wrap-up", json={"disposition": disposition}
    )
    assert r.status == 200, body


async def test_callback_form_waits_for_its_window_dials_and_retries(text_app: TextApp) -> None:
    dialer = FakeDialer(["no_answer", "answered"])
    text_app.channels.callbacks.dialer = dialer
    api, uid, sub = await text_app.ready_agent("alice")
    anon = text_app.h.anonymous()
    start = time.time() + 1.0
    r, body = await anon.post(
        "/api/v1/forms/callback",
        json={"name": "Frank Phone", "phone": "(415) 555-0199",
              "window_start": f"{_iso(start)}", "note": "About my bill"},
    )  # fmt: skip
    assert r.status == 201, body
    first, case_number = body["interaction_id"], body["case_number"]
    assert text_app.cc.get(first).state.value == "new"  # scheduled, not yet routed

    offer = await next_frame(sub, "offer", interaction_id=first)
    assert time.time() >= start - 0.05  # not offered before the window opened
    assert offer["interaction"]["channel"] == "callback"
    assert offer["interaction"]["direction"] == "outbound"
    r, body = await api.post(f"/api/v1/interactions/{first}/accept")
    assert r.status == 200, body
    result = await next_frame(sub, "callback_result", interaction_id=first)
    assert result["result"] == "no_answer" and result["number"] == "+14155550199"
    await _wrap_up(api, text_app, first)

    retry = await next_frame(sub, "offer")  # retried after retry_delay_s (0.2 s in tests)
    second = retry["interaction"]["id"]
    assert second != first
    r, body = await api.post(f"/api/v1/interactions/{second}/accept")
    assert r.status == 200, body
    result = await next_frame(sub, "callback_result", interaction_id=second)
    assert result["result"] == "answered"
    assert [c[0] for c in dialer.calls] == ["+14155550199", "+14155550199"]
    assert all(c[1] == uid for c in dialer.calls)
    r, body = await api.post(f"/api/v1/interactions/{second}/control", json={"action": "hangup"})
    assert r.status == 200, body
    await _wrap_up(api, text_app, second)

    services = text_app.h.app[SERVICES]
    await services.require_outbox().flush()
    async with services.require_sessions()() as s:
        rows = (
            await s.execute(
                select(Contact.id, Contact.outcome, Contact.attributes, Contact.related_contact_id)
                .where(Contact.case_number == case_number)
                .order_by(Contact.started_at)
            )
        ).all()
    assert [r.outcome for r in rows] == ["callback_no_answer", "answered"]
    assert [r.attributes["callback_result"] for r in rows] == ["no_answer", "answered"]
    assert rows[1].related_contact_id == rows[0].id
    await sub.aclose()


async def test_a_window_that_ends_before_it_starts_is_refused(text_app: TextApp) -> None:
    anon = text_app.h.anonymous()
    now = time.time()
    r, body = await anon.post(
        "/api/v1/forms/callback",
        json={"name": "Gina", "phone": "+14155550111", "window_start": _iso(now + 3600),
              "window_end": _iso(now + 60)},
    )  # fmt: skip
    assert r.status == 422, body


def _iso(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()
