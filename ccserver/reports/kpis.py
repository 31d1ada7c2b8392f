"""Contact-center KPIs from contact rows and agent-state rows (field names of the contacts
table: channel, direction, queue, agent_id, customer_id, started_at, queued_at, answered_at,
ended_at,
wait_s, talk_s, hold_s, wrap_s, outcome, disposition, fcr).

Definitions (T = ``service_level_s``, S = ``short_abandon_s``):

* answered — ``outcome == "answered"``; abandoned — ``outcome == "abandoned_queue"`` with
  ``wait_s > S``; short abandons (``wait_s <= S``) are left out of SL and abandon rate
  because a caller who hangs up within S seconds was never really waiting. IVR abandons,
  self-service and callback requests never reached an agent queue decision and are left
  out too (they are counted separately).
* service level = answered with ``wait_s <= T`` / (answered + abandoned).
* abandon rate = abandoned / (answered + abandoned).
* ASA = mean ``wait_s`` of answered contacts; AHT = mean ``talk_s + hold_s + wrap_s`` of
  answered contacts.
* FCR = answered contacts with a customer whose customer made no further inbound contact
  (on the same matter when ``matter_field`` is set) within ``fcr_window_days`` after it, over
  answered contacts with a customer. Repeats are looked for across *all* rows given, not only
  the group, so a repeat in next week's bucket still counts against this week. With
  ``use_fcr_flag`` the agent-set ``fcr`` column is used instead (None = not assessed).
* occupancy = time in handling states / (handling + ready time), per agent-state rows with
  ``state`` and ``duration_s``; not-ready time counts in neither.

Every aggregate is a sum of counts, so per-group values add up to the totals; the ratios
are properties that return None when their denominator is zero.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, tzinfo
from typing import Any

from ccserver.crm.rules.rows import get, to_timestamp
from ccserver.reports.grouping import GroupKey, group_rows

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class KpiSettings:
    service_level_s: float = 20.0
    short_abandon_s: float = 5.0
    fcr_window_days: float = 7.0
    matter_field: str | None = None
    use_fcr_flag: bool = False


def contact_time(row: Any) -> float | None:
    """When a contact happened: started, else queued, answered, ended (epoch seconds).

    ``started_at`` is what the contacts table always has; the others are fallbacks for rows
    built elsewhere. Grouping by period and FCR repeat detection both use this time."""
    for name in ("started_at", "queued_at", "answered_at", "ended_at"):
        ts = to_timestamp(get(row, name))
        if ts is not None:
            return ts
    return None


def _num(row: Any, name: str) -> float:
    value = get(row, name)
    return 0.0 if value is None else float(value)


@dataclass(slots=True)
class ContactKpis:
    contacts: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    abandoned_ivr: int = 0
    self_service: int = 0
    callback_requested: int = 0
    wait_answered_s: float = 0.0
    handle_s: float = 0.0
    fcr_eligible: int = 0
    fcr_resolved: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: ContactKpis) -> ContactKpis:
        out = ContactKpis()
        for f in fields(ContactKpis):
            if f.name == "by_channel":
                merged = dict(self.by_channel)
                for k, v in other.by_channel.items():
                    merged[k] = merged.get(k, 0) + v
                out.by_channel = merged
            else:
                setattr(out, f.name, getattr(self, f.name) + getattr(other, f.name))
        return out

    @property
    def sl_base(self) -> int:
        return self.answered + self.abandoned

    @property
    def service_level(self) -> float | None:
        return self.answered_in_sl / self.sl_base if self.sl_base else None

    @property
    def abandon_rate(self) -> float | None:
        return self.abandoned / self.sl_base if self.sl_base else None

    @property
    def asa_s(self) -> float | None:
        return self.wait_answered_s / self.answered if self.answered else None

    @property
    def aht_s(self) -> float | None:
        return self.handle_s / self.answered if self.answered else None

    @property
    def fcr_rate(self) -> float | None:
        return self.fcr_resolved / self.fcr_eligible if self.fcr_eligible else None

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "contacts": self.contacts,
            "answered": self.answered,
            "answered_in_sl": self.answered_in_sl,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "abandoned_ivr": self.abandoned_ivr,
            "self_service": self.self_service,
            "callback_requested": self.callback_requested,
            "service_level": self.service_level,
            "abandon_rate": self.abandon_rate,
            "asa_s": self.asa_s,
            "aht_s": self.aht_s,
            "fcr_rate": self.fcr_rate,
        }
        for channel in sorted(self.by_channel):
            row[f"contacts_{channel}"] = self.by_channel[channel]
        return row


def fcr_flags(rows: Sequence[Any], settings: KpiSettings) -> list[bool | None]:
    """Per row: True/False when the row counts toward FCR, None when it is not eligible."""
    if settings.use_fcr_flag:
        return [
            None
            if get(r, "outcome") != "answered" or get(r, "fcr") is None
            else bool(get(r, "fcr"))
            for r in rows
        ]
    when = [contact_time(r) for r in rows]
    times: dict[tuple[Any, Any], list[float]] = {}
    for r, ts in zip(rows, when, strict=True):
        customer = get(r, "customer_id")
        if customer is None or ts is None or get(r, "direction", "inbound") == "outbound":
            continue
        matter = get(r, settings.matter_field) if settings.matter_field else None
        times.setdefault((customer, matter), []).append(ts)
    for series in times.values():
        series.sort()
    window = settings.fcr_window_days * DAY
    flags: list[bool | None] = []
    for r, ts in zip(rows, when, strict=True):
        customer = get(r, "customer_id")
        if get(r, "outcome") != "answered" or customer is None or ts is None:
            flags.append(None)
            continue
        matter = get(r, settings.matter_field) if settings.matter_field else None
        series = times.get((customer, matter), [])
        nxt = bisect.bisect_right(series, ts)  # first contact strictly after this one
        flags.append(not (nxt < len(series) and series[nxt] <= ts + window))
    return flags


def _accumulate(
    rows: Iterable[Any], flags: Iterable[bool | None], settings: KpiSettings
) -> ContactKpis:
    k = ContactKpis()
    for row, flag in zip(rows, flags, strict=True):
        k.contacts += 1
        channel = str(get(row, "channel"))
        k.by_channel[channel] = k.by_channel.get(channel, 0) + 1
        outcome = get(row, "outcome")
        wait = _num(row, "wait_s")
        if outcome == "answered":
            k.answered += 1
            k.wait_answered_s += wait
            k.handle_s += _num(row, "talk_s") + _num(row, "hold_s") + _num(row, "wrap_s")
            if wait <= settings.service_level_s:
                k.answered_in_sl += 1
        elif outcome == "abandoned_queue":
            if wait <= settings.short_abandon_s:
                k.short_abandoned += 1
            else:
                k.abandoned += 1
        elif outcome == "abandoned_ivr":
            k.abandoned_ivr += 1
        elif outcome == "self_service":
            k.self_service += 1
        elif outcome == "callback_requested":
            k.callback_requested += 1
        if flag is not None:
            k.fcr_eligible += 1
            k.fcr_resolved += int(flag)
    return k


def contact_kpis(rows: Iterable[Any], settings: KpiSettings | None = None) -> ContactKpis:
    settings = settings or KpiSettings()
    rows = list(rows)
    return _accumulate(rows, fcr_flags(rows, settings), settings)


def contact_kpis_by(
    rows: Iterable[Any],
    by: Sequence[str],
    settings: KpiSettings | None = None,
    tz: tzinfo = UTC,
) -> dict[GroupKey, ContactKpis]:
    """KPIs per group (``by`` = any of day/week/month and field names, e.g. queue)."""
    settings = settings or KpiSettings()
    rows = list(rows)
    flags = fcr_flags(rows, settings)
    flag_of = {id(r): f for r, f in zip(rows, flags, strict=True)}
    return {
        key: _accumulate(group, [flag_of[id(r)] for r in group], settings)
        for key, group in group_rows(rows, by, contact_time, tz).items()
    }


@dataclass(slots=True)
class OccupancyKpis:
    handling_s: float = 0.0
    ready_s: float = 0.0

    def __add__(self, other: OccupancyKpis) -> OccupancyKpis:
        return OccupancyKpis(self.handling_s + other.handling_s, self.ready_s + other.ready_s)

    @property
    def occupancy(self) -> float | None:
        total = self.handling_s + self.ready_s
        return self.handling_s / total if total else None

    def as_row(self) -> dict[str, Any]:
        return {
            "handling_s": self.handling_s,
            "ready_s": self.ready_s,
            "occupancy": self.occupancy,
        }


HANDLING_STATES = frozenset({"reserved", "busy", "on_call", "hold", "wrap_up"})
READY_STATES = frozenset({"ready", "idle", "available"})


def occupancy_by(
    state_rows: Iterable[Any],
    by: Sequence[str] = ("agent_id",),
    tz: tzinfo = UTC,
    handling_states: frozenset[str] = HANDLING_STATES,
    ready_states: frozenset[str] = READY_STATES,
) -> dict[GroupKey, OccupancyKpis]:
    """Occupancy per group of agent-state rows (agent_id, state, started_at, duration_s)."""
    out: dict[GroupKey, OccupancyKpis] = {}
    groups = group_rows(state_rows, by, lambda r: to_timestamp(get(r, "started_at")), tz)
    for key, group in groups.items():
        k = OccupancyKpis()
        for row in group:
            state, duration = get(row, "state"), _num(row, "duration_s")
            if state in handling_states:
                k.handling_s += duration
            elif state in ready_states:
                k.ready_s += duration
        out[key] = k
    return out


def report_rows(groups: dict[GroupKey, Any], by: Sequence[str]) -> list[dict[str, Any]]:
    """Flatten ``{key: kpis}`` into export rows: the group columns, then ``kpis.as_row()``."""
    return [{**dict(zip(by, key, strict=True)), **k.as_row()} for key, k in groups.items()]
