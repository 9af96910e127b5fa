"""Churn: probability of churning within 90 days, its churn risk level (`crm.bands`), and churn
factors by category.

Input: a customer feature frame (`ml.schemas`: tenant_id, customer_id, `churned_90d`, feature
columns named by HealthFactor category: usage_*, support_*, engagement_*, financial_*).
Model: the same exactly-explainable families as leads (calibrated logistic or gradient-boosted
trees, chosen per tenant on out-of-fold scores: `ml.family`); each factor carries its category,
weight (the coefficients' size, or the trees' share of split gain), value, impact and
contribution. Trained on every labelled snapshot of the frame (`snapshot_at`: the warehouse
gives four, a churn horizon apart), held out by customer, calibrated on out-of-fold logits. Fallback (too few churners, or no loadable
model): documented rules over ranks among the tenant's active customers (`RuleReference`, the
same for one customer as for the whole tenant).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from crm.bands import CHURN_RISK_MIN_PROBABILITY
from crm.errors import CRMError, CRMErrorCode
from ml import custom, family
from ml.explain import top_factors
from ml.family import Choice
from ml.linear import split_columns
from ml.metrics import auc, ece
from ml.schemas import CHURN_DUPLICATES, CUSTOMER_CATEGORIES, CUSTOMER_LABEL, customer_category, humanize

MODEL_NAME = "churn"
MIN_CHURNERS = 50
RULES_VERSION = "churn-rules-v1"
NOT_INPUTS = frozenset({"became_customer_at", "customer_since"})
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
    model: family.Model
    numeric: list[str]
    categorical: list[str]
    categories: dict[str, str] = field(default_factory=dict)
    custom: custom.Keys | None = None
    """The custom properties it reads (`ml.custom`; None: none, or trained before they were)."""

    def frame(self, df: pl.DataFrame) -> pl.DataFrame:
        """`df` with the model's custom properties as columns."""
        return custom.expand(df, self.custom)

    def predict(self, df: pl.DataFrame) -> np.ndarray:
        return self.model.predict(self.frame(df))


@dataclass
class ChurnTrain:
    model: ChurnModel
    metrics: dict[str, float]
    params: dict
    holdout: pl.DataFrame
    holdout_pred: np.ndarray


def _order_key(df: pl.DataFrame) -> pl.DataFrame:
    """Time order when the frame has one (cut or start date), else a stable hash of the id."""
    for c in ("snapshot_at", "as_of", "became_customer_at", "customer_since", "created_at"):
        if c in df.columns:
            return df.sort(c, "customer_id")
    return df.with_columns(_h=pl.Series(_id_hash(df))).sort("_h").drop("_h")


def _id_hash(df: pl.DataFrame) -> np.ndarray:
    """A stable hash of each customer id (holdout and fold membership follow it)."""
    return np.array(
        [zlib.crc32(x.encode()) for x in df["customer_id"].cast(pl.Utf8).to_list()], dtype=np.int64
    )


HOLDOUT_FOLDS = 5


def _latest(data: pl.DataFrame) -> pl.DataFrame:
    """The rows at the latest training snapshot (all rows when the frame has no snapshot time)."""
    if "snapshot_at" not in data.columns or data.height == 0:
        return data
    return data.filter(pl.col("snapshot_at") == pl.col("snapshot_at").max())


def _split(data: pl.DataFrame, fold: int = HOLDOUT_FOLDS - 1) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(fit, holdout): the holdout is fold `fold` of `HOLDOUT_FOLDS` (the last fifth by
    default). With several training snapshots (`snapshot_at`), it is that fifth of the
    customers at the latest snapshot, by a stable hash of their ids, and none of their rows,
    earlier ones included, is fitted on; with one, that fifth in `_order_key` order."""
    pool = data
    if "snapshot_at" in data.columns and data["snapshot_at"].n_unique() > 1:
        pool = _latest(data)
        pool = pool.with_columns(_h=pl.Series(_id_hash(pool))).sort("_h", "customer_id").drop("_h")
    lo, hi = (int(pool.height * f / HOLDOUT_FOLDS) for f in (fold, fold + 1))
    hold = pool.slice(lo, hi - lo)
    return data.filter(~pl.col("customer_id").is_in(hold["customer_id"].implode())), hold


def train(
    df: pl.DataFrame, seed: int = 0, min_churners: int = MIN_CHURNERS, fold: int = HOLDOUT_FOLDS - 1
) -> ChurnTrain:
    """Fit, calibrate and measure on the holdout `fold` (the last fifth unless asked: the other
    folds are for cross-validated measurements, each customer scored by a model that never saw
    it)."""
    data = _order_key(
        df.filter(pl.col(CUSTOMER_LABEL).is_not_null()).with_columns(pl.col(CUSTOMER_LABEL).cast(pl.Int8))
    )
    # counted at the latest snapshot, where the holdout comes from: earlier snapshots add
    # training data, but a model is only worth training when its holdout can measure it
    latest = _latest(data)
    churners = int(latest[CUSTOMER_LABEL].sum()) if latest.height else 0
    if churners < min_churners:
        raise CRMError(
            CRMErrorCode.SCORING_SERVICE_UNAVAILABLE,
            f"{churners} churners at the latest training snapshot, {min_churners} needed",
            {"churners": churners},
        )
    fit_rows, hold = _split(data, fold)
    cm, choice = fit(fit_rows, seed)
    hold = cm.frame(hold)
    y = hold[CUSTOMER_LABEL].to_numpy()
    p = cm.model.predict(hold)
    rules_p, _, _ = rule_scores(hold)
    metrics = {
        "auc": auc(y, p),
        "ece": ece(y, p),
        "baseline_auc": auc(y, rules_p),
        "holdout_rows": float(hold.height),
        "holdout_churners": float(y.sum()),
        "base_rate": float(y.mean()) if y.size else 0.0,
        **choice.metrics(),
    }
    params = {
        "model": f"{family.MODEL_KIND[choice.family]}(5-fold out-of-fold)",
        **choice.params(),
        "seed": seed,
        "numeric": cm.numeric,
        "categorical": cm.categorical,
        "snapshots": data["snapshot_at"].n_unique() if "snapshot_at" in data.columns else 1,
        **(cm.custom or custom.Keys()).params(),
    }
    return ChurnTrain(cm, metrics, params, hold, p)


def fit(data: pl.DataFrame, seed: int = 0) -> tuple[ChurnModel, Choice]:
    """A churn model on every labelled row of `data` (no holdout taken here): the family
    chosen on 5-fold out-of-fold scores (folds by customer), calibrated on them
    (`ml.family.fit_out_of_fold`). Every column but ids, labels and `NOT_INPUTS` is an input."""
    keys = custom.discover(data, CUSTOMER_LABEL)
    data = custom.expand(data, keys)
    numeric, categorical = split_columns(data, exclude=NOT_INPUTS | CHURN_DUPLICATES.keys())
    y = data[CUSTOMER_LABEL].cast(pl.Int8).to_numpy()
    model, choice = family.fit_out_of_fold(
        data, y, numeric, categorical, groups=_id_hash(data), folds=HOLDOUT_FOLDS, seed=seed
    )
    categories = {x: customer_category(x) for x in numeric + categorical}
    return ChurnModel(model, numeric, categorical, categories, keys), choice


def churn_risk_levels(p: np.ndarray) -> np.ndarray:
    """`crm.bands.churn_risk_level` of each probability (vectorised)."""
    out = np.full(p.shape, "low", dtype=object)
    for level, floor in sorted(CHURN_RISK_MIN_PROBABILITY.items(), key=lambda kv: kv[1]):
        out[p >= floor] = level
    return out


@dataclass(frozen=True)
class RuleReference:
    """What the rule fallback ranks a customer against: per numeric feature, the sorted
    non-null values of the tenant's active customers (the frame the batch scores). A one-row
    frame ranked against itself gives every feature the middle rank; ranked against this, a
    customer gets the rank the batch gives it."""

    columns: tuple[str, ...]
    values: dict[str, np.ndarray]

    @classmethod
    def of(cls, df: pl.DataFrame) -> RuleReference:
        numeric, _ = split_columns(df, exclude=NOT_INPUTS)
        block = df.select([pl.col(c).cast(pl.Float64) for c in numeric]).to_numpy() if numeric else None
        values = {}
        for k, c in enumerate(numeric):
            assert block is not None
            col = block[:, k]
            values[c] = np.sort(col[np.isfinite(col)])
        return cls(tuple(numeric), values)

    def ranks(self, df: pl.DataFrame) -> np.ndarray:
        """Each row's average rank (0..1] per feature among the reference values, as a rank
        within the reference would give a member (ties share their mean rank); 0.5 where the
        value or the reference is missing."""
        out = np.full((df.height, len(self.columns)), 0.5)
        for k, c in enumerate(self.columns):
            ref = self.values[c]
            if c not in df.columns or ref.size == 0:
                continue
            x = df[c].cast(pl.Float64).to_numpy()
            ok = np.isfinite(x)
            lo = np.searchsorted(ref, x[ok], side="left")
            hi = np.searchsorted(ref, x[ok], side="right")
            out[ok, k] = (lo + hi + 1) / 2 / ref.size
        return out


def rule_scores(
    df: pl.DataFrame, reference: RuleReference | None = None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Documented fallback: each numeric feature's rank among the tenant's active customers
    (`reference`; the frame itself when it is that frame) oriented so that 1 = risky, minus
    0.5, is its contribution; probability = 0.05 * exp(2 * mean)."""
    ref = reference or RuleReference.of(df)
    numeric = list(ref.columns)
    if not numeric:
        return np.full(df.height, 0.05), [], np.zeros((df.height, 0))
    ranks = ref.ranks(df)
    sign = np.array([1.0 if any(k in c for k in RISING_IS_BAD) else -1.0 for c in numeric])
    contrib = sign * (ranks - 0.5)
    p = np.clip(0.05 * np.exp(2.0 * contrib.mean(axis=1) * 4), 0.0, 0.95)
    return p, numeric, contrib


def predict(
    df: pl.DataFrame,
    model: ChurnModel | None,
    model_version: str | None,
    scored_at: datetime,
    reference: RuleReference | None = None,
) -> pl.DataFrame:
    """Rows for `ml.churn_predictions`: the model's, or with `model=None` the rules' (ranking
    against `reference`, by default the frame itself: the batch scores all of a tenant's
    active customers at once). A model that cannot score raises: the caller falls back
    (`ml.scoring.with_fallback`)."""
    if model is not None:
        df = model.frame(df)
        p, contrib = model.model.contributions(df)
        inputs = model.model.inputs
        method = "model"
        weights = model.model.weights()
    else:
        p, inputs, contrib = rule_scores(df, reference)
        method = "rules"
        weights = {name: 1.0 / max(len(inputs), 1) for name in inputs}
        model_version = RULES_VERSION
    cats = [customer_category(c) for c in inputs]
    labels = {
        c: custom.label(c)
        if c.startswith(custom.PREFIX)
        else humanize(c.split("_", 1)[1] if c.split("_", 1)[0] in CUSTOMER_CATEGORIES and "_" in c else c)
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
            "churn_risk_level": churn_risk_levels(p).astype(str),
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
