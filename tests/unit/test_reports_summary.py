"""The combined KPI table: all sources side by side per group, complaint rate, segments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from ccserver.reports.export import to_csv
from ccserver.reports.summary import kpi_summary, tag_rows

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()
D = 86400.0

CONTACTS = [
    {
        "channel": "voice",
        "customer_id": "c1",
        "outcome": "answered",
        "wait_s": 5,
        "talk_s": 100,
        "queued_at": T0,
    },
    {
        "channel": "voice",
        "customer_id": "c2",
        "outcome": "answered",
        "wait_s": 50,
        "talk_s": 200,
        "queued_at": T0,
    },
    {
        "channel": "chat",
        "customer_id": "c3",
        "outcome": "abandoned_queue",
        "wait_s": 60,
        "queued_at": T0,
    },
    {
        "channel": "voice",
        "customer_id": "c1",
        "outcome": "answered",
        "wait_s": 1,
        "talk_s": 10,
        "queued_at": T0 + D,
    },
]
COMPLAINTS = [
    {
        "customer_id": "c1",
        "received_at": T0,
        "sla_due_at": T0 + D,
        "first_resolved_at": T0 + 100,
        "validity": "basically_true",
    },
]
FOLLOWUPS = [
    {"customer_id": "c1", "status": "done", "scheduled_at": T0 + D},
    {"customer_id": "c9", "status": "planned", "scheduled_at": T0 + 5 * D},
]
SURVEYS = [{"customer_id": "c2", "csat": 2, "nps": 4, "responded_at": T0}]


def test_summary_by_day() -> None:
    rows = kpi_summary(
        ("day",), contacts=CONTACTS, complaints=COMPLAINTS, followups=FOLLOWUPS, surveys=SURVEYS
    )
    assert [r["day"] for r in rows] == ["2026-03-02", "2026-03-03", "2026-03-07"]
    first, second, third = rows
    assert first["contacts"] == 3 and first["complaints"] == 1
    assert first["complaint_rate"] == pytest.approx(1 / 3)
    assert first["service_level"] == pytest.approx(1 / 3)
    assert first["nps"] == -100.0 and first["csat_percent"] == 0.0
    assert first["sla_compliance"] == 1.0 and first["validity_basically_true"] == 1.0
    assert first["followups"] == 0 and first["completion_rate"] is None
    assert second["followups"] == 1 and second["completion_rate"] == 1.0
    assert second["complaint_rate"] == 0.0
    # a group with follow-ups only: no contacts, so no complaint rate
    assert third["contacts"] == 0 and third["complaint_rate"] is None
    assert to_csv(rows).count(b"\r\n") == 4


def test_summary_by_segment_via_tagging() -> None:
    @dataclass
    class Contact:
        customer_id: str
        channel: str
        outcome: str
        wait_s: float
        queued_at: float

    tiers = {"c1": "vip", "c2": "regular"}
    contacts = tag_rows(
        [
            Contact("c1", "voice", "answered", 3, T0),
            Contact("c2", "voice", "answered", 30, T0),
            Contact("c3", "chat", "answered", 1, T0),
        ],
        "segment",
        tiers,
    )
    surveys = tag_rows(SURVEYS, "segment", tiers)
    assert contacts[0] == {
        "customer_id": "c1",
        "channel": "voice",
        "outcome": "answered",
        "wait_s": 3,
        "queued_at": T0,
        "segment": "vip",
    }
    rows = kpi_summary(("segment",), contacts=contacts, surveys=surveys)
    assert [(r["segment"], r["contacts"], r["responses"]) for r in rows] == [
        ("regular", 1, 1),
        ("vip", 1, 0),
        (None, 1, 0),
    ]
    assert rows[0]["service_level"] == 0.0 and rows[1]["service_level"] == 1.0
