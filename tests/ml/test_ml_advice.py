"""Next best actions and churn risk levels follow the bands of `crm.bands` at their edges."""

from __future__ import annotations

import numpy as np
import orjson
import polars as pl

from crm.bands import (
    CHURN_RISK_MIN_PROBABILITY,
    LEAD_SCORE_HOT_MIN,
    LEAD_SCORE_WARM_MIN,
    churn_risk_level,
    lead_band,
)
from ml import churn, nba


def _advise(scores: list[int], weakest: str = "", **counts: int) -> list[tuple[list[str], list[str]]]:
    """(actions, recommendations) per score, for leads with the given engagement counts."""
    n = len(scores)
    features = pl.DataFrame({c: [counts.get(c, 0)] * n for c in nba.ENGAGEMENT})
    factors = pl.DataFrame(
        {
            "pos_label": ["E-mail clicks"] * n,
            "neg_label": [f'"{weakest}" label' if weakest else ""] * n,
            "neg_feature": [weakest] * n,
        }
    )
    out = nba.lead_advice(features, pl.Series("score", scores, dtype=pl.Int32), factors)
    return [
        ([a["action"] for a in orjson.loads(acts)], orjson.loads(recs))
        for acts, recs in out.select("next_best_actions", "recommendations").iter_rows()
    ]


def test_lead_actions_switch_at_the_bands() -> None:
    hot, below_hot = LEAD_SCORE_HOT_MIN, LEAD_SCORE_HOT_MIN - 1
    warm, cold = LEAD_SCORE_WARM_MIN, LEAD_SCORE_WARM_MIN - 1
    assert [lead_band(s) for s in (hot, below_hot, warm, cold)] == ["hot", "warm", "warm", "cold"]
    (a_hot, r_hot), (a_below, _), (a_warm, _), (a_cold, _) = _advise(
        [hot, below_hot, warm, cold], email_opens=2
    )
    assert a_hot == ["Book a meeting"] and "Prioritise this lead today." in r_hot
    assert a_below == a_warm == ["Send a relevant case study"]
    assert a_cold == ["Move to a nurture campaign"]
    [(met, _)] = _advise([hot], meetings_completed=1)
    assert met == ["Send a proposal"]


def test_lead_actions_by_engagement_and_weakest_factor() -> None:
    [(weak, _)] = _advise([LEAD_SCORE_WARM_MIN], weakest="calls_answered", email_opens=1)
    assert weak == ["Try another channel"]
    [(clicked, _)] = _advise([nba.CALL_MIN_SCORE], email_clicks=1)
    assert clicked == ["Call while interest is fresh", "Move to a nurture campaign"]
    [(silent, recs)] = _advise([nba.NURTURE_ONLY_BELOW - 1])
    assert silent == ["Move to a nurture campaign", "Verify contact details"]
    assert recs[-1].startswith("Keep in automated nurture")
    # labels with double quotes stay valid JSON
    [(_, quoted)] = _advise([50], weakest="response_time_minutes", email_opens=1)
    assert quoted[1] == "Work on the weakest signal: 'response_time_minutes' label."


def test_churn_risk_levels_are_the_bands() -> None:
    edges = sorted(CHURN_RISK_MIN_PROBABILITY.values())
    p = np.array([0.0, *edges, *(e - 1e-9 for e in edges), 0.99, 1.0])
    assert churn.churn_risk_levels(p).tolist() == [churn_risk_level(x) for x in p]


def test_churn_actions_for_at_risk_levels() -> None:
    assert nba.churn_actions("critical", "usage")[0]["action"] == nba.CAUSE_PLAYS["usage"][0]
    assert [a["action"] for a in nba.churn_actions("critical", None)] == ["Schedule an executive check-in"]
    assert nba.churn_actions("high", "support")[0]["priority"] == "high"
    assert nba.churn_actions("medium", "financial")[0]["priority"] == "medium"
    assert nba.churn_actions("low", "usage") == []
