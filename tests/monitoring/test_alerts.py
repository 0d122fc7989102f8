"""The alert rules in deploy/prometheus: valid, unit-tested one way and the other, each with a runbook."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from tests.prometheus import ALERT_TESTS, ALERTS, REPO, promtool


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_alert_rules_pass_promtool_check_rules() -> None:
    result = promtool("check", "rules", str(ALERTS.relative_to(REPO)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_the_alert_unit_tests_pass_promtool_test_rules() -> None:
    result = promtool("test", "rules", str(ALERT_TESTS.relative_to(REPO)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test_where_it_fires_and_one_where_it_stays_silent() -> None:
    cases: dict[str, set[str]] = defaultdict(set)
    for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for check in test.get("alert_rule_test", []):
            cases[check["alertname"]].add("fires" if check["exp_alerts"] else "silent")
    assert {rule["alert"]: cases[rule["alert"]] for rule in alert_rules()} == {
        rule["alert"]: {"fires", "silent"} for rule in alert_rules()
    }


def test_every_alert_has_a_severity_and_a_runbook_section_in_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    headings = {line.removeprefix("#### ").strip() for line in readme.splitlines() if line.startswith("#### ")}
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["runbook"] == f"README.md#{name.lower()}"
        assert name in headings, f"README has no runbook section '#### {name}'"


def test_the_test_file_names_the_rules_file_next_to_it() -> None:
    rule_files = yaml.safe_load(ALERT_TESTS.read_text())["rule_files"]
    assert [(ALERT_TESTS.parent / Path(name)).resolve() for name in rule_files] == [ALERTS.resolve()]
