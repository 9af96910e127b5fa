"""Which model family answers for a tenant: the calibrated linear model (`ml.linear`) or
gradient-boosted trees (`ml.trees`). Both are exactly explainable (base + contributions =
calibrated logit), so the choice is only about fit: real data is not always linear in
log-odds (a telecom's churn jumps after the fourth support call), the synthetic world mostly is.

The choice is made on validation rows inside the training window, never on the holdout the
gate and the reported metrics use: the slice the linear model is already calibrated on
(out-of-time: lead and deal models), or the out-of-fold scores of the folds it is already
calibrated on (churn). The rule, per tenant:

    trees if  AUC(trees) - AUC(linear) > max(MIN_GAIN, NOISE_SE x bootstrap SE of that difference)
    else linear

The standard error comes from a paired bootstrap of the validation rows (resampling whole
customers when one has several rows), so a difference within noise keeps the simpler
family. The registry records both AUCs, the SE and the sentence (`Choice`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from ml.linear import LinearModel, out_of_fold
from ml.metrics import auc
from ml.trees import TreeModel

LINEAR = "linear"
TREES = "trees"
FAMILIES = (LINEAR, TREES)
MIN_GAIN = 0.005
"""Trees must gain at least this much validation AUC, however small the noise."""
NOISE_SE = 2.0
"""... and more than this many bootstrap standard errors of the paired difference."""
BOOTSTRAP = 200

Model = LinearModel | TreeModel


@dataclass(frozen=True)
class Choice:
    """A tenant's family and why: each family's validation AUC and the noise of their gap."""

    family: str
    auc: dict[str, float]
    gain_se: float
    validation: str
    """Which rows validated (e.g. 'out-of-time slice of 1,234 rows')."""

    @property
    def gain(self) -> float:
        return self.auc[TREES] - self.auc[LINEAR]

    @property
    def why(self) -> str:
        bar = max(MIN_GAIN, NOISE_SE * self.gain_se)
        a, b = self.auc[LINEAR], self.auc[TREES]
        if self.family == TREES:
            return (
                f"trees: validation AUC {b:.4f} vs linear {a:.4f} on the {self.validation}, a gain of"
                f" {self.gain:+.4f} above the noise bar {bar:.4f}"
            )
        return (
            f"linear: validation AUC {a:.4f} vs trees {b:.4f} on the {self.validation}; the trees'"
            f" gain {self.gain:+.4f} does not clear the noise bar {bar:.4f}, so the simpler family stays"
        )

    def metrics(self) -> dict[str, float]:
        return {
            "family_auc_linear": self.auc[LINEAR],
            "family_auc_trees": self.auc[TREES],
            "family_gain_se": self.gain_se,
        }

    def params(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "family_why": self.why,
            "family_rule": f"trees when the validation AUC gain > max({MIN_GAIN}, {NOISE_SE} x bootstrap SE)",
        }


def gain_se(
    y: np.ndarray, linear: np.ndarray, trees: np.ndarray, groups: np.ndarray | None = None, seed: int = 0
) -> float:
    """Bootstrap standard error of AUC(trees) - AUC(linear) on the same rows, resampling
    `groups` (an entity's rows together) or rows."""
    gid = np.unique(groups, return_inverse=True)[1] if groups is not None else np.arange(y.size)
    n_groups = int(gid.max()) + 1 if gid.size else 0
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(BOOTSTRAP):
        w = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[gid]
        pos = w[y == 1].sum()
        if pos == 0 or pos == w.sum():
            continue
        a = roc_auc_score(y, linear, sample_weight=w)
        b = roc_auc_score(y, trees, sample_weight=w)
        diffs.append(b - a)
    return float(np.std(diffs, ddof=1)) if len(diffs) > 1 else float("inf")


def choose(
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    validation: str,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> Choice:
    """The rule above, on each family's validation scores for the same rows."""
    aucs = {f: auc(y, scores[f]) for f in FAMILIES}
    se = gain_se(y, scores[LINEAR], scores[TREES], groups, seed)
    family = TREES if aucs[TREES] - aucs[LINEAR] > max(MIN_GAIN, NOISE_SE * se) else LINEAR
    return Choice(family, aucs, se, validation)


def _only_linear(model: Model, why: str) -> tuple[Model, Choice]:
    return model, Choice(LINEAR, {LINEAR: 0.5, TREES: 0.5}, float("inf"), why)


def fit_out_of_time(
    fit: pl.DataFrame,
    y_fit: np.ndarray,
    calib: pl.DataFrame,
    y_calib: np.ndarray,
    numeric: list[str],
    categorical: list[str],
    seed: int = 0,
) -> tuple[Model, Choice]:
    """Both families fitted on `fit`, compared on `calib` (the later slice), the chosen one
    Platt-calibrated on it: the lead and deal models' time split, holdout untouched."""
    linear = LinearModel.fit(fit, y_fit, calib, y_calib, numeric, categorical, seed=seed)
    if not (numeric or categorical) or calib.height == 0:
        return _only_linear(linear, "no inputs or no validation rows")
    trees = TreeModel.fit(fit, y_fit, calib, y_calib, numeric, categorical, seed=seed)
    scores = {LINEAR: linear.raw_logit(calib), TREES: trees.raw_logit(calib)}
    c = choose(y_calib, scores, f"out-of-time slice of {calib.height:,} rows", seed=seed)
    return (trees if c.family == TREES else linear), c


def fit_out_of_fold(
    train: pl.DataFrame,
    y: np.ndarray,
    numeric: list[str],
    categorical: list[str],
    groups: np.ndarray | None = None,
    folds: int = 5,
    seed: int = 0,
) -> tuple[Model, Choice]:
    """Both families fitted on all of `train` and on each fold's complement; compared on the
    out-of-fold scores (folds by `groups`), the chosen one Platt-calibrated on its own: the
    churn model's protocol, holdout untouched."""

    def fitter(cls: type[LinearModel] | type[TreeModel]) -> Callable[[pl.DataFrame, np.ndarray], Model]:
        return lambda d, t: cls.fit(d, t, None, None, numeric, categorical, seed=seed)

    linear, z_linear = out_of_fold(fitter(LinearModel), train, y, groups, folds)
    linear.calibrate(z_linear, y)
    if not (numeric or categorical):
        return _only_linear(linear, "no inputs")
    trees, z_trees = out_of_fold(fitter(TreeModel), train, y, groups, folds)
    c = choose(
        y,
        {LINEAR: z_linear, TREES: z_trees},
        f"{folds}-fold out-of-fold scores of {train.height:,} training rows",
        groups,
        seed,
    )
    if c.family == LINEAR:
        return linear, c
    trees.calibrate(z_trees, y)
    return trees, c


MODEL_KIND = {LINEAR: "logistic+platt", TREES: "lightgbm+platt"}
"""The registry's `params.model` of each family."""
