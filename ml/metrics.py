"""Quality metrics used by training, the promotion gate and the benchmark."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC; 0.5 when only one class is present (no ranking to judge)."""
    y = np.asarray(y)
    if y.size == 0 or y.min() == y.max():
        return 0.5
    return float(roc_auc_score(y, p))


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: |mean(p) - mean(y)| per equal-width bin, weighted by size."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.size == 0:
        return 0.0
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(p[m].mean() - y[m].mean())
    return float(total / y.size)


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute percentage error over periods with non-zero actuals."""
    a = np.asarray(actual, dtype=float)
    f = np.asarray(forecast, dtype=float)
    m = np.abs(a) > 1e-9
    if not m.any():
        return float("nan")
    return float(np.mean(np.abs(f[m] - a[m]) / np.abs(a[m])))
