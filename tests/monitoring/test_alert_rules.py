"""The alert rules (monitoring/prometheus/rules) as Prometheus reads them: valid, each with a
`promtool test rules` case that makes it fire, and the generated prometheus.yml valid with them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from crm.settings import PROJECT_ROOT
from stack import prometheus

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (make monitoring)")
RULE_FILES = sorted(prometheus.RULES_DIR.glob("*.yml"))
TEST_FILES = sorted(prometheus.RULE_TESTS_DIR.glob("*.yml"))


def promtool(*args: str) -> subprocess.CompletedProcess:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)


def alerts_of(path: Path) -> list[dict]:
    return [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"] if "alert" in r]


def test_rules_are_valid_and_documented() -> None:
    r = promtool("check", "rules", *map(str, RULE_FILES))
    assert r.returncode == 0, r.stdout + r.stderr
    docs = (PROJECT_ROOT / "docs" / "operators.md").read_text()
    for path in RULE_FILES:
        for rule in alerts_of(path):
            assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
            anchor = rule["annotations"]["runbook"].split("#", 1)[1]
            assert anchor == rule["alert"].lower()
            assert f"#### {rule['alert']}\n" in docs, f"{rule['alert']}: no runbook in docs/operators.md"


def test_every_alert_fires_in_a_promtool_case() -> None:
    r = promtool("test", "rules", *map(str, TEST_FILES))
    assert r.returncode == 0, r.stdout + r.stderr
    fired: set[str] = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            fired |= {t["alertname"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    alerts = {rule["alert"] for path in RULE_FILES for rule in alerts_of(path)}
    assert alerts and alerts <= fired, f"alerts no test makes fire: {sorted(alerts - fired)}"


def test_generated_config_is_valid(tmp_path: Path) -> None:
    config = tmp_path / "prometheus" / "prometheus.yml"
    config.parent.mkdir(parents=True)
    body = prometheus.prometheus_config(tmp_path, "127.0.0.1:9093", [tmp_path, Path("/var/tmp")])
    config.write_text(yaml.safe_dump(body))
    r = promtool("check", "config", str(config))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in r.stdout, r.stdout
