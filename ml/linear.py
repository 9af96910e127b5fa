"""An explainable, calibrated scikit-learn classifier over a feature frame.

Numbers go through median imputation, a signed log1p (counts and money are heavy-tailed) and
standardisation; text columns become one-hot indicators of their frequent values. A logistic
regression ranks; Platt scaling fitted on a later time slice calibrates. Because both steps
are linear in logit space, every prediction splits exactly into a base plus one signed
contribution per input column:

    logit(p) = base + sum(contributions)      (contribution = a * coef . (x - training mean))

which is what the explanations show (and what a test checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression

from ml.scalars import float_or
from ml.schemas import NEVER_FEATURES

MIN_LEVEL_COUNT = 20
MAX_LEVELS = 25
NUMERIC = (
    pl.Int8,
    pl.Int16,
    pl.Int32,
    pl.Int64,
    pl.UInt8,
    pl.UInt16,
    pl.UInt32,
    pl.UInt64,
    pl.Float32,
    pl.Float64,
    pl.Boolean,
    pl.Decimal,
)


def split_columns(
    df: pl.DataFrame, exclude: set[str] | frozenset[str] = frozenset()
) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns of a frame: everything but ids, labels and leaks."""
    num, cat = [], []
    for name, dtype in df.schema.items():
        if name in NEVER_FEATURES or name in exclude:
            continue
        if isinstance(dtype, NUMERIC) or dtype in NUMERIC or dtype.is_numeric():
            num.append(name)
        elif dtype in (pl.Utf8, pl.Categorical) or isinstance(dtype, pl.Enum):
            cat.append(name)
    return num, cat


def frequent_levels(values: pl.Series) -> list[str]:
    """The levels of a text column that become inputs: those on at least `MIN_LEVEL_COUNT`
    rows, the `MAX_LEVELS` most frequent, sorted (rarer ones count as no level)."""
    counts = values.cast(pl.Utf8).drop_nulls().value_counts(sort=True)
    keep = counts.filter(pl.col("count") >= MIN_LEVEL_COUNT).head(MAX_LEVELS)
    return sorted(keep[keep.columns[0]].to_list())


def coverage(df: pl.DataFrame, inputs: list[str]) -> np.ndarray:
    """Share of the input columns that are present (not null) per row."""
    cols = [c for c in inputs if c in df.columns]
    if not cols or not inputs:
        return np.zeros(df.height)
    present = df.select(pl.sum_horizontal([pl.col(c).is_not_null().cast(pl.Int32) for c in cols]))
    return present.to_series().to_numpy() / len(inputs)


def with_inputs(df: pl.DataFrame, numeric: list[str], categorical: list[str]) -> pl.DataFrame:
    """`df` with every input column (one it lacks counts as missing on every row)."""
    missing = [c for c in numeric if c not in df.columns]
    missing_cat = [c for c in categorical if c not in df.columns]
    if not missing and not missing_cat:
        return df
    return df.with_columns(
        [pl.lit(None, dtype=pl.Float64).alias(c) for c in missing]
        + [pl.lit(None, dtype=pl.Utf8).alias(c) for c in missing_cat]
    )


def platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Platt scaling (a, b): calibrated logit = a * z + b, fitted on held-out logits `z`; None
    when `y` has one class (nothing to calibrate on)."""
    if not (z.size and 0 < y.sum() < y.size):
        return None
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(z[:, None], y)
    return float(lr.coef_[0][0]), float(lr.intercept_[0])


class RawScorer(Protocol):
    def raw_logit(self, df: pl.DataFrame) -> np.ndarray: ...


M = TypeVar("M", bound=RawScorer)


def out_of_fold(
    fit: Callable[[pl.DataFrame, np.ndarray], M],
    train: pl.DataFrame,
    y: np.ndarray,
    groups: np.ndarray | None,
    folds: int,
) -> tuple[M, np.ndarray]:
    """(`fit` on all of `train`, its out-of-fold raw logits: fold k scored by a model fitted
    without it). Rows with the same `groups` value (one entity's several snapshots) share a
    fold. For calibrating, and comparing families, without holding rows back."""
    model = fit(train, y)
    fold = (groups if groups is not None else np.arange(train.height)) % folds
    z = np.empty(train.height)
    for k in range(folds):
        out = fold == k
        inner = fit(train.filter(pl.Series(~out)), y[~out])
        z[out] = inner.raw_logit(train.filter(pl.Series(out)))
    return model, z


@dataclass
class Encoder:
    """Frame -> float matrix, remembering which input column each matrix column came from."""

    numeric: list[str]
    categorical: list[str]
    medians: dict[str, float] = field(default_factory=dict)
    means: np.ndarray | None = None
    scales: np.ndarray | None = None
    levels: dict[str, list[str]] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)  # matrix column names
    source: list[str] = field(default_factory=list)  # input column of each matrix column

    def fit(self, df: pl.DataFrame) -> Encoder:
        for c in self.numeric:
            self.medians[c] = float_or(df[c].cast(pl.Float64).median(), 0.0)
        for c in self.categorical:
            self.levels[c] = frequent_levels(df[c])
        self.columns, self.source = [], []
        for c in self.numeric:
            self.columns.append(c)
            self.source.append(c)
        for c in self.categorical:
            for v in self.levels[c]:
                self.columns.append(f"{c}={v}")
                self.source.append(c)
        raw = self._raw(df)
        self.means = raw.mean(axis=0)
        sd = raw.std(axis=0)
        self.scales = np.where(sd > 1e-9, sd, 1.0)
        return self

    def _raw(self, df: pl.DataFrame) -> np.ndarray:
        exprs: list[pl.Expr] = []
        for c in self.numeric:
            x = pl.col(c).cast(pl.Float64).fill_null(self.medians[c]).fill_nan(self.medians[c])
            exprs.append((x.abs().log1p() * x.sign()).alias(c))
        for c in self.categorical:
            col = pl.col(c).cast(pl.Utf8)
            for v in self.levels[c]:
                exprs.append((col == v).fill_null(False).cast(pl.Float64).alias(f"{c}={v}"))
        if not exprs:
            return np.zeros((df.height, 0))
        return df.select(exprs).to_numpy().astype(np.float64, copy=False)

    def transform(self, df: pl.DataFrame) -> np.ndarray:
        """Standardised matrix (missing input columns count as missing values)."""
        df = with_inputs(df, self.numeric, self.categorical)
        assert self.means is not None and self.scales is not None
        return (self._raw(df) - self.means) / self.scales

    def coverage(self, df: pl.DataFrame) -> np.ndarray:
        """Share of input columns that are present (not null) per row."""
        return coverage(df, self.numeric + self.categorical)


class Calibrated:
    """Platt scaling over a family's raw logit, the same for both families (`ml.trees`):
    calibrated logit = platt_a * raw + platt_b, linear, so contributions scale with it."""

    platt_a: float
    platt_b: float

    def raw_logit(self, df: pl.DataFrame) -> np.ndarray:
        raise NotImplementedError

    @property
    def base_logit(self) -> float:
        raise NotImplementedError

    def calibrate(self, z: np.ndarray, y: np.ndarray) -> None:
        """Platt scaling on held-out raw logits `z` (kept as it is when `y` has one class)."""
        ab = platt(z, y)
        if ab is not None:
            self.platt_a, self.platt_b = ab

    def predict(self, df: pl.DataFrame) -> np.ndarray:
        return sigmoid(self.platt_a * self.raw_logit(df) + self.platt_b)

    def explained(self, contrib: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, contributions): the probability is the base plus the calibrated
        contributions, so they add up to its logit exactly."""
        return sigmoid(self.base_logit + contrib.sum(axis=1)), contrib


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass
class LinearModel(Calibrated):
    """Encoder + logistic regression + Platt calibration, with exact per-column contributions."""

    encoder: Encoder
    coef: np.ndarray
    intercept: float
    platt_a: float = 1.0
    platt_b: float = 0.0
    inputs: list[str] = field(default_factory=list)  # input columns, in contribution order

    @classmethod
    def fit(
        cls,
        train: pl.DataFrame,
        y: np.ndarray,
        calib: pl.DataFrame | None,
        y_calib: np.ndarray | None,
        numeric: list[str],
        categorical: list[str],
        C: float = 0.5,
        seed: int = 0,
    ) -> LinearModel:
        enc = Encoder(numeric, categorical).fit(train)
        X = enc.transform(train)
        lr = LogisticRegression(C=C, max_iter=2000, random_state=seed)
        lr.fit(X, y)
        model = cls(
            enc,
            lr.coef_[0].astype(np.float64),
            float(lr.intercept_[0]),
            inputs=list(dict.fromkeys(enc.source)),
        )
        if calib is not None and y_calib is not None:
            model.calibrate(model.raw_logit(calib), y_calib)
        return model

    @classmethod
    def fit_cross_calibrated(
        cls,
        train: pl.DataFrame,
        y: np.ndarray,
        numeric: list[str],
        categorical: list[str],
        groups: np.ndarray | None = None,
        folds: int = 5,
        C: float = 0.5,
        seed: int = 0,
    ) -> LinearModel:
        """Fit on all of `train` and calibrate on out-of-fold logits (fold k scored by a model
        fitted without it): for samples without a time order, where holding a slice back for
        calibration would cost the model a fifth of its rare positives. Rows with the same
        `groups` value (one entity's several snapshots) share a fold."""
        model, z = out_of_fold(
            lambda d, t: cls.fit(d, t, None, None, numeric, categorical, C=C, seed=seed),
            train,
            y,
            groups,
            folds,
        )
        model.calibrate(z, y)
        return model

    def raw_logit(self, df: pl.DataFrame) -> np.ndarray:
        return self.encoder.transform(df) @ self.coef + self.intercept

    @property
    def base_logit(self) -> float:
        """Calibrated logit of a lead whose every input equals the training average."""
        return self.platt_a * self.intercept + self.platt_b

    def contributions(self, df: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, contributions[n, len(inputs)]) with
        logit(p) == base_logit + contributions.sum(axis=1) exactly."""
        X = self.encoder.transform(df)
        src = np.array(self.encoder.source)
        G = np.zeros((len(src), len(self.inputs)))
        for j, name in enumerate(self.inputs):
            G[src == name, j] = self.coef[src == name] * self.platt_a
        return self.explained(X @ G)

    def coverage(self, df: pl.DataFrame) -> np.ndarray:
        """Share of the model's input columns present per row (the scores' confidence)."""
        return self.encoder.coverage(df)

    def weights(self) -> dict[str, float]:
        """Per input column, the size of its coefficients (a churn factor's `weight`)."""
        src = np.array(self.encoder.source)
        return {name: float(np.abs(self.coef[src == name]).sum()) for name in self.inputs}
