"""Next best actions and advice: documented rules, each defined once.

The lead rules are a table of Polars conditions evaluated over every scored lead at once (a
million leads in seconds; one lead is a frame of one row). The bands come from `crm.bands`.

Lead actions (all that apply, listed by priority):
  1. hot lead without a meeting held                        -> "Book a meeting"      (high)
  2. hot lead with a meeting held                           -> "Send a proposal"     (high)
  3. warm lead whose strongest negative factor is a weak
     channel (unanswered calls, few replies, slow responses) -> "Try another channel" (medium)
  4. warm lead, otherwise                                   -> "Send a relevant case study" (medium)
  5. e-mail clicks or downloads, no call answered, score
     at least CALL_MIN_SCORE                                -> "Call while interest is fresh" (medium)
  6. cold lead                                              -> "Move to a nurture campaign" (low)
  7. no engagement at all                                   -> "Verify contact details" (low)
Lead recommendations: the strongest and the weakest factor; "prioritise today" for a hot
lead; "keep in nurture" below NURTURE_ONLY_BELOW.
Churn: an at-risk churn level -> the play of the strongest cause; critical -> an executive
check-in; medium -> the cause's play as an early warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from crm.bands import AT_RISK_LEVELS, LEAD_SCORE_HOT_MIN, LEAD_SCORE_WARM_MIN

CALL_MIN_SCORE = 25
"""Below this score an unanswered click is not worth a call yet."""
NURTURE_ONLY_BELOW = 20
"""Below this score a lead is left to automated nurture."""
WEAK_CHANNELS = ("calls_answered", "email_replies", "response_time_minutes")
"""Lead features that, as the strongest negative factor, say the channel is not working."""
ENGAGEMENT = (
    "email_opens",
    "email_clicks",
    "website_visits",
    "form_submissions",
    "content_downloads",
    "calls_answered",
    "meetings_completed",
)
"""The lead's own engagement counts (none at all: check the contact details)."""


@dataclass(frozen=True)
class Rule:
    """One advice rule over the advice frame (`advice_frame`'s columns)."""

    when: pl.Expr
    text: pl.Expr
    action: str = ""
    priority: str = ""


_score = pl.col("score")
_said = _score.cast(pl.Utf8)
_hot = _score >= LEAD_SCORE_HOT_MIN
_warm = (_score >= LEAD_SCORE_WARM_MIN) & ~_hot
_cold = _score < LEAD_SCORE_WARM_MIN
_weak_channel = pl.col("weakest_feature").is_in(WEAK_CHANNELS)

LEAD_ACTIONS: tuple[Rule, ...] = (
    Rule(
        _hot & (pl.col("meetings_completed") == 0),
        pl.lit("Score ") + _said + pl.lit(": high likelihood to convert and no meeting held yet"),
        "Book a meeting",
        "high",
    ),
    Rule(
        _hot & (pl.col("meetings_completed") > 0),
        pl.lit("Score ") + _said + pl.lit(" and a meeting already held"),
        "Send a proposal",
        "high",
    ),
    Rule(
        _warm & _weak_channel,
        pl.lit("Warm lead, but ") + pl.col("weakest").str.to_lowercase() + pl.lit(" holds the score back"),
        "Try another channel",
        "medium",
    ),
    Rule(
        _warm & ~_weak_channel,
        pl.lit("Warm lead (score ") + _said + pl.lit(") to move forward"),
        "Send a relevant case study",
        "medium",
    ),
    Rule(
        (pl.col("email_clicks") + pl.col("content_downloads") > 0)
        & (pl.col("calls_answered") == 0)
        & (_score >= CALL_MIN_SCORE),
        pl.lit("Clicked or downloaded content but has not spoken to sales"),
        "Call while interest is fresh",
        "medium",
    ),
    Rule(
        _cold,
        pl.lit("Score ") + _said + pl.lit(": not ready for sales time"),
        "Move to a nurture campaign",
        "low",
    ),
    Rule(
        pl.sum_horizontal(ENGAGEMENT) == 0,
        pl.lit("No engagement recorded"),
        "Verify contact details",
        "low",
    ),
)

LEAD_RECOMMENDATIONS: tuple[Rule, ...] = (
    Rule(
        pl.col("strongest") != "",
        pl.lit("Lean on the strongest signal: ") + pl.col("strongest").str.to_lowercase() + pl.lit("."),
    ),
    Rule(
        pl.col("weakest") != "",
        pl.lit("Work on the weakest signal: ") + pl.col("weakest").str.to_lowercase() + pl.lit("."),
    ),
    Rule(_hot, pl.lit("Prioritise this lead today.")),
    Rule(_score < NURTURE_ONLY_BELOW, pl.lit("Keep in automated nurture; revisit when engagement rises.")),
)


def advice_frame(features: pl.DataFrame, score: pl.Series, factors: pl.DataFrame) -> pl.DataFrame:
    """What the lead rules read: the score, the strongest positive and negative factor
    (`ml.explain.top_factors`) and the engagement counts (0 when missing)."""

    def count(col: str) -> pl.Series:
        if col in features.columns:
            return features[col].cast(pl.Float64).fill_null(0).fill_nan(0).alias(col)
        return pl.Series(col, np.zeros(features.height))

    return pl.DataFrame(
        [
            score.alias("score"),
            factors["pos_label"].alias("strongest"),
            factors["neg_label"].alias("weakest"),
            factors["neg_feature"].alias("weakest_feature"),
            *(count(c) for c in ENGAGEMENT),
        ]
    )


def _quoted(text: pl.Expr) -> pl.Expr:
    """A JSON string of rule text (double quotes in labels become single ones)."""
    return pl.lit('"') + text.str.replace_all('"', "'", literal=True) + pl.lit('"')


def _json_list(items: Sequence[pl.Expr]) -> pl.Expr:
    return pl.lit("[") + pl.concat_str(items, separator=",", ignore_nulls=True) + pl.lit("]")


def lead_advice(features: pl.DataFrame, score: pl.Series, factors: pl.DataFrame) -> pl.DataFrame:
    """Per lead, `recommendations` and `next_best_actions` as JSON text (the seed's
    NextBestAction: action, reason, priority), by the rules above."""
    actions = [
        pl.when(r.when).then(
            pl.lit(f'{{"action":"{r.action}","reason":')
            + _quoted(r.text)
            + pl.lit(f',"priority":"{r.priority}"}}')
        )
        for r in LEAD_ACTIONS
    ]
    recs = [pl.when(r.when).then(_quoted(r.text)) for r in LEAD_RECOMMENDATIONS]
    return advice_frame(features, score, factors).select(
        recommendations=_json_list(recs), next_best_actions=_json_list(actions)
    )


CAUSE_PLAYS = {
    "usage": ("Run an adoption session", "product usage is falling"),
    "support": ("Escalate open tickets to a senior agent", "support experience is poor"),
    "engagement": ("Have the account manager reach out", "the customer has gone quiet"),
    "financial": ("Review pricing and billing with the customer", "billing signals show financial strain"),
}
"""Churn cause (a HealthFactor category) -> (action, why)."""


def churn_actions(churn_risk_level: str, top_category: str | None) -> list[dict]:
    """Next best actions for one customer from its churn risk level (`crm.bands`) and the
    category of its strongest churn factor."""
    out: list[dict] = []
    play = CAUSE_PLAYS.get(top_category or "")
    if churn_risk_level in AT_RISK_LEVELS and play:
        out.append(
            {"action": play[0], "reason": f"Churn risk {churn_risk_level}: {play[1]}", "priority": "high"}
        )
    if churn_risk_level == "critical":
        out.append(
            {"action": "Schedule an executive check-in", "reason": "Critical churn risk", "priority": "high"}
        )
    elif churn_risk_level == "medium" and play:
        out.append({"action": play[0], "reason": f"Early warning: {play[1]}", "priority": "medium"})
    return out
