"""Revenue forecasting: Prophet on daily won revenue per tenant (90 days, with intervals),
a seasonal-naive baseline, a rolling-origin backtest whose weekly MAPE is stored with every
forecast row, and a pipeline-weighted forecast by expected close month with categories.

Series input: tenant_id, day (date), won_revenue (float) - `analytics.ml_series__revenue_daily`.
Pipeline input: open deals with value, probability (0-1) and expected_close_date.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import polars as pl

from ml.metrics import mape

log = logging.getLogger(__name__)
for _name in ("prophet", "cmdstanpy"):
    logging.getLogger(_name).setLevel(logging.ERROR)

HORIZON = 90
BACKTEST_ORIGINS = 3
MODEL_NAME = "revenue_prophet"
COMMIT_AT = 0.7
BEST_CASE_AT = 0.4
"""Pipeline categories: probability >= 0.7 commit, >= 0.4 best case, else pipeline."""


def _daily(series: pl.DataFrame) -> pd.DataFrame:
    s = series.select(pl.col("day").cast(pl.Date), pl.col("won_revenue").cast(pl.Float64)).sort("day")
    full = pl.DataFrame({"day": pl.date_range(s["day"].min(), s["day"].max(), "1d", eager=True)})
    s = full.join(s, on="day", how="left").with_columns(pl.col("won_revenue").fill_null(0.0))
    return pd.DataFrame({"ds": pd.to_datetime(s["day"].to_list()), "y": s["won_revenue"].to_numpy()})


def fit_prophet(history: pd.DataFrame, horizon: int = HORIZON, seed: int = 0) -> pd.DataFrame:
    """Daily forecast (ds, yhat, yhat_lower, yhat_upper) for `horizon` days after `history`."""
    from prophet import Prophet

    for name in ("prophet", "cmdstanpy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    m = Prophet(
        yearly_seasonality=True,
        weekly_seasonality=True,
        daily_seasonality=False,
        seasonality_mode="multiplicative",
        interval_width=0.8,
        uncertainty_samples=300,
    )
    m.fit(history)
    future = m.make_future_dataframe(periods=horizon, include_history=False)
    np.random.seed(seed)
    fc = m.predict(future)[["ds", "yhat", "yhat_lower", "yhat_upper"]]
    for c in ("yhat", "yhat_lower", "yhat_upper"):
        fc[c] = fc[c].clip(lower=0.0)
    return fc


def seasonal_naive(history: pd.DataFrame, horizon: int = HORIZON) -> np.ndarray:
    """Repeat the last observed week (season = 7 days)."""
    last = history["y"].to_numpy()[-7:]
    return np.resize(last, horizon)


def weekly_mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """MAPE over whole weeks of the horizon (daily won revenue is too spiky to judge per day)."""
    k = (len(actual) // 7) * 7
    a = actual[:k].reshape(-1, 7).sum(axis=1)
    f = forecast[:k].reshape(-1, 7).sum(axis=1)
    return mape(a, f)


@dataclass
class Backtest:
    prophet_mape: float
    naive_mape: float
    origins: list[str]


def backtest(
    df: pd.DataFrame, horizon: int = HORIZON, origins: int = BACKTEST_ORIGINS, seed: int = 0
) -> Backtest:
    """Rolling origin: cut at end - k*horizon/ ... for k = origins..1, forecast `horizon` days,
    score weekly MAPE against what happened; averages over origins."""
    pm, nm, cuts = [], [], []
    step = horizon // 2
    for k in range(origins, 0, -1):
        cut = len(df) - horizon - (k - 1) * step
        if cut < 365:
            continue
        hist, fut = df.iloc[:cut], df.iloc[cut : cut + horizon]
        fc = fit_prophet(hist, len(fut), seed)
        pm.append(weekly_mape(fut["y"].to_numpy(), fc["yhat"].to_numpy()))
        nm.append(weekly_mape(fut["y"].to_numpy(), seasonal_naive(hist, len(fut))))
        cuts.append(str(hist["ds"].iloc[-1].date()))
    return Backtest(
        float(np.mean(pm)) if pm else float("nan"), float(np.mean(nm)) if nm else float("nan"), cuts
    )


def forecast_tenant(
    series: pl.DataFrame, tenant_id: str, run_id: str, version: str, seed: int = 0, horizon: int = HORIZON
) -> tuple[pl.DataFrame, Backtest]:
    """Rows for `ml.revenue_forecasts` (kind 'prophet', period 'day') and the backtest."""
    df = _daily(series)
    bt = backtest(df, horizon, seed=seed)
    fc = fit_prophet(df, horizon, seed)
    rows = pl.DataFrame(
        {
            "tenant_id": tenant_id,
            "run_id": run_id,
            "kind": "prophet",
            "period_start": [d.date() for d in fc["ds"]],
            "period": "day",
            "yhat": fc["yhat"].to_numpy(),
            "yhat_lower": fc["yhat_lower"].to_numpy(),
            "yhat_upper": fc["yhat_upper"].to_numpy(),
            "category": pl.Series([None] * len(fc), dtype=pl.Utf8),
            "backtest_mape": bt.prophet_mape,
            "model_version": version,
        }
    )
    return rows, bt


def category(p: pl.Expr) -> pl.Expr:
    return (
        pl.when(p >= COMMIT_AT)
        .then(pl.lit("commit"))
        .when(p >= BEST_CASE_AT)
        .then(pl.lit("best_case"))
        .otherwise(pl.lit("pipeline"))
    )


def pipeline_forecast(
    deals: pl.DataFrame,
    tenant_id: str,
    run_id: str,
    version: str,
    as_of: date,
    backtest_mape: float | None = None,
    months: int = 6,
) -> pl.DataFrame:
    """Open deals' value x win probability, by expected close month and category; the interval
    is +-1.28 sd of the sum of independent Bernoulli outcomes (80%)."""
    if deals.height == 0:
        return pl.DataFrame()
    first = date(as_of.year, as_of.month, 1)
    last = (pd.Timestamp(first) + pd.DateOffset(months=months)).date()
    d = (
        deals.with_columns(
            month=pl.max_horizontal(pl.col("expected_close_date").cast(pl.Date), pl.lit(first)).dt.truncate(
                "1mo"
            ),
            v=pl.col("value").cast(pl.Float64),
            p=pl.col("probability").cast(pl.Float64),
        )
        .filter(pl.col("month") < last)
        .with_columns(category=category(pl.col("p")))
    )
    g = (
        d.group_by("month", "category")
        .agg(
            yhat=(pl.col("v") * pl.col("p")).sum(),
            var=(pl.col("v") ** 2 * pl.col("p") * (1 - pl.col("p"))).sum(),
        )
        .sort("month", "category")
    )
    return g.select(
        pl.lit(tenant_id).alias("tenant_id"),
        pl.lit(run_id).alias("run_id"),
        pl.lit("pipeline").alias("kind"),
        pl.col("month").alias("period_start"),
        pl.lit("month").alias("period"),
        "yhat",
        (pl.col("yhat") - 1.28 * pl.col("var").sqrt()).clip(lower_bound=0).alias("yhat_lower"),
        (pl.col("yhat") + 1.28 * pl.col("var").sqrt()).alias("yhat_upper"),
        "category",
        pl.lit(backtest_mape, dtype=pl.Float64).alias("backtest_mape"),
        pl.lit(version).alias("model_version"),
    )


_ = timedelta
