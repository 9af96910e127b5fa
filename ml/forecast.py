"""Revenue forecasting per tenant: daily won revenue for the next 90 days, with intervals.

Two methods, chosen per tenant by a rolling-origin backtest (MAPE over weeks, or over longer
periods for tenants that win few deals: `timeseries.scoring_days`; the lower wins; the error
is stored with the model version and with every forecast row):

- `prophet`: Prophet on the tenant's daily won revenue (trend, yearly and weekly seasonality).
- `pipeline_funnel`: what the CRM knows on top of the series. The deals open at the origin
  (value, pipeline, stage, expected close) bring the revenue `ml.pipeline` expects of them in
  each coming week, learnt from the tenant's own past pipeline snapshots. New business not in
  the pipeline yet comes from the level of the lead funnel (`ml.funnel`: leads already
  created and Prophet's forecast of lead volume, through the lead-to-close delay and the
  revenue per lead), of which only the share that comes from deals not created yet is added
  (Prophet on new-business revenue stands in when deals are not linked to leads). Pipelines
  driven by their open deals (renewals) add the share of their trailing level not open yet.

The baseline is the seasonal naive forecast (repeat the last week). Every method is scored
on the same held-out weeks as the baseline, and at a past origin it sees only what the CRM
showed then (`TenantHistory.at`). A pipeline-weighted forecast by expected close month with
categories (commit / best case / pipeline) is written next to it (`pipeline_forecast`: the
tenant's open deals over `PIPELINE_HORIZON_DAYS`; the API's forecastRevenue(pipelineId,
timeframe) runs it over one pipeline's deals and the horizon asked for).

Inputs: the daily series `analytics.ml_series__revenue_daily` (tenant_id, day, won_revenue) and
the pipeline frames of `ml.marts.pipeline_frames`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import polars as pl

from ml import hybrid, pipeline, timeseries
from ml.timeseries import (  # noqa: F401 (the forecast's public names, used by jobs and the bench)
    PROPHET_PARAMS,
    daily_frame,
    fit_prophet,
    period_mape,
    scoring_days,
    seasonal_naive,
    weekly_mape,
)

log = logging.getLogger(__name__)

HORIZON = timeseries.HORIZON
BACKTEST_ORIGINS = 6
BACKTEST_STEP = 21
MIN_BACKTEST_HISTORY = 365
"""A backtest origin needs a year of history before it (yearly seasonality)."""
MIN_HISTORY_DAYS = 400
MODEL_NAME = "revenue_prophet"
METHODS = ("prophet", "pipeline_funnel")
COMMIT_AT = 0.7
BEST_CASE_AT = 0.4
"""Pipeline categories: probability >= 0.7 commit, >= 0.4 best case, else pipeline."""


@dataclass
class TenantHistory:
    """What a forecast may use: the daily series and, when the marts have them, the deals,
    their stage transitions (prepared by `ml.pipeline.prepare`) and the leads' creation times."""

    series: pd.DataFrame
    deals: pl.DataFrame | None = None
    transitions: pl.DataFrame | None = None
    leads: pl.DataFrame | None = None  # lead_id, created_at (naive UTC)

    @classmethod
    def build(
        cls,
        series: pl.DataFrame,
        deals: pl.DataFrame | None = None,
        transitions: pl.DataFrame | None = None,
        leads: pl.DataFrame | None = None,
    ) -> TenantHistory:
        if deals is None or transitions is None or deals.height == 0:
            return cls(daily_frame(series))
        d, t = pipeline.prepare(deals, transitions)
        if leads is not None:
            leads = leads.select(
                pl.col("lead_id").cast(pl.Utf8), pl.col("created_at").cast(pipeline.NAIVE_TS)
            ).sort("created_at")
        return cls(daily_frame(series), d, t, leads)

    @property
    def origin(self) -> pd.Timestamp:
        """The first day to forecast: the day after the last one of the series."""
        return self.series["ds"].iloc[-1] + pd.Timedelta(days=1)

    def at(self, origin: pd.Timestamp) -> TenantHistory:
        """The history as it was known at `origin` (nothing at or after it)."""
        series = self.series[self.series["ds"] < origin].reset_index(drop=True)
        if self.deals is None or self.transitions is None:
            return TenantHistory(series)
        d, t = pipeline.as_of(self.deals, self.transitions, origin.to_pydatetime())
        leads = (
            None if self.leads is None else self.leads.filter(pl.col("created_at") < origin.to_pydatetime())
        )
        return TenantHistory(series, d, t, leads)


def load_history(url: str | None, tenant_id: str) -> TenantHistory:
    """The tenant's forecast inputs from the marts (`ml.marts`)."""
    from ml import marts

    deals, transitions, leads = marts.pipeline_frames(url, tenant_id)
    return TenantHistory.build(marts.revenue_series(url, tenant_id), deals, transitions, leads)


@dataclass
class Trained:
    """A forecast model version: the method the backtest chose, what the registry stores, and
    the gate's inputs (the chosen method's backtest error vs the naive baseline's, same periods)."""

    artifact: dict
    metrics: dict
    params: dict
    gate_score: float
    baseline: float


def train(h: TenantHistory, seed: int = 0) -> Trained | str:
    """Backtest every method on the tenant's history and keep the best (a reason string when
    there is too little history)."""
    if len(h.series) < MIN_HISTORY_DAYS or h.series["y"].sum() <= 0:
        return f"{len(h.series)} days of history, {MIN_HISTORY_DAYS} needed"
    bt = backtest(h, seed=seed)
    if not bt.origins:
        return "no backtest origin with a year of history before it"
    params = {
        "method": bt.best,
        "horizon": HORIZON,
        "prophet": PROPHET_PARAMS,
        "backtest": {"origins": BACKTEST_ORIGINS, "step_days": BACKTEST_STEP, "period_days": bt.period_days},
    }
    return Trained({"method": bt.best, "seed": seed}, bt.metrics(), params, bt.best_mape, bt.naive_mape)


def predict(h: TenantHistory, method: str, horizon: int = HORIZON, seed: int = 0) -> pd.DataFrame:
    """Daily forecast after `h` by `method` (the pipeline method falls back to Prophet when
    there is no pipeline model)."""
    if method == "pipeline_funnel":
        fc = hybrid.forecast(h, horizon, seed)
        if fc is not None:
            return fc
    return fit_prophet(h.series, horizon, seed)


@dataclass
class Backtest:
    """Mean MAPE per method and of the seasonal naive baseline over the same origins and
    periods (`period_days` long: see `scoring_days`)."""

    mape: dict[str, float] = field(default_factory=dict)
    naive_mape: float = float("nan")
    origins: list[str] = field(default_factory=list)
    period_days: int = 7

    @property
    def best(self) -> str:
        scored = {m: v for m, v in self.mape.items() if np.isfinite(v)}
        return min(scored, key=lambda m: (scored[m], METHODS.index(m))) if scored else "prophet"

    @property
    def best_mape(self) -> float:
        return self.mape.get(self.best, float("nan"))

    def metrics(self) -> dict:
        """What the registry stores with the version (`backtest_mape` is the chosen method's)."""
        return {
            "backtest_mape": self.best_mape,
            "seasonal_naive_mape": self.naive_mape,
            **{f"backtest_mape_{m}": v for m, v in self.mape.items()},
            "method": self.best,
            "period_days": self.period_days,
            "origins": self.origins,
        }


def methods(h: TenantHistory) -> list[str]:
    """The methods this history supports (the pipeline one needs the deal marts)."""
    return list(METHODS) if h.deals is not None and h.deals.height else ["prophet"]


def backtest(
    h: TenantHistory,
    horizon: int = HORIZON,
    origins: int = BACKTEST_ORIGINS,
    seed: int = 0,
    step: int = BACKTEST_STEP,
    period_days: int | None = None,
) -> Backtest:
    """Rolling origin: `origins` origins `step` days apart, the newest `horizon` days before
    the end, each with a year of history before it. At each, every method and the naive
    baseline forecast the next `horizon` days from what was known then, scored by MAPE over
    the same periods; averaged over origins."""
    days = period_days or scoring_days(h.series)
    scores: dict[str, list[float]] = {m: [] for m in methods(h)}
    naive, cuts = [], []
    n = len(h.series)
    for k in range(origins, 0, -1):
        cut = n - horizon - (k - 1) * step
        if cut < MIN_BACKTEST_HISTORY:
            continue
        origin = h.series["ds"].iloc[cut]
        past = h.at(origin)
        actual = h.series["y"].to_numpy()[cut : cut + horizon]
        for m in scores:
            fc = predict(past, m, len(actual), seed)["yhat"].to_numpy()
            scores[m].append(period_mape(actual, fc, days))
        naive.append(period_mape(actual, seasonal_naive(past.series, len(actual)), days))
        cuts.append(str(origin.date()))
    return Backtest(
        {m: float(np.nanmean(v)) if v else float("nan") for m, v in scores.items()},
        float(np.nanmean(naive)) if naive else float("nan"),
        cuts,
        days,
    )


def forecast_tenant(
    h: TenantHistory,
    tenant_id: str,
    run_id: str,
    version: str,
    method: str,
    backtest_mape: float | None,
    seed: int = 0,
    horizon: int = HORIZON,
) -> pl.DataFrame:
    """Rows for `ml.revenue_forecasts` (kind 'prophet': the daily forecast, whichever method)."""
    fc = predict(h, method, horizon, seed)
    return pl.DataFrame(
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
            "backtest_mape": pl.Series([backtest_mape] * len(fc), dtype=pl.Float64),
            "model_version": version,
        }
    )


def category(p: pl.Expr) -> pl.Expr:
    return (
        pl.when(p >= COMMIT_AT)
        .then(pl.lit("commit"))
        .when(p >= BEST_CASE_AT)
        .then(pl.lit("best_case"))
        .otherwise(pl.lit("pipeline"))
    )


PIPELINE_HORIZON_DAYS = 180
"""The pipeline-weighted forecast's horizon in the batch (`ml.revenue_forecasts`): deals
expected to close in the next 180 days."""


def with_probabilities(open_deals: pl.DataFrame, probabilities: pl.DataFrame) -> pl.DataFrame:
    """Open deals (`analytics.ml_features__deals`) with their win `probability` (as scored in
    `ml.deal_probabilities`: deal_id, probability, model_version) and its `model_version`; a
    deal not scored yet counts at its stage's default probability."""
    probs = probabilities.select(
        pl.col("deal_id").cast(pl.Utf8),
        pl.col("probability").cast(pl.Float64),
        pl.col("model_version").cast(pl.Utf8),
    )
    return (
        open_deals.with_columns(pl.col("deal_id").cast(pl.Utf8))
        .join(probs, on="deal_id", how="left")
        .with_columns(
            probability=pl.coalesce(
                pl.col("probability"), pl.col("stage_probability").cast(pl.Float64) / 100
            ),
            model_version=pl.col("model_version").fill_null("stage-defaults"),
        )
    )


def _in_horizon(deals: pl.DataFrame, as_of: date, horizon_days: int) -> pl.DataFrame:
    """Per open deal: its month (the expected close month; overdue or undated deals count in
    the current month), value `v`, probability `p` and category; only the deals expected to
    close before `as_of + horizon_days`."""
    end = as_of + timedelta(days=horizon_days)
    close = pl.max_horizontal(pl.col("expected_close_date").cast(pl.Date), pl.lit(as_of))
    return (
        deals.with_columns(
            close=close,
            v=pl.col("deal_value").cast(pl.Float64),
            p=pl.col("probability").cast(pl.Float64),
        )
        .filter(pl.col("close") < end)
        .with_columns(month=pl.col("close").dt.truncate("1mo"), category=category(pl.col("p")))
    )


def pipeline_forecast(
    deals: pl.DataFrame,
    tenant_id: str,
    run_id: str,
    version: str,
    as_of: date,
    backtest_mape: float | None = None,
    horizon_days: int = PIPELINE_HORIZON_DAYS,
) -> pl.DataFrame:
    """Open deals' value x win probability (`with_probabilities`), by expected close month and
    category, for the deals expected to close within `horizon_days`; the interval is +-1.28 sd
    of the sum of independent Bernoulli outcomes (80%). Rows of `ml.revenue_forecasts` (kind
    'pipeline'); `forecastRevenue(pipelineId, timeframe)` is the same over one pipeline's deals."""
    if deals.height == 0:
        return pl.DataFrame()
    g = (
        _in_horizon(deals, as_of, horizon_days)
        .group_by("month", "category")
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


def pipeline_total(deals: pl.DataFrame, as_of: date, horizon_days: int) -> dict[str, float | int]:
    """The whole horizon of `pipeline_forecast` in one figure: expected revenue, its 80%
    interval (the deals' outcomes summed, not the months' intervals), and the deals counted."""
    d = _in_horizon(deals, as_of, horizon_days) if deals.height else None
    if d is None or d.height == 0:
        return {"expected": 0.0, "lower": 0.0, "upper": 0.0, "deals": 0}
    expected = float((d["v"] * d["p"]).sum())
    sd = float((d["v"] ** 2 * d["p"] * (1 - d["p"])).sum()) ** 0.5
    return {
        "expected": expected,
        "lower": max(expected - 1.28 * sd, 0.0),
        "upper": expected + 1.28 * sd,
        "deals": d.height,
    }
