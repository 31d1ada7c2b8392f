"""``ccserver simulate``: the what-if run over the real parts (simulator, voice channel,
routing, CRM store) and its report; figures computed from interaction timestamps."""

from __future__ import annotations

import json
from pathlib import Path

from ccserver.domain import Channel, Interaction
from ccserver.simulator.cli_simulate import main, report_from


def _call(n: int, **ts: float) -> Interaction:
    outcome = ts.pop("outcome_abandoned", None)
    i = Interaction(id=str(n), channel=Channel.VOICE, timestamps={"new": 0.0, **ts})
    if outcome is not None:
        i.attributes["outcome"] = "abandoned_queue" if outcome else "abandoned_ivr"
    return i


def test_report_figures_from_timestamps() -> None:
    calls = [
        _call(1, first_queued=10, first_connected=15, wrap_up=75),  # 5 s wait: within SL
        _call(2, first_queued=10, first_connected=40, wrap_up=100),  # 30 s: outside
        _call(3, first_queued=10, abandoned=60, outcome_abandoned=1),  # waited 50 s
        _call(4, abandoned=3, outcome_abandoned=0),  # left in the IVR
        Interaction(id="5", channel=Channel.EMAIL, timestamps={"first_queued": 1}),  # ignored
    ]
    rep = report_from(calls, 20.0)
    assert (rep.calls, rep.queued, rep.answered) == (4, 3, 2)
    assert (rep.abandoned_queue, rep.abandoned_ivr) == (1, 1)
    assert rep.service_level == 1 / 3
    assert rep.wait_avg_s == (5 + 30 + 50) / 3 and rep.wait_max_s == 50
    assert rep.talk_avg_s == 60


def test_simulate_run_reports_consistent_figures(tmp_path: Path, capsys: object) -> None:
    out = tmp_path / "report.json"
    argv = ["--agents", "4", "--calls-per-hour", "180", "--duration", "240", "--talk", "30"]
    argv += ["--patience", "300", "--time-scale", "0.01", "--seed", "7", "--json", str(out)]
    assert main(argv) == 0
    rep = json.loads(out.read_text())
    assert rep["calls"] >= 5  # about 12 expected
    assert rep["queued"] + rep["abandoned_ivr"] + rep["other"] == rep["calls"]
    assert rep["answered"] + rep["abandoned_queue"] <= rep["queued"]
    assert rep["answered"] >= 1 and 0 < rep["service_level"] <= 1
    assert rep["talk_avg_s"] > 0 and rep["wait_max_s"] >= rep["wait_avg_s"] >= 0


def test_simulate_without_agents_everyone_abandons(tmp_path: Path) -> None:
    out = tmp_path / "none.json"
    argv = ["--agents", "0", "--calls-per-hour", "600", "--duration", "60", "--patience", "10"]
    assert main([*argv, "--time-scale", "0.01", "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["calls"] >= 3 and rep["answered"] == 0 and rep["service_level"] == 0
    assert rep["abandoned_queue"] == rep["queued"] > 0


def test_bad_arguments_exit_2() -> None:
    assert main(["--time-scale", "0"]) == 2
    assert main(["--agents", "-1"]) == 2
    assert main(["--no-such-flag"]) == 2
