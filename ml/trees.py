"""Gradient-boosted trees (LightGBM) over a feature frame, calibrated and exactly explainable:
the family a model chooses where its signal is not linear in log-odds (`ml.family`).

Numbers go in as they are (missing stays missing: the trees learn where it goes); a text
column becomes one categorical input of its frequent levels (`ml.linear.frequent_levels`,
rarer ones are one "other" level). LightGBM's `pred_contrib` splits each raw score exactly
(TreeSHAP): raw = bias + sum of one contribution per input column. Platt scaling on held-out
raw scores calibrates, and is linear on the logit scale, so scaling the bias and every
contribution by its slope keeps the split exact for the served probability:

    logit(p) = a * raw + b = (a * bias + b) + sum(a * contribution)

`base_logit` is `a * bias + b` (TreeSHAP's bias is the same for every row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from ml.linear import Calibrated, coverage, frequent_levels, with_inputs

PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "lambda_l2": 1.0,
    "max_cat_to_onehot": 8,
    "verbose": -1,
    "deterministic": True,
    "force_col_wise": True,
    "num_threads": 1,
}
"""One setting for every tenant (small, shallow trees, shrunk): chosen over the linear model
only where it validates better (`ml.family`), never tuned per data set."""
ROUNDS = 300


@dataclass
class TreeModel(Calibrated):
    """LightGBM booster + Platt calibration, with exact per-column contributions."""

    numeric: list[str]
    categorical: list[str]
    levels: dict[str, list[str]]
    booster: lgb.Booster
    bias: float
    """TreeSHAP's expected raw score (the contributions' base before calibration)."""
    platt_a: float = 1.0
    platt_b: float = 0.0
    inputs: list[str] = field(default_factory=list)

    @classmethod
    def fit(
        cls,
        train: pl.DataFrame,
        y: np.ndarray,
        calib: pl.DataFrame | None,
        y_calib: np.ndarray | None,
        numeric: list[str],
        categorical: list[str],
        seed: int = 0,
    ) -> TreeModel:
        levels = {c: frequent_levels(train[c]) for c in categorical}
        X = _matrix(train, numeric, categorical, levels)
        cats = list(range(len(numeric), len(numeric) + len(categorical)))
        data = lgb.Dataset(
            X,
            label=y,
            feature_name=[f"f{i}" for i in range(X.shape[1])],
            categorical_feature=cats,
            params={"verbose": -1},
            free_raw_data=True,
        )
        params = {**PARAMS, "seed": seed}
        booster = lgb.train(params, data, num_boost_round=ROUNDS)
        bias = float(np.asarray(booster.predict(X[:1], pred_contrib=True))[0, -1]) if X.shape[0] else 0.0
        model = cls(numeric, categorical, levels, booster, bias, inputs=numeric + categorical)
        if calib is not None and y_calib is not None:
            model.calibrate(model.raw_logit(calib), y_calib)
        return model

    def matrix(self, df: pl.DataFrame) -> np.ndarray:
        return _matrix(df, self.numeric, self.categorical, self.levels)

    def raw_logit(self, df: pl.DataFrame) -> np.ndarray:
        return np.asarray(self.booster.predict(self.matrix(df), raw_score=True), dtype=np.float64)

    @property
    def base_logit(self) -> float:
        """Calibrated logit before any input's contribution (TreeSHAP's bias, calibrated)."""
        return self.platt_a * self.bias + self.platt_b

    def contributions(self, df: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, contributions[n, len(inputs)]) with
        logit(p) == base_logit + contributions.sum(axis=1) exactly."""
        if df.height == 0:
            return np.zeros(0), np.zeros((0, len(self.inputs)))
        raw = np.asarray(self.booster.predict(self.matrix(df), pred_contrib=True), dtype=np.float64)
        return self.explained(self.platt_a * raw[:, :-1])

    def coverage(self, df: pl.DataFrame) -> np.ndarray:
        """Share of the model's input columns present per row (the scores' confidence)."""
        return coverage(df, self.inputs)

    def weights(self) -> dict[str, float]:
        """Per input column, its share of the trees' total split gain (a churn factor's
        `weight`)."""
        gain = np.asarray(self.booster.feature_importance(importance_type="gain"), dtype=np.float64)
        total = gain.sum() or 1.0
        return {name: float(g / total) for name, g in zip(self.inputs, gain, strict=True)}


def _matrix(
    df: pl.DataFrame, numeric: list[str], categorical: list[str], levels: dict[str, list[str]]
) -> np.ndarray:
    """Numbers as floats (null -> NaN, LightGBM's missing); each text column as its level's
    index, len(levels) for any other value, NaN when null."""
    df = with_inputs(df, numeric, categorical)
    exprs: list[pl.Expr] = [pl.col(c).cast(pl.Float64).alias(c) for c in numeric]
    for c in categorical:
        lv = levels[c]
        code = (
            pl.col(c)
            .cast(pl.Utf8)
            .replace_strict(lv, list(range(len(lv))), default=len(lv), return_dtype=pl.Float64)
        )
        exprs.append(pl.when(pl.col(c).is_null()).then(None).otherwise(code).alias(c))
    if not exprs:
        return np.zeros((df.height, 0))
    return df.select(exprs).to_numpy().astype(np.float64, copy=False)
