"""KPI invariants over generated rows (Hypothesis)."""

from __future__ import annotations

from functools import reduce
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ccserver.reports import crm_kpis as ck
from ccserver.reports import kpis
from ccserver.reports.kpis import ContactKpis, KpiSettings

T0 = 1_772_000_000.0
OUTCOMES = [
    "answered",
    "abandoned_queue",
    "abandoned_ivr",
    "self_service",
    "callback_requested",
    "voicemail",
]

contact_rows = st.lists(
    st.fixed_dictionaries(
        {
            "channel": st.sampled_from(["voice", "chat", "email"]),
            "direction": st.sampled_from(["inbound", "outbound"]),
            "queue": st.sampled_from(["q1", "q2", None]),
            "agent_id": st.sampled_from(["a1", "a2", None]),
            "customer_id": st.sampled_from(["c1", "c2", "c3", None]),
            "queued_at": st.one_of(st.none(), st.floats(T0, T0 + 90 * 86400)),
            "wait_s": st.floats(0, 600),
            "talk_s": st.floats(0, 3600),
            "hold_s": st.one_of(st.none(), st.floats(0, 600)),
            "wrap_s": st.floats(0, 600),
            "outcome": st.sampled_from(OUTCOMES),
        }
    ),
    max_size=60,
)
kpi_settings = st.builds(
    KpiSettings,
    service_level_s=st.floats(1, 120),
    short_abandon_s=st.floats(0, 30),
    fcr_window_days=st.floats(0.01, 30),
)
dims = st.lists(
    st.sampled_from(["day", "week", "month", "queue", "agent_id", "channel"]),
    max_size=3,
    unique=True,
)


def _sum(groups: dict[Any, ContactKpis]) -> ContactKpis:
    return reduce(lambda a, b: a + b, groups.values(), ContactKpis())


@settings(max_examples=100, deadline=None)
@given(contact_rows, kpi_settings)
def test_ratios_bounded(rows: list[dict[str, Any]], s: KpiSettings) -> None:
    k = kpis.contact_kpis(rows, s)
    for ratio in (k.service_level, k.abandon_rate, k.fcr_rate):
        assert ratio is None or 0.0 <= ratio <= 1.0
    if k.service_level is not None and k.abandon_rate is not None:
        assert k.service_level + k.abandon_rate <= 1.0 + 1e-12
    answered_waits = [r["wait_s"] for r in rows if r["outcome"] == "answered"]
    if answered_waits:
        assert k.asa_s is not None
        assert min(answered_waits) - 1e-6 <= k.asa_s <= max(answered_waits) + 1e-6
    else:
        assert k.asa_s is None and k.aht_s is None
    assert (
        k.answered
        + k.abandoned
        + k.short_abandoned
        + k.abandoned_ivr
        + k.self_service
        + (k.callback_requested)
        <= k.contacts
        == len(rows)
        == sum(k.by_channel.values())
    )


@settings(max_examples=100, deadline=None)
@given(contact_rows, kpi_settings, dims)
def test_group_sums_equal_totals(rows: list[dict[str, Any]], s: KpiSettings, by: list[str]) -> None:
    total = kpis.contact_kpis(rows, s)
    summed = _sum(kpis.contact_kpis_by(rows, by, s))
    for name in (
        "contacts",
        "answered",
        "answered_in_sl",
        "abandoned",
        "short_abandoned",
        "fcr_eligible",
        "fcr_resolved",
        "by_channel",
    ):
        assert getattr(summed, name) == getattr(total, name)
    assert abs(summed.wait_answered_s - total.wait_answered_s) < 1e-6 * (1 + total.wait_answered_s)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "csat": st.one_of(st.none(), st.integers(1, 5)),
                "nps": st.one_of(st.none(), st.integers(0, 10)),
                "ces": st.one_of(st.none(), st.integers(1, 7)),
                "agent_id": st.sampled_from(["a1", "a2"]),
                "responded_at": st.floats(T0, T0 + 60 * 86400),
            }
        ),
        max_size=50,
    ),
    dims,
)
def test_survey_kpis_bounded_and_additive(rows: list[dict[str, Any]], by: list[str]) -> None:
    (total,) = ck.survey_kpis_by(rows).values() or [ck.SurveyKpis()]
    assert total.nps is None or -100.0 <= total.nps <= 100.0
    assert total.csat_percent is None or 0.0 <= total.csat_percent <= 1.0
    assert total.csat_mean is None or 1.0 <= total.csat_mean <= 5.0
    summed = reduce(lambda a, b: a + b, ck.survey_kpis_by(rows, by).values(), ck.SurveyKpis())
    assert summed == total


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "received_at": st.floats(T0, T0 + 30 * 86400),
                "sla_due_at": st.floats(T0, T0 + 40 * 86400),
                "first_resolved_at": st.one_of(
                    st.none(), st.floats(T0 + 30 * 86400, T0 + 50 * 86400)
                ),
                "validity": st.sampled_from([None, "misunderstanding", "basically_true"]),
                "severity": st.sampled_from(["high", "low"]),
            }
        ),
        max_size=40,
    ),
    dims,
)
def test_complaint_kpis_bounded_and_additive(rows: list[dict[str, Any]], by: list[str]) -> None:
    now = T0 + 45 * 86400
    (total,) = ck.complaint_kpis_by(rows, (), now).values() or [ck.ComplaintKpis()]
    assert total.sla_compliance is None or 0.0 <= total.sla_compliance <= 1.0
    shares = total.validity_shares
    assert not shares or abs(sum(shares.values()) - 1.0) < 1e-9
    groups = ck.complaint_kpis_by(rows, by, now)
    summed = reduce(lambda a, b: a + b, groups.values(), ck.ComplaintKpis())
    assert (summed.complaints, summed.sla_met, summed.sla_breached, summed.validity) == (
        total.complaints,
        total.sla_met,
        total.sla_breached,
        total.validity,
    )
