"""config/crm.toml: the shipped file equals the built-in defaults; errors name file and key;
the rules package stays sans-I/O (stdlib + ccserver.domain/errors + itself)."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ccserver.crm.rules.complaint_taxonomy import ComplaintTaxonomy, Severity, parse_taxonomy
from ccserver.crm.rules.config import CrmRules, load_crm_rules, parse_crm_rules
from ccserver.crm.rules.followup_lifecycle import FollowUpChannel
from ccserver.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "crm.toml"


def test_shipped_file_equals_defaults() -> None:
    assert load_crm_rules(SHIPPED) == CrmRules()


def test_default_taxonomy() -> None:
    tax = CrmRules().taxonomy
    assert tax.categories == {
        "product": ("function", "safety", "quality", "transaction", "delivery"),
        "service": ("capability", "attitude", "quality", "etiquette"),
    }
    assert tax.validity == (
        "misunderstanding",
        "more_serious_than_reported",
        "basically_true",
        "exceeds_facts",
    )


def test_overrides_are_applied() -> None:
    rules = parse_crm_rules(
        {
            "complaints": {
                "categories": {"billing": ["overcharge"]},
                "severities": {"urgent": {"sla_hours": 2, "escalate_to": "duty"}},
                "follow_up": {
                    "channel": "email",
                    "delay_hours": 1,
                    "enabled": False,
                    "window_hours": 0,
                },
            },
            "followups": {"retry": {"max_attempts": 5, "backoff_hours": [1]}},
            "surveys": {"detractor": {"channel": "email"}, "csi": {"weights": {"x": 2}}},
            "reports": {"service_level_seconds": 30},
        }
    )
    assert rules.taxonomy.categories == {"billing": ("overcharge",)}
    assert rules.taxonomy.severities == {"urgent": Severity("urgent", 2.0, "duty")}
    assert rules.resolution_followup.channel is FollowUpChannel.EMAIL
    assert not rules.resolution_followup.enabled
    assert rules.resolution_followup.window_hours is None
    assert rules.followup_retry.max_attempts == 5
    assert rules.detractor_channel == "email"
    assert rules.csi.normalised() == {"x": 1.0}
    assert rules.reports.service_level_seconds == 30.0


BAD: list[tuple[dict[str, Any], str]] = [
    ({"complain": {}}, "complain"),
    ({"complaints": {"categories": {"product": "function"}}}, "complaints.categories.product"),
    ({"complaints": {"categories": {}}}, "complaints.categories"),
    ({"complaints": {"categories": {"p": ["a", "a"]}}}, "complaints.categories.p"),
    ({"complaints": {"severities": {"high": {}}}}, "complaints.severities.high.sla_hours"),
    (
        {"complaints": {"severities": {"high": {"sla_hours": -1}}}},
        "complaints.severities.high.sla_hours",
    ),
    ({"complaints": {"severities": {"high": 24}}}, "complaints.severities.high"),
    ({"complaints": {"validity": []}}, "complaints.validity"),
    ({"complaints": {"follow_up": {"channel": "telegram"}}}, "complaints.follow_up.channel"),
    ({"complaints": {"follow_up": {"delay_hours": "soon"}}}, "complaints.follow_up.delay_hours"),
    ({"complaints": {"follow_up": {"outline": "ask"}}}, "complaints.follow_up.outline"),
    ({"complaints": {"follow_up": {"enabled": "yes"}}}, "complaints.follow_up.enabled"),
    ({"followups": {"retry": {"max_attempts": 0}}}, "followups.retry.max_attempts"),
    ({"followups": {"retry": {"backoff_hours": [-1]}}}, "followups.retry.backoff_hours"),
    ({"surveys": {"detractor": {"channel": "fax"}}}, "surveys.detractor.channel"),
    ({"reports": {"fcr_window_days": 0}}, "reports.fcr_window_days"),
    ({"segmentation": []}, "segmentation"),
]


@pytest.mark.parametrize(("data", "key"), BAD)
def test_errors_name_the_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_crm_rules(data, "site.toml")
    assert info.value.details == {"file": "site.toml", "key": key}
    assert key in info.value.message


def test_load_reports_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_crm_rules(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[complaints\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_crm_rules(bad)
    custom = tmp_path / "crm.toml"
    custom.write_text("[complaints.severities.vip]\nsla_hours = 1\n")
    assert load_crm_rules(custom).taxonomy.severity("vip").sla_hours == 1.0


def test_shipped_file_is_plain_toml_with_known_sections() -> None:
    data = tomllib.loads(SHIPPED.read_text())
    assert set(data) == {
        "complaints",
        "followups",
        "surveys",
        "segmentation",
        "pii",
        "reports",
        "retention",
    }
    assert parse_taxonomy(data["complaints"]) == ComplaintTaxonomy()


def test_rules_package_is_sans_io() -> None:
    allowed_project = ("ccserver.domain", "ccserver.errors", "ccserver.crm.rules")
    offenders = []
    for path in sorted((ROOT / "ccserver" / "crm" / "rules").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "__future__":
                    continue
                if not any(name == m or name.startswith(m + ".") for m in allowed_project):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
