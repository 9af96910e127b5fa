"""Bands are defined once in Python (`crm.bands`) and once as dbt vars: they must agree."""

from __future__ import annotations

import yaml

from crm import bands
from crm.settings import PROJECT_ROOT


def _dbt_vars() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "dbt" / "dbt_project.yml").read_text())["vars"]


def test_dbt_vars_equal_python_bands() -> None:
    v = _dbt_vars()
    assert v["lead_score_hot_min"] == bands.LEAD_SCORE_HOT_MIN
    assert v["lead_score_warm_min"] == bands.LEAD_SCORE_WARM_MIN
    assert {
        "low": v["health_risk_low_min"],
        "medium": v["health_risk_medium_min"],
        "high": v["health_risk_high_min"],
    } == bands.HEALTH_RISK_MIN_SCORE


def test_band_edges() -> None:
    assert [bands.lead_band(s) for s in (100, 70, 69, 40, 39, 0)] == [
        "hot",
        "hot",
        "warm",
        "warm",
        "cold",
        "cold",
    ]
    assert [bands.health_risk_level(s) for s in (70, 69.9, 50, 30, 29.9)] == [
        "low",
        "medium",
        "medium",
        "high",
        "critical",
    ]
    assert [bands.churn_risk_level(p) for p in (0.5, 0.49, 0.25, 0.1, 0.09)] == [
        "critical",
        "high",
        "high",
        "medium",
        "low",
    ]
