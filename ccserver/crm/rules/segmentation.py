"""Customer value and segments from order rows: RFM, tier, lifecycle stage, CLV, priority.

RFM: per customer, recency (days since the last order), frequency (order count) and
monetary (order total) are each scored 1-5 by quintile among the customers scored together.
The quintile uses the mid-rank ``(below + ties/2) / n``, so tied customers share a score and
a lone customer scores 3; a *shorter* recency scores higher.

Lifecycle stage (thresholds in days, from config):
  prospect — no orders; churned — last order older than ``churn_days``; lapsing — older than
  ``active_days``; new — first order within ``new_days``; otherwise active.

CLV estimate = average order value * purchase frequency per year * expected lifespan (years),
where frequency per year = orders / max(tenure in years, 1): tenure runs from the first order to
``now``, floored at one year so a customer who ordered twice last week is not extrapolated
to a hundred orders a year.

Tier: the first configured rule whose conditions all hold; ``default_tier`` otherwise. Each
tier carries the routing priority boost the router adds to the interaction's priority.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ccserver.crm.rules import config_values as cv
from ccserver.crm.rules.rows import get, to_timestamp

DAY = 86400.0
IGNORED_ORDER_STATUSES = frozenset({"cancelled", "canceled", "returned", "refunded"})
YEAR_DAYS = 365.25

# Conditions a tier rule may use: name -> (figure, comparison).
CONDITIONS: dict[str, tuple[str, str]] = {
    "min_r": ("r", ">="),
    "max_r": ("r", "<="),
    "min_f": ("f", ">="),
    "max_f": ("f", "<="),
    "min_m": ("m", ">="),
    "max_m": ("m", "<="),
    "min_orders": ("frequency", ">="),
    "max_orders": ("frequency", "<="),
    "min_monetary": ("monetary", ">="),
    "min_recency_days": ("recency_days", ">="),
    "max_recency_days": ("recency_days", "<="),
    "min_clv": ("clv", ">="),
}


@dataclass(frozen=True, slots=True)
class TierRule:
    name: str
    conditions: Mapping[str, float] = field(default_factory=dict)
    lifecycle: tuple[str, ...] = ()  # empty: any stage
    priority_boost: int = 0


@dataclass(frozen=True, slots=True)
class SegmentationConfig:
    tiers: tuple[TierRule, ...] = (
        TierRule("vip", {"min_monetary": 5000.0, "min_orders": 5}, priority_boost=20),
        TierRule("at_risk", {"min_orders": 3}, lifecycle=("lapsing",), priority_boost=10),
        TierRule("new", {}, lifecycle=("new",), priority_boost=5),
        TierRule("regular", {"min_orders": 1}),
    )
    default_tier: str = "prospect"
    default_priority_boost: int = 0
    new_days: float = 90.0
    active_days: float = 180.0
    churn_days: float = 365.0
    lifespan_years: float = 3.0

    def priority_boost(self, tier: str) -> int:
        for rule in self.tiers:
            if rule.name == tier:
                return rule.priority_boost
        return self.default_priority_boost


@dataclass(frozen=True, slots=True)
class CustomerValue:
    customer_id: str
    recency_days: float | None  # None: no orders
    frequency: int
    monetary: float
    first_order_days: float | None
    r: int = 0  # 0 when the customer has no orders (not ranked)
    f: int = 0
    m: int = 0
    lifecycle: str = "prospect"
    clv: float = 0.0
    tier: str = ""
    priority_boost: int = 0

    @property
    def rfm(self) -> str:
        return f"{self.r}{self.f}{self.m}"


def quintile_scores(
    values: Mapping[str, float], *, higher_is_better: bool = True
) -> dict[str, int]:
    """1-5 score per key by mid-rank quintile (see module doc)."""
    n = len(values)
    if not n:
        return {}
    ordered = sorted(values.values())
    scores: dict[str, int] = {}
    for key, value in values.items():
        below = _count_below(ordered, value)
        ties = _count_below(ordered, value, inclusive=True) - below
        pct = (below + ties / 2) / n
        score = min(5, 1 + int(pct * 5))
        scores[key] = score if higher_is_better else 6 - score
    return scores


def _count_below(ordered: list[float], value: float, inclusive: bool = False) -> int:
    return (bisect.bisect_right if inclusive else bisect.bisect_left)(ordered, value)


def lifecycle_stage(
    recency_days: float | None, first_order_days: float | None, config: SegmentationConfig
) -> str:
    if recency_days is None or first_order_days is None:
        return "prospect"
    if recency_days > config.churn_days:
        return "churned"
    if recency_days > config.active_days:
        return "lapsing"
    if first_order_days <= config.new_days:
        return "new"
    return "active"


def clv_estimate(
    frequency: int, monetary: float, first_order_days: float | None, lifespan_years: float
) -> float:
    if not frequency or first_order_days is None:
        return 0.0
    average_order = monetary / frequency
    per_year = frequency / max(first_order_days / YEAR_DAYS, 1.0)
    return average_order * per_year * lifespan_years


def _matches(rule: TierRule, figures: Mapping[str, float], lifecycle: str) -> bool:
    if rule.lifecycle and lifecycle not in rule.lifecycle:
        return False
    for condition, bound in rule.conditions.items():
        figure, op = CONDITIONS[condition]
        value = figures[figure]
        if (op == ">=" and value < bound) or (op == "<=" and value > bound):
            return False
    return True


def assign_tier(value: CustomerValue, config: SegmentationConfig) -> str:
    figures = {
        "r": float(value.r),
        "f": float(value.f),
        "m": float(value.m),
        "frequency": float(value.frequency),
        "monetary": value.monetary,
        # a prospect has no recency: treat as infinitely long ago
        "recency_days": float("inf") if value.recency_days is None else value.recency_days,
        "clv": value.clv,
    }
    for rule in config.tiers:
        if _matches(rule, figures, value.lifecycle):
            return rule.name
    return config.default_tier


def segment_customers(
    orders: Iterable[Any],
    now: float,
    config: SegmentationConfig,
    customer_ids: Iterable[str] = (),
    *,
    amount_field: str = "total",
    time_field: str = "ordered_at",
    ignore_statuses: frozenset[str] = IGNORED_ORDER_STATUSES,
) -> dict[str, CustomerValue]:
    """RFM, lifecycle, CLV, tier and priority boost for every customer with orders (plus
    ``customer_ids`` without orders, as prospects). Order rows: customer_id, ordered_at,
    total (the orders table's names; mappings or objects). Orders whose ``status`` is in
    ``ignore_statuses`` (cancelled, returned...) and orders without a customer are skipped."""
    last: dict[str, float] = {}
    first: dict[str, float] = {}
    count: dict[str, int] = {}
    total: dict[str, float] = {}
    for row in orders:
        if get(row, "status") in ignore_statuses or get(row, "customer_id") is None:
            continue
        cid = str(get(row, "customer_id"))
        at = to_timestamp(get(row, time_field))
        if at is None:
            continue
        amount = float(get(row, amount_field) or 0.0)
        last[cid] = max(last.get(cid, at), at)
        first[cid] = min(first.get(cid, at), at)
        count[cid] = count.get(cid, 0) + 1
        total[cid] = total.get(cid, 0.0) + amount
    recency = {cid: max(0.0, (now - t) / DAY) for cid, t in last.items()}
    r = quintile_scores(recency, higher_is_better=False)
    f = quintile_scores({cid: float(n) for cid, n in count.items()})
    m = quintile_scores(total)
    result: dict[str, CustomerValue] = {}
    for cid in [*count, *[c for c in customer_ids if c not in count]]:
        first_days = None if cid not in first else max(0.0, (now - first[cid]) / DAY)
        rec = recency.get(cid)
        stage = lifecycle_stage(rec, first_days, config)
        value = CustomerValue(
            customer_id=cid,
            recency_days=rec,
            frequency=count.get(cid, 0),
            monetary=total.get(cid, 0.0),
            first_order_days=first_days,
            r=r.get(cid, 0),
            f=f.get(cid, 0),
            m=m.get(cid, 0),
            lifecycle=stage,
            clv=clv_estimate(
                count.get(cid, 0), total.get(cid, 0.0), first_days, config.lifespan_years
            ),
        )
        tier = assign_tier(value, config)
        result[cid] = _with_tier(value, tier, config.priority_boost(tier))
    return result


def _with_tier(value: CustomerValue, tier: str, boost: int) -> CustomerValue:
    return replace(value, tier=tier, priority_boost=boost)


def parse_segmentation(data: Mapping[str, Any], source: str = "crm.toml") -> SegmentationConfig:
    """``[segmentation]`` with ``[[segmentation.tiers]]`` (name, priority_boost, lifecycle,
    and any of the CONDITIONS keys)."""
    path = "segmentation"
    defaults = SegmentationConfig()
    tiers = defaults.tiers
    if "tiers" in data:
        raw = data["tiers"]
        if not isinstance(raw, list) or not raw:
            raise cv.fail(source, f"{path}.tiers", "must be a non-empty array of tables")
        parsed = []
        for i, item in enumerate(raw):
            t_path = f"{path}.tiers[{i}]"
            if not isinstance(item, Mapping):
                raise cv.fail(source, t_path, "must be a table")
            known = {"name", "priority_boost", "lifecycle", *CONDITIONS}
            for key in item:
                if key not in known:
                    raise cv.fail(source, f"{t_path}.{key}", "unknown tier condition")
            stages = cv.strings(item, "lifecycle", source, t_path, (), allow_empty=True)
            for stage in stages:
                if stage not in {"prospect", "new", "active", "lapsing", "churned"}:
                    raise cv.fail(source, f"{t_path}.lifecycle", f"unknown stage {stage!r}")
            parsed.append(
                TierRule(
                    name=cv.text(item, "name", source, t_path),
                    conditions={
                        c: cv.number(item, c, source, t_path) for c in CONDITIONS if c in item
                    },
                    lifecycle=stages,
                    priority_boost=cv.integer(item, "priority_boost", source, t_path, 0),
                )
            )
        names = [t.name for t in parsed]
        if len(set(names)) != len(names):
            raise cv.fail(source, f"{path}.tiers", "tier names must be unique")
        tiers = tuple(parsed)
    new_days = cv.number(data, "new_days", source, path, defaults.new_days, minimum=0)
    active_days = cv.number(data, "active_days", source, path, defaults.active_days, minimum=1)
    churn_days = cv.number(data, "churn_days", source, path, defaults.churn_days, minimum=1)
    if churn_days < active_days:
        raise cv.fail(source, f"{path}.churn_days", "must be >= active_days")
    return SegmentationConfig(
        tiers=tiers,
        default_tier=cv.text(data, "default_tier", source, path, defaults.default_tier),
        default_priority_boost=cv.integer(data, "default_priority_boost", source, path, 0),
        new_days=new_days,
        active_days=active_days,
        churn_days=churn_days,
        lifespan_years=cv.number(
            data, "lifespan_years", source, path, defaults.lifespan_years, minimum=0.1
        ),
    )
