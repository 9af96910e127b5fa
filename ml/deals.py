"""Deal win probability: a calibrated model (logistic or gradient-boosted trees, per tenant:
`ml.family`) on closed deals when at least 200 were won and 200 lost, otherwise the
pipeline's stage default probability (`calculateDealProbability`).

Input frame (`analytics.ml_features__deals`), one row per deal: tenant_id, deal_id, status
('open'|'won'|'lost'), stage_name, stage_probability (the pipeline's default, 0-100),
deal_value, stages_reached (open stages entered so far, or before the close), age_days,
pipeline_name, lead_source, created_at, closed_at. For closed deals the stage columns describe
the last open stage before the close. The numeric columns but the stage default, and the
pipeline and lead source, are the model's inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from crm.errors import CRMError, CRMErrorCode
from ml import family
from ml.explain import top_factors
from ml.metrics import auc, ece
from ml.schemas import humanize

MODEL_NAME = "deal_win"
MIN_WON = 200
MIN_LOST = 200
STAGE_VERSION = "stage-defaults"
STAGE_DEFAULT = "stage_default"
"""The method of a probability that is the stage's default (no model)."""
EXCLUDE = {
    "stage_probability",
    "status",
    "stage_name",
    "closed_at",
    "pipeline_id",
    "expected_close_date",
    "actual_close_date",
    "won",
}


@dataclass
class DealModel:
    model: family.Model
    numeric: list[str]
    categorical: list[str]


@dataclass
class DealTrain:
    model: DealModel
    metrics: dict[str, float]
    params: dict


def _features(df: pl.DataFrame) -> tuple[list[str], list[str]]:
    num = [c for c, t in df.schema.items() if t.is_numeric() and c not in EXCLUDE]
    cat = [c for c in ("pipeline_name", "lead_source") if c in df.columns]
    return num, cat


def train(df: pl.DataFrame, seed: int = 0) -> DealTrain:
    # A tenant without deals reads as an empty frame whose columns have no type: cast first.
    closed = df.with_columns(pl.col("status").cast(pl.Utf8)).filter(pl.col("status").is_in(["won", "lost"]))
    closed = closed.sort("closed_at", "deal_id")
    won = int((closed["status"] == "won").sum())
    lost = closed.height - won
    if won < MIN_WON or lost < MIN_LOST:
        raise CRMError(
            CRMErrorCode.SCORING_SERVICE_UNAVAILABLE,
            f"{won} won and {lost} lost deals; {MIN_WON} of each needed",
            {"won": won, "lost": lost},
        )
    closed = closed.with_columns(won=(pl.col("status") == "won").cast(pl.Int8))
    n = closed.height
    h, c = int(n * 0.8), int(n * 0.64)
    fit, cal, hold = closed.slice(0, c), closed.slice(c, h - c), closed.slice(h)
    num, cat = _features(closed)
    lm, choice = family.fit_out_of_time(
        fit, fit["won"].to_numpy(), cal, cal["won"].to_numpy(), num, cat, seed=seed
    )
    y = hold["won"].to_numpy()
    p = lm.predict(hold)
    # closed deals sit in a Closed stage (default 0 or 100): the stage baseline ranks them by
    # how far through the pipeline they got, which is what stage defaults encode
    base = hold["stages_reached"].cast(pl.Float64).to_numpy()
    metrics = {
        "auc": auc(y, p),
        "ece": ece(y, p),
        "baseline_auc": auc(y, base),
        "holdout_rows": float(hold.height),
        "won": float(won),
        "lost": float(lost),
        **choice.metrics(),
    }
    params = {
        "model": family.MODEL_KIND[choice.family],
        **choice.params(),
        "numeric": num,
        "categorical": cat,
    }
    return DealTrain(DealModel(lm, num, cat), metrics, params)


def predict(
    df: pl.DataFrame, model: DealModel | None, version: str | None, scored_at: datetime
) -> pl.DataFrame:
    """Rows for `ml.deal_probabilities` (open deals; closed ones are 0 or 1 by definition): the
    model's, or with `model=None` the stage's default probability. A model that cannot score
    raises: the caller falls back (`ml.scoring.with_fallback`)."""
    if model is not None:
        p, contrib = model.model.contributions(df)
        inputs = model.model.inputs
        method = "model"
    else:
        p = df["stage_probability"].cast(pl.Float64).fill_null(0).to_numpy() / 100
        inputs = ["stage_probability"]
        contrib = np.zeros((df.height, 1))
        method = STAGE_DEFAULT
        version = STAGE_VERSION
    f = top_factors(df, inputs, {c: humanize(c) for c in inputs}, contrib, k_pos=3, k_neg=2)
    return pl.DataFrame(
        {
            "tenant_id": df["tenant_id"].cast(pl.Utf8),
            "deal_id": df["deal_id"].cast(pl.Utf8),
            "probability": np.round(np.clip(p, 0, 1), 6),
            "method": method,
            "model_version": version or "",
            "factors": f["factors"],
        }
    ).with_columns(scored_at=pl.lit(scored_at, dtype=pl.Datetime("us", "UTC")))
