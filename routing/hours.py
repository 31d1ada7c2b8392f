"""Business hours with a time zone and holidays (``zoneinfo``; no clock is read)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class BusinessHours:
    """Open intervals per weekday (minutes from local midnight) plus closed dates.

    The answer is cached per UTC minute: every time zone in use today is offset by whole
    minutes, so open/closed cannot change inside one, and a busy queue asks many times.
    """

    __slots__ = ("_minute", "_open", "holidays", "intervals", "tz")

    def __init__(
        self,
        tz: ZoneInfo,
        intervals: tuple[tuple[tuple[int, int], ...], ...],  # weekday (0 = Mon) -> intervals
        holidays: frozenset[dt.date],
    ) -> None:
        self.tz, self.intervals, self.holidays = tz, intervals, holidays
        self._minute, self._open = -1, False

    def is_open(self, now: float) -> bool:
        minute = int(now // 60)
        if minute == self._minute:
            return self._open
        local = dt.datetime.fromtimestamp(now, self.tz)
        if local.date() in self.holidays:
            result = False
        else:
            m = local.hour * 60 + local.minute
            result = any(start <= m < end for start, end in self.intervals[local.weekday()])
        self._minute, self._open = minute, result
        return result

    def local_date(self, now: float) -> dt.date:
        return dt.datetime.fromtimestamp(now, self.tz).date()


ALWAYS_OPEN_UTC = BusinessHours(
    tz=ZoneInfo("UTC"), intervals=tuple(((0, 1440),) for _ in DAYS), holidays=frozenset()
)


def parse_day_spec(spec: str) -> list[int]:
    """``"mon-fri"`` -> [0..4], ``"sat"`` -> [5]; raises ValueError otherwise."""
    spec = spec.strip().lower()
    if "-" in spec:
        first, last = spec.split("-", 1)
        a, b = DAYS.index(first), DAYS.index(last)
        if b < a:
            raise ValueError(f"day range {spec!r} runs backwards")
        return list(range(a, b + 1))
    return [DAYS.index(spec)]


def parse_interval(text: str) -> tuple[int, int]:
    """``"09:00-18:00"`` -> (540, 1080); ``24:00`` allowed as an end."""
    start, end = (part.strip() for part in text.split("-", 1))

    def minutes(hhmm: str) -> int:
        h, m = hhmm.split(":")
        value = int(h) * 60 + int(m)
        if not 0 <= int(m) < 60 or not 0 <= value <= 1440:
            raise ValueError(f"bad time {hhmm!r}")
        return value

    a, b = minutes(start), minutes(end)
    if b <= a:
        raise ValueError(f"interval {text!r} is empty or crosses midnight")
    return a, b
