"""The daily revenue series and what every forecast method shares: Prophet with the settings
two years of heavy-tailed CRM revenue call for, the seasonal naive baseline, weekly totals
(aligned to end the day before the origin) and their spread over days, and MAPE over periods
long enough to judge.
"""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pandas as pd
import polars as pl

from ml.metrics import mape
from ml.scalars import max_of, min_of

for _name in ("prophet", "cmdstanpy"):
    logging.getLogger(_name).setLevel(logging.ERROR)

PROPHET_PARAMS: dict = {
    "yearly_seasonality": 3,
    "weekly_seasonality": True,
    "daily_seasonality": False,
    "seasonality_mode": "multiplicative",
    "changepoint_prior_scale": 0.01,
}
"""Two years of history hold two yearly cycles: three Fourier pairs and a stiff trend fit the
season and the growth without chasing the heavy-tailed noise (Prophet's defaults, ten pairs and
a loose trend, extrapolated single months of large deals: weekly MAPE 0.29 vs 0.19 at M)."""
HORIZON = 90
Z80 = 1.2816
"""The 80% interval's half-width in standard deviations."""
PERIODS = (7, 14, 28, 42)
MIN_DEALS_PER_PERIOD = 8


def daily_frame(series: pl.DataFrame) -> pd.DataFrame:
    """The mart's rows as a gap-free daily (ds, y, deals) frame (missing days: nothing won)."""
    deals = (
        pl.col("won_deals").cast(pl.Float64) if "won_deals" in series.columns else pl.lit(None, pl.Float64)
    )
    s = series.select(
        pl.col("day").cast(pl.Date), pl.col("won_revenue").cast(pl.Float64), deals.alias("won_deals")
    ).sort("day")
    if s.is_empty():  # a tenant with nothing won yet: an empty history, not an error
        return pd.DataFrame({"ds": pd.to_datetime([]), "y": [], "deals": []})
    full = pl.DataFrame(
        {"day": pl.date_range(min_of(s["day"], date), max_of(s["day"], date), "1d", eager=True)}
    )
    s = full.join(s, on="day", how="left").with_columns(pl.col("won_revenue").fill_null(0.0))
    return pd.DataFrame(
        {
            "ds": pd.to_datetime(s["day"].to_list()),
            "y": s["won_revenue"].to_numpy(),
            # without counts, a day with revenue counts as one deal
            "deals": s.select(pl.coalesce("won_deals", (pl.col("won_revenue") > 0).cast(pl.Float64)))
            .to_series()
            .to_numpy(),
        }
    )


def fit_prophet(history: pd.DataFrame, horizon: int = HORIZON, seed: int = 0, **params) -> pd.DataFrame:
    """Daily forecast (ds, yhat, yhat_lower, yhat_upper) for `horizon` days after `history`."""
    from prophet import Prophet

    for name in ("prophet", "cmdstanpy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    m = Prophet(**{**PROPHET_PARAMS, **params}, interval_width=0.8, uncertainty_samples=300)
    m.fit(history)
    future = m.make_future_dataframe(periods=horizon, include_history=False)
    np.random.seed(seed)
    fc = m.predict(future)[["ds", "yhat", "yhat_lower", "yhat_upper"]]
    for c in ("yhat", "yhat_lower", "yhat_upper"):
        fc[c] = fc[c].clip(lower=0.0)
    return fc.reset_index(drop=True)


def seasonal_naive(history: pd.DataFrame, horizon: int = HORIZON) -> np.ndarray:
    """Repeat the last observed week (season = 7 days)."""
    last = history["y"].to_numpy()[-7:]
    return np.resize(last, horizon)


def naive_forecast(history: pd.DataFrame, horizon: int = HORIZON) -> pd.DataFrame:
    """The seasonal naive baseline as a forecast: the last week repeated, with the 80% interval
    of a random walk on weekly totals (the k-th week ahead: +-Z80 x sd of week-to-week changes
    x sqrt(k)), spread over the days like the last week."""
    last = history["y"].to_numpy()[-7:]
    weeks = -(-horizon // 7)
    total = float(last.sum())
    w = weekly_totals(history)
    sd = float(np.std(np.diff(w), ddof=1)) if len(w) > 2 else total
    half = Z80 * sd * np.sqrt(np.arange(1, weeks + 1))
    mean = np.full(weeks, total)
    shares = last / total if total > 0 and len(last) == 7 else np.full(7, 1 / 7)
    origin = history["ds"].iloc[-1] + pd.Timedelta(days=1)
    return daily_from_weekly(origin, horizon, mean, np.clip(mean - half, 0.0, None), mean + half, shares)


def weekly_totals(history: pd.DataFrame) -> np.ndarray:
    """Totals of the whole weeks of the history, the last one ending the day before the origin
    (a partial first week is left out), so forecast weeks line up with scored ones."""
    y = history["y"].to_numpy(dtype=float)
    k = len(y) // 7
    return y[len(y) - 7 * k :].reshape(k, 7).sum(axis=1)


def weekday_shares(history: pd.DataFrame, weeks: int = 8) -> np.ndarray:
    """Each day's share of its week over the last `weeks` weeks, by position from the origin
    (position j is the weekday of origin + j); even shares when nothing was won."""
    y = history["y"].to_numpy(dtype=float)
    k = min(weeks, len(y) // 7)
    if k == 0:
        return np.full(7, 1 / 7)
    by_day = y[len(y) - 7 * k :].reshape(k, 7).sum(axis=0)
    total = by_day.sum()
    return by_day / total if total > 0 else np.full(7, 1 / 7)


def daily_from_weekly(
    origin: pd.Timestamp,
    horizon: int,
    mean: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    shares: np.ndarray,
) -> pd.DataFrame:
    """A daily forecast frame from weekly totals and their bounds, each week spread over its
    days by `shares` (so a week's daily bounds add up to the week's)."""
    day = np.arange(horizon)
    week, share = day // 7, shares[day % 7]
    yhat = np.clip(np.asarray(mean, dtype=float)[week], 0.0, None) * share
    lo = np.clip(np.asarray(lower, dtype=float)[week], 0.0, None) * share
    hi = np.asarray(upper, dtype=float)[week] * share
    return pd.DataFrame(
        {
            "ds": pd.date_range(origin, periods=horizon, freq="D"),
            "yhat": yhat,
            "yhat_lower": np.minimum(lo, yhat),
            "yhat_upper": np.maximum(hi, yhat),
        }
    )


def weekly_mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """MAPE over whole weeks of the horizon (daily won revenue is too spiky to judge per day)."""
    return period_mape(actual, forecast, 7)


def period_mape(actual: np.ndarray, forecast: np.ndarray, days: int) -> float:
    """MAPE over whole periods of `days` days of the horizon."""
    k = (len(actual) // days) * days
    a = np.asarray(actual)[:k].reshape(-1, days).sum(axis=1)
    f = np.asarray(forecast)[:k].reshape(-1, days).sum(axis=1)
    return mape(a, f)


def scoring_days(series: pd.DataFrame) -> int:
    """The shortest scoring period (a week at scale M) in which the last year won at least
    MIN_DEALS_PER_PERIOD deals on average: a period's revenue must be more than one or two
    heavy-tailed deals (or none) for a percentage error to mean anything."""
    year = series["deals"].to_numpy()[-364:]
    per_day = float(year.mean()) if year.size else 0.0
    for days in PERIODS:
        if per_day * days >= MIN_DEALS_PER_PERIOD:
            return days
    return PERIODS[-1]
