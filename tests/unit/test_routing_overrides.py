"""[routing] always_open: trials run every queue around the clock; production keeps hours."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ccserver.runtime import routing_config
from ccserver.settings import load_settings
from routing.hours import ALWAYS_OPEN_UTC

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_hours_apply_unless_always_open() -> None:
    office = routing_config.load(load_settings(environ={}))
    assert office.queues["general"].hours != ALWAYS_OPEN_UTC
    # 05:06 on a Thursday in Bangkok: the shipped office calendar is closed.
    night = dt.datetime(2026, 11, 26, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=7))).timestamp()
    assert not office.queues["general"].hours.is_open(night)
    trial = routing_config.load(load_settings(environ={"CCSERVER_ROUTING__ALWAYS_OPEN": "true"}))
    assert all(q.hours == ALWAYS_OPEN_UTC for q in trial.queues.values())
    assert trial.queues["general"].hours.is_open(night)
    assert set(trial.queues) == set(office.queues)
