"""Score bands, defined once for the models, the API and the pages.

The warehouse reads the same numbers as dbt vars (`dbt/dbt_project.yml`: `lead_score_*`,
`health_risk_*`); `tests/crm/test_bands.py` holds the two equal. Two different things are
banded into risk levels, and they keep distinct names everywhere:
- `health_risk_level`: the customer health score (0-100, dbt's `fct_customer_health`) banded;
- `churn_risk_level`: the churn model's probability (`ml.churn_predictions`) banded.
Both use the seed design's levels low, medium, high, critical.
"""

from __future__ import annotations

from typing import Final

LEAD_SCORE_HOT_MIN: Final = 70
"""A lead scoring at least this is hot (book a meeting, prioritise today)."""
LEAD_SCORE_WARM_MIN: Final = 40
"""At least this (and below hot) is warm; below it, cold (nurture)."""

HEALTH_RISK_MIN_SCORE: Final = {"low": 70, "medium": 50, "high": 30}
"""Health score at or above which a customer's health risk level is this (below `high`'s: critical)."""

CHURN_RISK_MIN_PROBABILITY: Final = {"critical": 0.50, "high": 0.25, "medium": 0.10}
"""Churn probability at or above which the churn risk level is this (below `medium`'s: low)."""

RISK_LEVELS: Final = ("low", "medium", "high", "critical")
AT_RISK_LEVELS: Final = ("high", "critical")
"""The levels the pages count as "at risk"."""


def lead_band(score: float) -> str:
    """hot, warm or cold."""
    if score >= LEAD_SCORE_HOT_MIN:
        return "hot"
    return "warm" if score >= LEAD_SCORE_WARM_MIN else "cold"


def health_risk_level(score: float) -> str:
    for level in ("low", "medium", "high"):
        if score >= HEALTH_RISK_MIN_SCORE[level]:
            return level
    return "critical"


def churn_risk_level(probability: float) -> str:
    for level in ("critical", "high", "medium"):
        if probability >= CHURN_RISK_MIN_PROBABILITY[level]:
            return level
    return "low"
