"""`ccserver ivr check` through the real command line entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccserver import cli

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_flow_checks_and_prints_its_graph(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ivr", "check", str(ROOT / "config" / "ivr" / "main.toml")]) == 0
    out = capsys.readouterr().out
    assert "main_menu" in out or "menu" in out
    assert cli.main(["ivr", "check", "--dot", str(ROOT / "config" / "ivr" / "main.toml")]) == 0
    assert capsys.readouterr().out.lstrip().startswith("digraph")


def test_a_broken_flow_exits_1_naming_file_node_and_key(capsys: pytest.CaptureFixture[str]) -> None:
    bad = ROOT / "tests" / "unit" / "ivr_flows" / "bad_digit.toml"
    assert cli.main(["ivr", "check", str(bad)]) == 1
    captured = capsys.readouterr()
    message = captured.err + captured.out
    assert "bad_digit.toml" in message and "node" in message
