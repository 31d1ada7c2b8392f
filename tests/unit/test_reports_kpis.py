"""Contact KPIs on a small data set computed by hand, plus grouping and occupancy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ccserver.reports import kpis
from ccserver.reports.grouping import group_rows, period_bucket
from ccserver.reports.kpis import KpiSettings

# Monday 2026-03-02 09:00 UTC
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()
H = 3600.0
D = 86400.0


def contact(**kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "channel": "voice",
        "direction": "inbound",
        "queue": "sales",
        "agent_id": None,
        "customer_id": None,
        "queued_at": T0,
        "answered_at": None,
        "ended_at": None,
        "wait_s": 0,
        "talk_s": 0,
        "hold_s": 0,
        "wrap_s": 0,
        "outcome": "answered",
        "disposition": None,
        "fcr": None,
    }
    row.update(kw)
    return row


ROWS = [
    # answered within 20 s
    contact(wait_s=10, talk_s=100, hold_s=20, wrap_s=30, agent_id="a1", customer_id="c1"),
    contact(wait_s=20, talk_s=200, wrap_s=40, agent_id="a2", customer_id="c2"),
    # answered late
    contact(wait_s=40, talk_s=300, wrap_s=60, agent_id="a1", customer_id="c3", queue="support"),
    # abandoned after the short-abandon threshold, and one short abandon
    contact(outcome="abandoned_queue", wait_s=30, customer_id="c1", queued_at=T0 + 2 * D),
    contact(outcome="abandoned_queue", wait_s=3),
    contact(outcome="abandoned_ivr", wait_s=0),
    contact(outcome="self_service", channel="web"),
    contact(outcome="callback_requested", wait_s=50),
    # a chat answered on day 2 by c2 (repeat 1 day later -> c2's first contact is not FCR)
    contact(channel="chat", wait_s=5, talk_s=50, agent_id="a2", customer_id="c2", queued_at=T0 + D),
    # c3 comes back after 10 days: outside the 7-day window
    contact(wait_s=15, talk_s=10, agent_id="a1", customer_id="c3", queued_at=T0 + 10 * D),
    # our outbound follow-up call to c4 does not count as a repeat of c4's call
    contact(wait_s=0, talk_s=60, agent_id="a1", customer_id="c4", queued_at=T0 + 3 * H),
    contact(
        direction="outbound",
        channel="follow_up",
        wait_s=0,
        talk_s=30,
        agent_id="a1",
        customer_id="c4",
        queued_at=T0 + 5 * H,
    ),
]


def test_hand_computed_totals() -> None:
    k = kpis.contact_kpis(ROWS)
    assert k.contacts == 12
    # answered: rows 0,1,2,8,9,10,11 = 7; in SL (<= 20 s): 0,1,8,9,10,11 = 6
    assert (k.answered, k.answered_in_sl) == (7, 6)
    assert (k.abandoned, k.short_abandoned, k.abandoned_ivr) == (1, 1, 1)
    assert (k.self_service, k.callback_requested) == (1, 1)
    assert k.service_level == pytest.approx(6 / 8)
    assert k.abandon_rate == pytest.approx(1 / 8)
    assert k.asa_s == pytest.approx((10 + 20 + 40 + 5 + 15 + 0 + 0) / 7)
    handle = (100 + 20 + 30) + (200 + 40) + (300 + 60) + 50 + 10 + 60 + 30
    assert k.aht_s == pytest.approx(handle / 7)
    # FCR eligible: answered with a customer = 7. Not FCR: c1's call (abandoned repeat on
    # day 2 still is a repeat contact), c2's first call (chat next day). FCR: c3 x2, c2's chat,
    # c4's inbound call, c4's outbound call (nobody called after it).
    assert (k.fcr_eligible, k.fcr_resolved) == (7, 5)
    assert k.by_channel == {"voice": 9, "web": 1, "chat": 1, "follow_up": 1}


def test_thresholds_come_from_settings() -> None:
    strict = KpiSettings(service_level_s=10, short_abandon_s=0, fcr_window_days=20)
    k = kpis.contact_kpis(ROWS, strict)
    # in SL within 10 s: 10, 5, 0, 0 -> 4 of answered 7 + abandoned 2 (short one now counts)
    assert (k.answered_in_sl, k.abandoned, k.short_abandoned) == (4, 2, 0)
    assert k.service_level == pytest.approx(4 / 9)
    # with a 20-day window c3's first call has a repeat too
    assert k.fcr_resolved == 4


def test_fcr_by_matter_and_by_flag() -> None:
    rows = [
        contact(customer_id="c", matter="billing", queued_at=T0),
        contact(customer_id="c", matter="delivery", queued_at=T0 + H),
    ]
    assert kpis.contact_kpis(rows).fcr_resolved == 1
    assert kpis.contact_kpis(rows, KpiSettings(matter_field="matter")).fcr_resolved == 2
    flagged = [
        contact(fcr=True),
        contact(fcr=False),
        contact(fcr=None),
        contact(outcome="abandoned_queue", wait_s=60, fcr=True),
    ]
    k = kpis.contact_kpis(flagged, KpiSettings(use_fcr_flag=True))
    assert (k.fcr_eligible, k.fcr_resolved) == (2, 1)


def test_empty_input_gives_none_not_zero() -> None:
    k = kpis.contact_kpis([])
    assert k.contacts == 0
    assert (k.service_level, k.abandon_rate, k.asa_s, k.aht_s, k.fcr_rate) == (None,) * 5


def test_grouping_by_day_and_queue_and_fcr_across_groups() -> None:
    groups = kpis.contact_kpis_by(ROWS, ("day", "queue"))
    assert list(groups) == [
        ("2026-03-02", "sales"),
        ("2026-03-02", "support"),
        ("2026-03-03", "sales"),
        ("2026-03-04", "sales"),
        ("2026-03-12", "sales"),
    ]
    first = groups[("2026-03-02", "sales")]
    assert first.contacts == 8 and first.answered == 4
    # c1's call on day 1 is not FCR because of the day-3 repeat in another group
    assert (first.fcr_eligible, first.fcr_resolved) == (4, 2)
    total = kpis.contact_kpis(ROWS)
    summed = kpis.ContactKpis()
    for g in groups.values():
        summed = summed + g
    assert summed == total


def test_periods_week_month_timezone_and_objects() -> None:
    assert period_bucket(T0, "day") == "2026-03-02"
    assert period_bucket(T0, "week") == "2026-W10"
    assert period_bucket(T0, "month") == "2026-03"
    late = datetime(2026, 3, 31, 23, 30, tzinfo=UTC).timestamp()
    tokyo = timezone(timedelta(hours=9))
    assert period_bucket(late, "month") == "2026-03"
    assert period_bucket(late, "month", tokyo) == "2026-04"
    assert period_bucket(None, "day") is None
    with pytest.raises(ValueError):
        period_bucket(T0, "fortnight")

    @dataclass
    class Row:
        channel: str
        queued_at: datetime
        outcome: str = "answered"
        wait_s: float = 1

    rows = [Row("chat", datetime(2026, 3, 2, 10)), Row("email", datetime(2026, 3, 9, 10))]
    by_week = kpis.contact_kpis_by(rows, ("week", "channel"))
    assert list(by_week) == [("2026-W10", "chat"), ("2026-W11", "email")]
    grouped = group_rows([{"q": None}, {"q": "b"}, {"q": "a"}], ("q",), lambda r: None)
    assert list(grouped) == [("a",), ("b",), (None,)]


def test_occupancy_by_agent() -> None:
    states = [
        {"agent_id": "a1", "state": "ready", "duration_s": 600, "started_at": T0},
        {"agent_id": "a1", "state": "busy", "duration_s": 1500, "started_at": T0},
        {"agent_id": "a1", "state": "wrap_up", "duration_s": 300, "started_at": T0},
        {"agent_id": "a1", "state": "not_ready", "duration_s": 9999, "started_at": T0},
        {"agent_id": "a2", "state": "not_ready", "duration_s": 100, "started_at": T0},
    ]
    occ = kpis.occupancy_by(states)
    assert occ[("a1",)].occupancy == pytest.approx(1800 / 2400)
    assert occ[("a2",)].occupancy is None
    rows = kpis.report_rows(occ, ("agent_id",))
    assert rows[0] == {
        "agent_id": "a1",
        "handling_s": 1800.0,
        "ready_s": 600.0,
        "occupancy": pytest.approx(0.75),
    }


def test_report_rows_flatten_groups() -> None:
    rows = kpis.report_rows(kpis.contact_kpis_by(ROWS, ("queue",)), ("queue",))
    assert [r["queue"] for r in rows] == ["sales", "support"]
    assert rows[1]["contacts"] == 1 and rows[1]["service_level"] == 0.0
    assert rows[0]["contacts_chat"] == 1


def test_started_at_wins_over_queued_at_for_period() -> None:
    started = datetime(2026, 3, 1, 23, 59, 50, tzinfo=UTC)
    row = contact(started_at=started, queued_at=datetime(2026, 3, 2, 0, 0, 5, tzinfo=UTC))
    assert list(kpis.contact_kpis_by([row], ("day",))) == [("2026-03-01",)]
    assert kpis.contact_time(row) == started.timestamp()
