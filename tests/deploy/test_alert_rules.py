"""deploy/prometheus/: the rule file and config pass promtool, and each alert fires on the
situation it names and not on the near miss (promtool's rule unit tests, alerts_test.yml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import missing_tool
from tests.deploy.prom import ALERTS, PROM_CONFIG, PROMTOOL, alert_rules, promtool

@pytest.fixture(autouse=True)
def _needs_prometheus() -> None:
    if PROMTOOL is None:
        missing_tool("promtool (Debian package prometheus)")

UNIT_TESTS = Path(__file__).resolve().parent / "alerts_test.yml"

# The list: error ratio, p99 above a bound, breaker open, queue depth growing, dead
# letters, bridge down. Plus caller errors, no instance scraped at all, a failed config reload.
REQUIRED = {"BridgeHighErrorRatio", "BridgeHighLatencyP99", "BridgeBreakerOpen",
            "BridgeQueueGrowing", "BridgeDeadLetters", "BridgeDown"}


def test_promtool_check_rules():
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_check_config():
    result = promtool("check", "config", str(PROM_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_and_fires_as_specified():
    names = {r["alert"] for r in alert_rules()}
    assert REQUIRED <= names
    tested = set()
    for case in yaml.safe_load(UNIT_TESTS.read_text(encoding="utf-8"))["tests"]:
        tested |= {t["alertname"] for t in case["alert_rule_test"] if t.get("exp_alerts")}
    assert tested == names, f"alerts without a firing unit test: {sorted(names - tested)}"
    result = promtool("test", "rules", str(UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_severity_and_explains_itself():
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_every_alert_is_explained_in_the_operations_guide():
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [r["alert"] for r in alert_rules() if f"**{r['alert']}**" not in guide]
    assert not missing, f"docs/operations.md, Alerts: explain {missing}"
