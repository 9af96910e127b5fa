"""Lead scoring: train (time-based split, calibrated logistic model or gradient-boosted trees,
whichever validates better for the tenant: `ml.family`), score, explain, with the
rule-based scorer (what answers without a model) and the naive Bayes baseline.

Input: a lead feature frame (see `ml.schemas`: tenant_id, lead_id, created_at,
`converted_90d`, feature columns). One model per tenant: a tenant's leads never inform
another tenant's scores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from crm.errors import CRMError, CRMErrorCode
from ml import custom, family, nba
from ml.explain import top_factors
from ml.linear import split_columns
from ml.metrics import auc, ece
from ml.naive_bayes import NaiveBayesBaseline
from ml.scalars import max_of, min_of
from ml.schemas import LEAD_LABEL, lead_label

MODEL_NAME = "lead_scoring"
MIN_CONVERSIONS = 120
"""Einstein's minimum: fewer conversions in the training window -> rule-based scoring."""
LABEL_DAYS = 90
HOLDOUT_SHARE = 0.2
CALIB_SHARE = 0.2
RULES_VERSION = "rules-v1"
CHUNK = 250_000
COLUMNS = [
    "tenant_id",
    "lead_id",
    "score",
    "confidence",
    "method",
    "model_version",
    "factors",
    "recommendations",
    "next_best_actions",
    "scored_at",
    "inputs_digest",
]
"""Columns of `ml.lead_scores` that scoring writes, in order."""
DIGEST_SEED = 0x5EEDC0FFEE


def inputs_digest(df: pl.DataFrame) -> pl.Series:
    """Per row, a 64-bit digest of the feature row a score was computed from (every column,
    categories as their text): an on-demand read whose row has the stored score's digest, under
    the same model version, is answered with that score instead of computing it again. Stable
    within one Polars version (batch and API share it); a differing digest only costs a
    computation."""
    text = df.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.Utf8))
    return text.hash_rows(seed=DIGEST_SEED).reinterpret(signed=True).alias("inputs_digest")


RULES: tuple[tuple[str, float, float], ...] = (
    # column, points per unit, cap (documented in README "Models")
    ("email_opens", 2.0, 16.0),
    ("email_clicks", 4.0, 16.0),
    ("website_visits", 1.5, 12.0),
    ("form_submissions", 6.0, 12.0),
    ("content_downloads", 4.0, 12.0),
    ("calls_answered", 5.0, 15.0),
    ("meetings_scheduled", 4.0, 8.0),
    ("meetings_completed", 10.0, 20.0),
)
RULE_BASE = 5.0
RULE_BIG_COMPANY = ("employee_count", 200, 5.0)


class NotEnoughData(CRMError):
    def __init__(self, message: str, context: dict | None = None) -> None:
        super().__init__(CRMErrorCode.SCORING_SERVICE_UNAVAILABLE, message, context)


@dataclass
class LeadModel:
    """What the registry stores for a lead model (pickled with joblib)."""

    model: family.Model
    baseline: NaiveBayesBaseline
    numeric: list[str]
    categorical: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    custom: custom.Keys | None = None
    """The custom properties it reads (`ml.custom`; None: none, or trained before they were)."""

    def frame(self, df: pl.DataFrame) -> pl.DataFrame:
        """`df` with the model's custom properties as columns."""
        return custom.expand(df, self.custom)

    def predict(self, df: pl.DataFrame) -> np.ndarray:
        return self.model.predict(self.frame(df))


@dataclass
class TrainResult:
    model: LeadModel
    metrics: dict[str, float]
    params: dict
    window_start: datetime
    window_end: datetime
    holdout: pl.DataFrame  # the holdout rows (for comparing with the active model)
    holdout_pred: np.ndarray


def labeled(df: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """Leads old enough to have a label (created at least 90 days before `as_of`), by time."""
    cutoff = as_of - timedelta(days=LABEL_DAYS)
    return (
        df.filter(pl.col(LEAD_LABEL).is_not_null() & (pl.col("created_at") <= cutoff))
        .with_columns(pl.col(LEAD_LABEL).cast(pl.Int8))
        .sort("created_at", "lead_id")
    )


def time_split(
    df: pl.DataFrame, holdout: float = HOLDOUT_SHARE, calib: float = CALIB_SHARE
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(fit, calibration, holdout): consecutive slices in creation order (no future leaks back)."""
    n = df.height
    h = int(n * (1 - holdout))
    c = int(h * (1 - calib))
    return df.slice(0, c), df.slice(c, h - c), df.slice(h, n - h)


def train(
    df: pl.DataFrame, as_of: datetime, seed: int = 0, min_conversions: int = MIN_CONVERSIONS
) -> TrainResult:
    """Fit one tenant's lead model. Raises `NotEnoughData` below `min_conversions`."""
    data = labeled(df, as_of)
    conversions = int(data[LEAD_LABEL].sum()) if data.height else 0
    if conversions < min_conversions:
        raise NotEnoughData(
            f"{conversions} conversions in the training window, {min_conversions} needed",
            {"conversions": conversions, "leads": data.height},
        )
    # the custom properties' keys are chosen on the training window only, like everything else
    window = data.head(data.height - time_split(data)[2].height)
    keys = custom.discover(window, LEAD_LABEL)
    data = custom.expand(data, keys)
    fit, cal, hold = time_split(data)
    numeric, categorical = split_columns(data)
    y_fit = fit[LEAD_LABEL].to_numpy()
    model, choice = family.fit_out_of_time(
        fit, y_fit, cal, cal[LEAD_LABEL].to_numpy(), numeric, categorical, seed=seed
    )
    nb = NaiveBayesBaseline.fit(fit, y_fit, categorical)
    labels = {c: custom.label(c) if c in keys.columns else lead_label(c) for c in numeric + categorical}
    lm = LeadModel(model, nb, numeric, categorical, labels, keys)
    y_hold = hold[LEAD_LABEL].to_numpy()
    p_hold = lm.predict(hold)
    metrics = {
        "auc": auc(y_hold, p_hold),
        "ece": ece(y_hold, p_hold),
        "baseline_auc": auc(y_hold, nb.predict(hold)),
        "holdout_rows": float(hold.height),
        "holdout_conversions": float(y_hold.sum()),
        "train_rows": float(fit.height + cal.height),
        "train_conversions": float(conversions - y_hold.sum()),
        "base_rate": float(y_hold.mean()) if y_hold.size else 0.0,
        **choice.metrics(),
    }
    params = {
        "model": family.MODEL_KIND[choice.family],
        **choice.params(),
        "C": 0.5,
        "seed": seed,
        "numeric": numeric,
        "categorical": categorical,
        "holdout_share": HOLDOUT_SHARE,
        "calibration_share": CALIB_SHARE,
        "label_days": LABEL_DAYS,
        **keys.params(),
    }
    created = data["created_at"]
    return TrainResult(
        lm, metrics, params, min_of(created, datetime), max_of(created, datetime), hold, p_hold
    )


def rule_scores(df: pl.DataFrame) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The documented rule-based scorer: (score 0-100, rule inputs, points per rule)."""
    inputs = [c for c, _, _ in RULES] + [RULE_BIG_COMPANY[0]]
    pts = np.zeros((df.height, len(inputs)))
    for j, (col, per, cap) in enumerate(RULES):
        if col in df.columns:
            x = df[col].cast(pl.Float64).fill_null(0).fill_nan(0).to_numpy()
            pts[:, j] = np.minimum(per * np.maximum(x, 0), cap)
    col, threshold, bonus = RULE_BIG_COMPANY
    if col in df.columns:
        x = df[col].cast(pl.Float64).fill_null(0).to_numpy()
        pts[:, -1] = np.where(x >= threshold, bonus, 0.0)
    score = np.clip(np.round(RULE_BASE + pts.sum(axis=1)), 0, 100)
    return score, inputs, pts


def score(
    df: pl.DataFrame, model: LeadModel | None, model_version: str | None, scored_at: datetime
) -> pl.DataFrame:
    """Rows for `ml.lead_scores`, one per input lead: the model's, or with `model=None` the
    rule-based scorer's (method 'rules'). A model that cannot score raises: the caller falls
    back (`ml.scoring.with_fallback`)."""
    parts = list(score_chunks(df, model, model_version, scored_at, CHUNK))
    return pl.concat(parts) if parts else pl.DataFrame()


def score_chunks(
    df: pl.DataFrame,
    model: LeadModel | None,
    model_version: str | None,
    scored_at: datetime,
    chunk: int = CHUNK // 2,
) -> Iterator[pl.DataFrame]:
    """`score` chunk by chunk, for streaming writes of large tenants."""
    for start in range(0, df.height, chunk):
        yield _score_chunk(df.slice(start, chunk), model, model_version, scored_at)


def _score_chunk(
    df: pl.DataFrame, model: LeadModel | None, model_version: str | None, scored_at: datetime
) -> pl.DataFrame:
    digest = inputs_digest(df)
    if model is not None:
        df = model.frame(df)
        p, contrib = model.model.contributions(df)
        if not np.all(np.isfinite(p)):
            raise ValueError(f"{model_version} gave non-finite probabilities")
        method = "model"
        scores = np.clip(np.round(100 * p), 0, 100)
        coverage = model.model.coverage(df)
        confidence = coverage * (0.5 + 0.5 * np.abs(2 * p - 1))
        inputs, labels = model.model.inputs, model.labels
    else:
        method = "rules"
        scores, inputs, contrib = rule_scores(df)
        labels = {c: lead_label(c) for c in inputs}
        present = [c for c in inputs if c in df.columns]
        cov = (
            (
                df.select(pl.sum_horizontal([pl.col(c).is_not_null().cast(pl.Int32) for c in present]))
                .to_series()
                .to_numpy()
                / len(inputs)
            )
            if present
            else np.zeros(df.height)
        )
        confidence = 0.4 * cov
        model_version = RULES_VERSION
    f = top_factors(df, inputs, labels, contrib)
    s = pl.Series("score", scores.astype(np.int32))
    out = pl.DataFrame(
        {
            "tenant_id": df["tenant_id"].cast(pl.Utf8),
            "lead_id": df["lead_id"].cast(pl.Utf8),
            "score": s,
            "confidence": np.round(confidence, 4),
            "method": method,
            "model_version": model_version or "",
            "factors": f["factors"],
        }
    )
    return (
        pl.concat([out, nba.lead_advice(df, s, f), digest.to_frame()], how="horizontal")
        .with_columns(scored_at=pl.lit(scored_at, dtype=pl.Datetime("us", "UTC")))
        .select(COLUMNS)
    )


def explain(
    df: pl.DataFrame, lead_id: str, model: LeadModel | None, model_version: str | None, scored_at: datetime
) -> dict:
    """explainLeadScore: the score row of one lead, with its factors decoded, plus the model's
    base log-odds so `base + sum(contributions) == logit(probability)` can be checked."""
    import orjson

    row = df.filter(pl.col("lead_id").cast(pl.Utf8) == str(lead_id))
    if row.height == 0:
        raise CRMError(
            CRMErrorCode.LEAD_NOT_FOUND, f"lead {lead_id} has no features", {"lead_id": str(lead_id)}
        )
    out = score(row, model, model_version, scored_at).row(0, named=True)
    for k in ("factors", "recommendations", "next_best_actions"):
        out[k] = orjson.loads(out[k])
    if out["method"] == "model" and model is not None:
        p, contrib = model.model.contributions(model.frame(row))
        out["probability"] = float(p[0])
        out["base_logit"] = model.model.base_logit
        out["all_contributions"] = {
            name: float(c) for name, c in zip(model.model.inputs, contrib[0], strict=True)
        }
    else:
        _, inputs, pts = rule_scores(row)
        out["base_points"] = RULE_BASE
        out["all_contributions"] = {name: float(c) for name, c in zip(inputs, pts[0], strict=True)}
    return out
