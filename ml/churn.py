"""Churn: probability of churning within 90 days, risk level, and churn factors by category.

Input: a customer feature frame (`ml.schemas`: tenant_id, customer_id, `churned_90d`, feature
columns named by HealthFactor category: usage_*, support_*, engagement_*, financial_*).
Model: the same calibrated, exactly-explainable logistic model as leads; each factor carries
its category, weight (the model's coefficient), value, impact and contribution. Fallback
(too few churners, or no loadable model): documented rules over tenant-relative ranks.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from ml.errors import CRMError, CRMErrorCode
from ml.explain import top_factors
from ml.linear import LinearModel, split_columns
from ml.metrics import auc, ece
from ml.schemas import CUSTOMER_LABEL, customer_category, humanize

log = logging.getLogger(__name__)

MODEL_NAME = "churn"
MIN_CHURNERS = 50
RULES_VERSION = "churn-rules-v1"
RISK_LEVELS = ((0.5, "critical"), (0.25, "high"), (0.10, "medium"), (0.0, "low"))
"""churn_probability >= threshold -> level (first match)."""
RISING_IS_BAD = (
    "ticket",
    "priority",
    "resolution",
    "downgrade",
    "failed",
    "negative",
    "unanswered",
    "days_since",
)
"""Rule fallback: features whose growth means risk; all others (usage, CSAT, MRR...) the reverse."""


@dataclass
class ChurnModel:
    model: LinearModel
    numeric: list[str]
    categorical: list[str]
    categories: dict[str, str] = field(default_factory=dict)


@dataclass
class ChurnTrain:
    model: ChurnModel
    metrics: dict[str, float]
    params: dict
    holdout: pl.DataFrame
    holdout_pred: np.ndarray


def _order_key(df: pl.DataFrame) -> pl.DataFrame:
    """Time order when the frame has one (cut or start date), else a stable hash of the id."""
    for c in ("feature_cut_at", "as_of", "became_customer_at", "customer_since", "created_at"):
        if c in df.columns:
            return df.sort(c, "customer_id")
    h = [zlib.crc32(x.encode()) for x in df["customer_id"].cast(pl.Utf8).to_list()]
    return df.with_columns(_h=pl.Series(h)).sort("_h").drop("_h")


def train(df: pl.DataFrame, seed: int = 0, min_churners: int = MIN_CHURNERS) -> ChurnTrain:
    data = _order_key(
        df.filter(pl.col(CUSTOMER_LABEL).is_not_null()).with_columns(pl.col(CUSTOMER_LABEL).cast(pl.Int8))
    )
    churners = int(data[CUSTOMER_LABEL].sum()) if data.height else 0
    if churners < min_churners:
        raise CRMError(
            CRMErrorCode.SCORING_SERVICE_UNAVAILABLE,
            f"{churners} churners in the training data, {min_churners} needed",
            {"churners": churners},
        )
    n = data.height
    h, c = int(n * 0.8), int(n * 0.8 * 0.8)
    fit, cal, hold = data.slice(0, c), data.slice(c, h - c), data.slice(h)
    numeric, categorical = split_columns(
        data, exclude={"feature_cut_at", "became_customer_at", "customer_since"}
    )
    lm = LinearModel.fit(
        fit,
        fit[CUSTOMER_LABEL].to_numpy(),
        cal,
        cal[CUSTOMER_LABEL].to_numpy(),
        numeric,
        categorical,
        seed=seed,
    )
    cm = ChurnModel(lm, numeric, categorical, {x: customer_category(x) for x in numeric + categorical})
    y = hold[CUSTOMER_LABEL].to_numpy()
    p = lm.predict(hold)
    rules_p, _, _ = rule_scores(hold)
    metrics = {
        "auc": auc(y, p),
        "ece": ece(y, p),
        "baseline_auc": auc(y, rules_p),
        "holdout_rows": float(hold.height),
        "holdout_churners": float(y.sum()),
        "base_rate": float(y.mean()) if y.size else 0.0,
    }
    params = {"model": "logistic+platt", "seed": seed, "numeric": numeric, "categorical": categorical}
    return ChurnTrain(cm, metrics, params, hold, p)


def risk_level(p: np.ndarray) -> np.ndarray:
    out = np.full(p.shape, "low", dtype=object)
    for threshold, level in reversed(RISK_LEVELS):
        out[p >= threshold] = level
    return out


def rule_scores(df: pl.DataFrame) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Documented fallback: each numeric feature's rank within the frame (0..1) oriented so
    that 1 = risky, minus 0.5, is its contribution; probability = 0.05 * exp(2 * mean)."""
    numeric, _ = split_columns(df, exclude={"feature_cut_at", "became_customer_at", "customer_since"})
    if not numeric:
        return np.full(df.height, 0.05), [], np.zeros((df.height, 0))
    ranks = df.select(
        [pl.col(c).cast(pl.Float64).rank("average") / pl.col(c).count() for c in numeric]
    ).to_numpy()
    ranks = np.nan_to_num(ranks, nan=0.5)
    sign = np.array([1.0 if any(k in c for k in RISING_IS_BAD) else -1.0 for c in numeric])
    contrib = sign * (ranks - 0.5)
    p = np.clip(0.05 * np.exp(2.0 * contrib.mean(axis=1) * 4), 0.0, 0.95)
    return p, numeric, contrib


def predict(
    df: pl.DataFrame, model: ChurnModel | None, model_version: str | None, scored_at: datetime
) -> pl.DataFrame:
    """Rows for `ml.churn_predictions`; rules when `model` is None or fails."""
    method = "rules"
    if model is not None:
        try:
            p, contrib = model.model.contributions(df)
            inputs = model.model.inputs
            method = "model"
            weights = {}
            enc = model.model.encoder
            for name in inputs:
                sel = [k for k, s in enumerate(enc.source) if s == name]
                weights[name] = float(np.abs(model.model.coef[sel]).sum())
        except Exception as exc:
            log.warning(
                "%s: churn model failed (%s); rules instead", CRMErrorCode.SCORING_SERVICE_UNAVAILABLE, exc
            )
    if method == "rules":
        p, inputs, contrib = rule_scores(df)
        weights = {name: 1.0 / max(len(inputs), 1) for name in inputs}
        model_version = RULES_VERSION
    cats = [customer_category(c) for c in inputs]
    labels = {
        c: humanize(
            c.split("_", 1)[1]
            if c.split("_", 1)[0] in ("usage", "support", "engagement", "financial") and "_" in c
            else c
        )
        for c in inputs
    }
    f = top_factors(
        df,
        inputs,
        labels,
        contrib,
        k_pos=3,
        k_neg=2,
        extra={
            "category": cats,
            "weight": [f"{weights[c]:.4f}" for c in inputs],
            "factor": [labels[c] for c in inputs],
        },
    )
    # impact: a positive contribution to churn is a negative impact on health
    factors = (
        f["factors"]
        .str.replace_all(r'("contribution":)(\d)', r'"impact":"negative",$1$2')
        .str.replace_all(r'("contribution":)-', r'"impact":"positive",$1-')
    )
    return pl.DataFrame(
        {
            "tenant_id": df["tenant_id"].cast(pl.Utf8),
            "customer_id": df["customer_id"].cast(pl.Utf8),
            "churn_probability": np.round(np.clip(p, 0, 1), 6),
            "risk_level": risk_level(p).astype(str),
            "factors": factors,
            "method": method,
            "model_version": model_version or "",
        }
    ).with_columns(scored_at=pl.lit(scored_at, dtype=pl.Datetime("us", "UTC")))


def category_ranking(contrib: np.ndarray, inputs: list[str]) -> np.ndarray:
    """Per row, categories ordered by their summed positive (churn-raising) contribution."""
    cats = np.array([customer_category(c) for c in inputs])
    names = np.array(sorted(set(cats)))
    totals = np.stack(
        [np.where(contrib[:, cats == c] > 0, contrib[:, cats == c], 0).sum(axis=1) for c in names], 1
    )
    return names[np.argsort(-totals, axis=1, kind="stable")]


def identify_churn_factors(
    df: pl.DataFrame, customer_id: str, model: ChurnModel | None, version: str | None, scored_at: datetime
) -> list[dict]:
    """identifyChurnFactors: the factors of one customer, strongest first."""
    import orjson

    row = df.filter(pl.col("customer_id").cast(pl.Utf8) == str(customer_id))
    if row.height == 0:
        raise CRMError(CRMErrorCode.MODEL_NOT_FOUND, f"customer {customer_id} has no features")
    return orjson.loads(predict(row, model, version, scored_at)["factors"][0])
