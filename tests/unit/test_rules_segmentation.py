"""RFM quintiles, lifecycle stage, CLV and tier rules on small hand-made order sets."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccserver.crm.rules import segmentation as sg
from ccserver.crm.rules.segmentation import SegmentationConfig, TierRule
from ccserver.errors import ConfigError

NOW = 1_750_000_000.0
DAY = 86400.0


def order(cid: str, days_ago: float, amount: float, status: str = "delivered") -> dict[str, object]:
    return {
        "customer_id": cid,
        "ordered_at": NOW - days_ago * DAY,
        "total": amount,
        "status": status,
    }


def test_quintiles_distinct_ties_and_single() -> None:
    values = {k: float(i) for i, k in enumerate("abcde")}
    assert sg.quintile_scores(values) == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    assert sg.quintile_scores(values, higher_is_better=False) == {
        "a": 5,
        "b": 4,
        "c": 3,
        "d": 2,
        "e": 1,
    }
    assert sg.quintile_scores({"x": 7.0}) == {"x": 3}
    assert sg.quintile_scores({"x": 1.0, "y": 1.0, "z": 1.0}) == {"x": 3, "y": 3, "z": 3}
    ten = sg.quintile_scores({str(i): float(i) for i in range(10)})
    assert [ten[str(i)] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert sg.quintile_scores({}) == {}


@given(st.dictionaries(st.text(max_size=3), st.floats(-1e6, 1e6), max_size=40))
def test_quintiles_in_range_and_monotone(values: dict[str, float]) -> None:
    scores = sg.quintile_scores(values)
    assert all(1 <= s <= 5 for s in scores.values())
    for a in values:
        for b in values:
            if values[a] < values[b]:
                assert scores[a] <= scores[b]
            if values[a] == values[b]:
                assert scores[a] == scores[b]


@pytest.mark.parametrize(
    ("recency", "first", "stage"),
    [
        (None, None, "prospect"),
        (400, 800, "churned"),
        (200, 800, "lapsing"),
        (10, 60, "new"),
        (10, 400, "active"),
        (180, 180, "active"),
        (365, 900, "lapsing"),
    ],
)
def test_lifecycle_stage(recency: float | None, first: float | None, stage: str) -> None:
    assert sg.lifecycle_stage(recency, first, SegmentationConfig()) == stage


def test_clv_formula_by_hand() -> None:
    # 4 orders totalling 400 over two years: AOV 100, 2 orders/year, 3-year lifespan = 600
    assert sg.clv_estimate(4, 400.0, 2 * 365.25, 3.0) == pytest.approx(600.0)
    # tenure below one year is floored to a year: 2 orders in a week -> 2/year
    assert sg.clv_estimate(2, 100.0, 7, 3.0) == pytest.approx(300.0)
    assert sg.clv_estimate(0, 0.0, None, 3.0) == 0.0


def test_segment_customers_end_to_end() -> None:
    orders = [
        *[order("vip", d, 1500.0) for d in (5, 40, 80, 120, 200, 300)],  # 9000, 6 orders
        *[order("fading", d, 50.0) for d in (200, 250, 300, 330)],  # lapsing, 4 orders
        order("fresh", 10, 80.0),
        order("fresh", 12, 20.0, status="cancelled"),  # ignored
        order("steady", 20, 100.0),
        order("steady", 500, 100.0),
        order("gone", 400, 30.0),
    ]
    result = sg.segment_customers(orders, NOW, SegmentationConfig(), ["prospect-1", "vip"])
    assert set(result) == {"vip", "fading", "fresh", "steady", "gone", "prospect-1"}
    vip = result["vip"]
    assert (vip.frequency, vip.monetary, vip.recency_days) == (6, 9000.0, 5.0)
    assert (vip.tier, vip.priority_boost, vip.lifecycle) == ("vip", 20, "active")
    assert vip.f == 5 and vip.m == 5 and vip.r == 5 and vip.rfm == "555"
    assert (result["fading"].tier, result["fading"].lifecycle) == ("at_risk", "lapsing")
    assert result["fading"].priority_boost == 10
    fresh = result["fresh"]
    assert (fresh.tier, fresh.lifecycle, fresh.frequency) == ("new", "new", 1)
    assert result["steady"].tier == "regular" and result["steady"].lifecycle == "active"
    assert result["gone"].lifecycle == "churned" and result["gone"].tier == "regular"
    p = result["prospect-1"]
    assert (p.tier, p.lifecycle, p.rfm, p.clv, p.priority_boost) == (
        "prospect",
        "prospect",
        "000",
        0.0,
        0,
    )
    # steady: 200 over 500 days, 2 orders -> AOV 100 * (2 / (500/365.25)) * 3
    assert result["steady"].clv == pytest.approx(100 * 2 / (500 / 365.25) * 3)


def test_orders_with_datetimes_and_objects() -> None:
    class Order:
        def __init__(self, cid: str, at: datetime, amount: float) -> None:
            self.customer_id, self.ordered_at, self.total = cid, at, Decimal(str(amount))

    at = datetime.fromtimestamp(NOW - 3 * DAY, UTC)
    result = sg.segment_customers([Order("x", at, 10.5)], NOW, SegmentationConfig())
    assert result["x"].recency_days == pytest.approx(3.0)
    assert result["x"].monetary == 10.5


def test_ignored_statuses_and_orders_without_customer() -> None:
    orders = [
        order("a", 1, 10.0),
        order("a", 2, 99.0, "returned"),
        order("a", 3, 99.0, "refunded"),
        {"customer_id": None, "ordered_at": NOW, "total": 5.0},
    ]
    result = sg.segment_customers(orders, NOW, SegmentationConfig())
    assert list(result) == ["a"] and result["a"].monetary == 10.0


def test_tier_rules_first_match_wins_and_rfm_conditions() -> None:
    config = SegmentationConfig(
        tiers=(
            TierRule("champion", {"min_r": 4, "min_f": 4}, priority_boost=7),
            TierRule("big", {"min_clv": 1000}),
        ),
        default_tier="other",
        default_priority_boost=1,
    )
    orders = [
        order("a", 1, 10.0),
        order("a", 2, 10.0),
        order("b", 300, 5000.0),
        order("c", 200, 1.0),
    ]
    result = sg.segment_customers(orders, NOW, config)
    assert result["a"].tier == "champion" and result["a"].priority_boost == 7
    assert result["b"].tier == "big" and result["b"].priority_boost == 0
    assert result["c"].tier == "other" and result["c"].priority_boost == 1
    assert config.priority_boost("champion") == 7 and config.priority_boost("unknown") == 1


def test_parse_segmentation_errors_name_keys() -> None:
    cfg = sg.parse_segmentation(
        {"tiers": [{"name": "gold", "min_m": 4, "priority_boost": 3}], "churn_days": 400}
    )
    assert cfg.tiers == (TierRule("gold", {"min_m": 4.0}, (), 3),) and cfg.churn_days == 400
    cases: list[tuple[dict[str, Any], str]] = [
        ({"tiers": [{"name": "x", "min_karma": 3}]}, "segmentation.tiers[0].min_karma"),
        ({"tiers": [{"min_m": 3}]}, "segmentation.tiers[0].name"),
        ({"tiers": [{"name": "x", "lifecycle": ["zombie"]}]}, "segmentation.tiers[0].lifecycle"),
        ({"tiers": [{"name": "x"}, {"name": "x"}]}, "segmentation.tiers"),
        ({"tiers": []}, "segmentation.tiers"),
        ({"active_days": 300, "churn_days": 200}, "segmentation.churn_days"),
        ({"lifespan_years": "long"}, "segmentation.lifespan_years"),
    ]
    for data, key in cases:
        with pytest.raises(ConfigError) as info:
            sg.parse_segmentation(data, "crm.toml")
        assert info.value.details == {"file": "crm.toml", "key": key}
