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

from dataclasses import dataclass, field

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
            counts = df[c].cast(pl.Utf8).drop_nulls().value_counts(sort=True)
            keep = counts.filter(pl.col("count") >= MIN_LEVEL_COUNT).head(MAX_LEVELS)
            self.levels[c] = sorted(keep[c].to_list())
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
        missing = [c for c in self.numeric if c not in df.columns]
        missing_cat = [c for c in self.categorical if c not in df.columns]
        if missing or missing_cat:
            df = df.with_columns(
                [pl.lit(None, dtype=pl.Float64).alias(c) for c in missing]
                + [pl.lit(None, dtype=pl.Utf8).alias(c) for c in missing_cat]
            )
        assert self.means is not None and self.scales is not None
        return (self._raw(df) - self.means) / self.scales

    def coverage(self, df: pl.DataFrame) -> np.ndarray:
        """Share of input columns that are present (not null) per row."""
        cols = [c for c in self.numeric + self.categorical if c in df.columns]
        total = len(self.numeric) + len(self.categorical)
        if not cols or total == 0:
            return np.zeros(df.height)
        present = df.select(pl.sum_horizontal([pl.col(c).is_not_null().cast(pl.Int32) for c in cols]))
        return present.to_series().to_numpy() / total


@dataclass
class LinearModel:
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
        if calib is not None and y_calib is not None and calib.height and 0 < y_calib.sum() < y_calib.size:
            z = model.raw_logit(calib)
            platt = LogisticRegression(C=1e6, max_iter=1000).fit(z[:, None], y_calib)
            model.platt_a = float(platt.coef_[0][0])
            model.platt_b = float(platt.intercept_[0])
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
        model = cls.fit(train, y, None, None, numeric, categorical, C=C, seed=seed)
        fold = (groups if groups is not None else np.arange(train.height)) % folds
        z = np.empty(train.height)
        for k in range(folds):
            out = fold == k
            inner = cls.fit(
                train.filter(pl.Series(~out)), y[~out], None, None, numeric, categorical, C=C, seed=seed
            )
            z[out] = inner.raw_logit(train.filter(pl.Series(out)))
        if 0 < y.sum() < y.size:
            platt = LogisticRegression(C=1e6, max_iter=1000).fit(z[:, None], y)
            model.platt_a = float(platt.coef_[0][0])
            model.platt_b = float(platt.intercept_[0])
        return model

    def raw_logit(self, df: pl.DataFrame) -> np.ndarray:
        return self.encoder.transform(df) @ self.coef + self.intercept

    def predict(self, df: pl.DataFrame) -> np.ndarray:
        z = self.platt_a * self.raw_logit(df) + self.platt_b
        return 1.0 / (1.0 + np.exp(-z))

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
        contrib = X @ G
        z = self.base_logit + contrib.sum(axis=1)
        return 1.0 / (1.0 + np.exp(-z)), contrib
