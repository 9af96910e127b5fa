"""Statistical forecasts of weekly revenue totals (`statsforecast`): AutoETS (exponential
smoothing), AutoTheta and AutoARIMA, each choosing its own form by information criterion.

They model the weekly totals rather than the days: a week is what the backtest scores, and
daily won revenue is mostly noise around it. Weeks end the day before the origin; the
forecast weeks are spread over their days like the last eight weeks. With two years of weeks
the models get a yearly season (52 weeks), else none.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ml.timeseries import daily_from_weekly, weekday_shares, weekly_totals

METHODS = ("ets", "theta", "arima")
MIN_WEEKS = 12
YEAR_WEEKS = 52


def _model(method: str, season: int):
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    if method == "ets":
        return AutoETS(season_length=season)
    if method == "theta":
        return AutoTheta(season_length=season)
    if method == "arima":
        return AutoARIMA(season_length=season)
    raise ValueError(f"unknown statistical method {method!r}")


def forecast(history: pd.DataFrame, method: str, horizon: int) -> pd.DataFrame:
    """Daily forecast (ds, yhat, yhat_lower, yhat_upper, 80%) for `horizon` days after
    `history` by `method` on its weekly totals; ValueError with too few weeks."""
    w = weekly_totals(history)
    if len(w) < MIN_WEEKS:
        raise ValueError(f"{len(w)} weeks of history, {MIN_WEEKS} needed")
    season = YEAR_WEEKS if len(w) >= 2 * YEAR_WEEKS else 1
    weeks = -(-horizon // 7)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        out = _model(method, season).forecast(y=w, h=weeks, level=[80])
    mean = np.asarray(out["mean"], dtype=float)
    if not np.all(np.isfinite(mean)):
        raise ValueError(f"{method} gave no finite forecast")
    lower = np.nan_to_num(np.asarray(out["lo-80"], dtype=float), nan=0.0)
    upper = np.nan_to_num(np.asarray(out["hi-80"], dtype=float), nan=float(mean.max()))
    origin = history["ds"].iloc[-1] + pd.Timedelta(days=1)
    return daily_from_weekly(origin, horizon, mean, lower, upper, weekday_shares(history))
