"""Complaint, follow-up and survey KPIs on hand-computed sets, fed from the rule objects too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ccserver.crm.rules import complaint_lifecycle as cl
from ccserver.crm.rules import followup_lifecycle as fl
from ccserver.crm.rules.complaint_taxonomy import ComplaintTaxonomy
from ccserver.crm.rules.surveys import CsiConfig
from ccserver.reports import crm_kpis as ck

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()
H = 3600.0
D = 86400.0


def complaint(
    received: float,
    due_h: float,
    resolved_h: float | None,
    validity: str | None,
    severity: str = "high",
) -> dict[str, Any]:
    return {
        "received_at": received,
        "sla_due_at": received + due_h * H,
        "first_resolved_at": None if resolved_h is None else received + resolved_h * H,
        "validity": validity,
        "severity": severity,
    }


COMPLAINTS = [
    complaint(T0, 24, 10, "basically_true"),  # met, 10 h
    complaint(T0, 24, 30, "misunderstanding"),  # breached, 30 h
    complaint(T0 + D, 4, 2, "basically_true", "critical"),  # met, 2 h
    complaint(T0 + D, 4, None, None, "critical"),  # open, breached at now
    complaint(T0 + 3 * D, 72, None, "exceeds_facts"),  # open, not yet due
]
NOW = T0 + 4 * D


def test_complaint_kpis_by_hand() -> None:
    (k,) = ck.complaint_kpis_by(COMPLAINTS, (), NOW).values()
    assert (k.complaints, k.resolved) == (5, 3)
    assert k.mean_resolution_h == pytest.approx((10 + 30 + 2) / 3)
    assert (k.sla_met, k.sla_breached) == (2, 2)
    assert k.sla_compliance == 0.5
    assert k.validity_shares == {
        "basically_true": 0.5,
        "exceeds_facts": 0.25,
        "misunderstanding": 0.25,
    }
    # without "now" the open complaint past due is not judged
    (k2,) = ck.complaint_kpis_by(COMPLAINTS).values()
    assert (k2.sla_met, k2.sla_breached) == (2, 1)


def test_complaint_kpis_by_severity_add_up() -> None:
    groups = ck.complaint_kpis_by(COMPLAINTS, ("severity",), NOW)
    assert groups[("critical",)].sla_compliance == 0.5
    assert groups[("high",)].mean_resolution_h == pytest.approx(20.0)
    total = groups[("critical",)] + groups[("high",)]
    assert total == next(iter(ck.complaint_kpis_by(COMPLAINTS, (), NOW).values()))
    assert total.as_row()["validity_basically_true"] == 0.5


def test_complaint_rate() -> None:
    assert ck.complaint_rate(5, 200) == 0.025
    assert ck.complaint_rate(1, 0) is None


def test_kpis_read_rule_objects_directly() -> None:
    tax = ComplaintTaxonomy()
    c = cl.open_complaint(
        tax,
        id="x",
        customer_id="c",
        category="service",
        subcategory="attitude",
        severity="critical",
        owner="a",
        now=T0,
    )
    cl.acknowledge(c, "a", T0)
    cl.start_investigation(c, "a", T0)
    cl.assess_validity(c, "more_serious_than_reported", tax, "a", T0)
    cl.resolve(c, "apologised", "a", T0 + 3 * H)
    (k,) = ck.complaint_kpis_by([c]).values()
    assert k.sla_met == 1 and k.mean_resolution_h == pytest.approx(3.0)
    assert k.validity == {"more_serious_than_reported": 1}

    done = fl.FollowUp("f", "c", "p", fl.FollowUpChannel.PHONE, T0)
    fl.start(done, T0)
    fl.complete(done, "ok", T0)
    planned = fl.FollowUp("g", "c", "p", fl.FollowUpChannel.PHONE, T0)
    (fk,) = ck.followup_kpis_by([done, planned]).values()
    assert (fk.done, fk.completion_rate) == (1, 0.5)


def test_followup_completion_by_hand() -> None:
    rows = [
        {"status": s, "scheduled_at": T0}
        for s in ("done", "done", "done", "unreachable", "planned", "cancelled", "cancelled")
    ]
    (k,) = ck.followup_kpis_by(rows).values()
    assert (k.followups, k.done, k.unreachable, k.cancelled) == (7, 3, 1, 2)
    assert k.completion_rate == pytest.approx(3 / 5)
    only_cancelled = ck.followup_kpis_by([{"status": "cancelled", "scheduled_at": T0}])
    assert next(iter(only_cancelled.values())).completion_rate is None


SURVEYS = [
    {
        "csat": 5,
        "nps": 10,
        "ces": 2,
        "agent_id": "a1",
        "ratings": {"speed": 5, "courtesy": 4},
        "responded_at": T0,
    },
    {
        "csat": 4,
        "nps": 8,
        "ces": None,
        "agent_id": "a1",
        "ratings": {"speed": 3},
        "responded_at": T0,
    },
    {"csat": 2, "nps": 3, "ces": 6, "agent_id": "a2", "ratings": {}, "responded_at": T0 + D},
    {"csat": None, "nps": 9, "ces": 1, "agent_id": "a2", "responded_at": T0 + D},
]


def test_survey_kpis_by_hand() -> None:
    (k,) = ck.survey_kpis_by(SURVEYS).values()
    assert k.responses == 4
    assert k.csat_percent == pytest.approx(2 / 3)
    assert k.csat_mean == pytest.approx(11 / 3)
    assert k.nps == pytest.approx(100 * (2 - 1) / 4)
    assert k.ces_mean == pytest.approx(3.0)
    # speed mean 4 -> 75; courtesy mean 4 -> 75; weights 1:1 -> 75
    assert k.csi(CsiConfig({"speed": 1, "courtesy": 1})) == pytest.approx(75.0)
    # an attribute no one rated drops out and the weights renormalise
    assert k.csi(CsiConfig({"speed": 1, "knowledge": 9})) == pytest.approx(75.0)


def test_survey_kpis_by_agent_and_day() -> None:
    groups = ck.survey_kpis_by(SURVEYS, ("agent_id",))
    assert groups[("a1",)].nps == 50.0 and groups[("a2",)].nps == 0.0
    by_day = ck.survey_kpis_by(SURVEYS, ("day",))
    assert list(by_day) == [("2026-03-02",), ("2026-03-03",)]
    row = by_day[("2026-03-03",)].as_row()
    assert row["csat_percent"] == 0.0 and row["csi"] is None


def test_store_shaped_rows_use_created_at_and_window_start() -> None:
    created = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
    complaints = [
        {
            "created_at": created,
            "sla_due_at": datetime(2026, 3, 6, tzinfo=UTC),
            "resolved_at": datetime(2026, 3, 5, 12, 0, tzinfo=UTC),
            "status": "resolved",
        }
    ]
    groups = ck.complaint_kpis_by(complaints, ("day",))
    assert list(groups) == [("2026-03-05",)]
    k = groups[("2026-03-05",)]
    assert k.mean_resolution_h == pytest.approx(4.0) and k.sla_met == 1
    followups = [
        {
            "status": "done",
            "window_start": datetime(2026, 3, 7, 9, tzinfo=UTC),
            "created_at": created,
        },
        {"status": "planned", "window_start": None, "created_at": created},
    ]
    assert list(ck.followup_kpis_by(followups, ("day",))) == [("2026-03-05",), ("2026-03-07",)]
