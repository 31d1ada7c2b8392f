"""Rolling queue statistics: last 15 minutes, last hour and today (queue's local day).

Counters live in one-minute buckets (at most 60 kept), so a window sum costs at most 60
additions whatever the traffic. Service level counts answers within the target over
answered + abandoned, with *short* abandons (caller left within ``short_abandon`` seconds)
kept apart and excluded, as most contact centres report it.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass


@dataclass(slots=True)
class Counters:
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    overflowed: int = 0
    wait_sum: float = 0.0  # over answered
    longest_wait: float = 0.0  # answered or abandoned
    handled: int = 0
    handle_sum: float = 0.0

    def add(self, other: Counters) -> None:
        # Spelled out (not a loop over fields()): every EWT and snapshot sums up to 60
        # buckets twice, and reflection made that the cost of position_and_ewt.
        self.offered += other.offered
        self.answered += other.answered
        self.answered_in_sl += other.answered_in_sl
        self.abandoned += other.abandoned
        self.short_abandoned += other.short_abandoned
        self.overflowed += other.overflowed
        self.wait_sum += other.wait_sum
        self.longest_wait = max(self.longest_wait, other.longest_wait)
        self.handled += other.handled
        self.handle_sum += other.handle_sum


@dataclass(frozen=True, slots=True)
class WindowStats:
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    overflowed: int
    service_level: float | None  # 0..1
    asa: float | None  # average speed of answer, seconds
    longest_wait: float
    aht: float | None  # average handle time (talk + wrap-up), seconds
    handled: int


def summarise(c: Counters) -> WindowStats:
    sl_base = c.answered + c.abandoned - c.short_abandoned
    return WindowStats(
        offered=c.offered,
        answered=c.answered,
        abandoned=c.abandoned,
        short_abandoned=c.short_abandoned,
        overflowed=c.overflowed,
        service_level=c.answered_in_sl / sl_base if sl_base > 0 else None,
        asa=c.wait_sum / c.answered if c.answered else None,
        longest_wait=c.longest_wait,
        aht=c.handle_sum / c.handled if c.handled else None,
        handled=c.handled,
    )


class QueueStats:
    """Counters for one queue; ``tz`` is the queue's calendar zone (for "today")."""

    def __init__(self, sl_seconds: float, short_abandon: float, tz: dt.tzinfo) -> None:
        self.sl_seconds = sl_seconds
        self.short_abandon = short_abandon
        self._tz = tz
        self._buckets: deque[tuple[int, Counters]] = deque()
        self._today = Counters()
        self._today_date: dt.date | None = None
        self._day_span = (0.0, -1.0)  # [start, end) of _today_date; avoids a tz lookup per event
        self._hot: tuple[int, list[Counters]] = (-1, [])  # last minute's answer of _bucket

    def _bucket(self, now: float) -> list[Counters]:
        minute = int(now // 60)
        hot = self._hot
        if hot[0] == minute and self._day_span[0] <= now < self._day_span[1]:
            return hot[1]  # same minute and day as the last event (most events)
        if not self._buckets or self._buckets[-1][0] < minute:
            self._buckets.append((minute, Counters()))
            while self._buckets[0][0] <= minute - 60:
                self._buckets.popleft()
        start, end = self._day_span
        if not start <= now < end:
            date = self._local_date(now)
            if date != self._today_date:
                self._today, self._today_date = Counters(), date
            self._day_span = self._span_of(date)
        out = [self._buckets[-1][1], self._today]
        if self._buckets[-1][0] == minute:
            self._hot = (minute, out)
        return out

    def _span_of(self, date: dt.date) -> tuple[float, float]:
        """[local midnight, next local midnight) of ``date`` as timestamps."""
        start = dt.datetime.combine(date, dt.time(), tzinfo=self._tz).timestamp()
        end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), tzinfo=self._tz)
        return start, end.timestamp()

    def offered(self, now: float) -> None:
        for c in self._bucket(now):
            c.offered += 1

    def answered(self, now: float, wait: float) -> None:
        for c in self._bucket(now):
            c.answered += 1
            c.answered_in_sl += wait <= self.sl_seconds
            c.wait_sum += wait
            c.longest_wait = max(c.longest_wait, wait)

    def abandoned(self, now: float, wait: float) -> None:
        for c in self._bucket(now):
            c.abandoned += 1
            c.short_abandoned += wait < self.short_abandon
            c.longest_wait = max(c.longest_wait, wait)

    def overflowed(self, now: float) -> None:
        for c in self._bucket(now):
            c.overflowed += 1

    def handled(self, now: float, handle_time: float) -> None:
        for c in self._bucket(now):
            c.handled += 1
            c.handle_sum += handle_time

    def window(self, now: float, seconds: float) -> WindowStats:
        first = int((now - seconds) // 60) + 1
        total = Counters()
        for minute, counters in self._buckets:
            if first <= minute <= now // 60:
                total.add(counters)
        return summarise(total)

    def _local_date(self, now: float) -> dt.date:
        return dt.datetime.fromtimestamp(now, self._tz).date()

    def today(self, now: float) -> WindowStats:
        if self._local_date(now) != self._today_date:
            return summarise(Counters())
        return summarise(self._today)
