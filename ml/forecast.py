"""Revenue forecasting per tenant: daily won revenue for the next 90 days, with intervals.

Candidates, chosen per tenant by a rolling-origin backtest (MAPE over weeks, or over longer
periods for tenants that win few deals: `timeseries.scoring_days`; the lowest wins, ties go
to the simpler method; the error of every candidate is stored with the model version, the
chosen one's with every forecast row):

- `seasonal_naive`: the last week repeated, the baseline every other candidate must beat.
  When none beats it on the backtest, it is what ships (the version says so: `naive_baseline`).
- `ets`, `theta`, `arima`: statsforecast's AutoETS, AutoTheta and AutoARIMA on weekly totals
  (`ml.statistical`).
- `prophet`: Prophet on the tenant's daily won revenue (trend, yearly and weekly seasonality).
- `customer_base`: each customer's purchase process (BG/NBD + Gamma-Gamma) summed over the
  customers, plus new customers (`ml.customer_base`); when the warehouse has per-customer
  purchases (`analytics.ml_series__customer_purchases`).
- `pipeline_funnel`: what the CRM knows on top of the series. The deals open at the origin
  (value, pipeline, stage, expected close) bring the revenue `ml.pipeline` expects of them in
  each coming week, learnt from the tenant's own past pipeline snapshots. New business not in
  the pipeline yet comes from the level of the lead funnel (`ml.funnel`: leads already
  created and Prophet's forecast of lead volume, through the lead-to-close delay and the
  revenue per lead), of which only the share that comes from deals not created yet is added
  (Prophet on new-business revenue stands in when deals are not linked to leads). Pipelines
  driven by their open deals (renewals) add the share of their trailing level not open yet.

Every candidate is scored on the same held-out periods, and at a past origin it sees only
what the CRM showed then (`TenantHistory.at`). A candidate that fails at any origin (too
little data for it) is left out. A pipeline-weighted forecast by expected close month with
categories (commit / best case / pipeline) is written next to it (`pipeline_forecast`: the
tenant's open deals over `PIPELINE_HORIZON_DAYS`; the API's forecastRevenue(pipelineId,
timeframe) runs it over one pipeline's deals and the horizon asked for).

Inputs: the daily series `analytics.ml_series__revenue_daily` (tenant_id, day, won_revenue),
the customer purchases `analytics.ml_series__customer_purchases` and the pipeline frames of
`ml.marts.pipeline_frames`; any other source (a transaction file) gives the same frames.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import polars as pl

from ml import customer_base, hybrid, pipeline, statistical, timeseries
from ml.timeseries import (  # noqa: F401 (the forecast's public names, used by jobs and the bench)
    PROPHET_PARAMS,
    daily_frame,
    fit_prophet,
    naive_forecast,
    period_mape,
    scoring_days,
    seasonal_naive,
    weekly_mape,
)

log = logging.getLogger(__name__)

HORIZON = timeseries.HORIZON
BACKTEST_ORIGINS = 6
BACKTEST_STEP = 21
MIN_BACKTEST_HISTORY = 120
"""A backtest origin needs 17 weeks of history before it (a weekly model's shortest)."""
MIN_HISTORY_DAYS = MIN_BACKTEST_HISTORY + HORIZON
"""Enough for one backtest origin."""
MODEL_NAME = "revenue_prophet"
"""The registry name (kept from when Prophet was the only method)."""
NAIVE = "seasonal_naive"
METHODS = (NAIVE, *statistical.METHODS, "customer_base", "pipeline_funnel", "prophet")
"""Every candidate, simplest first: a tie goes to the earlier one."""
COMMIT_AT = 0.7
BEST_CASE_AT = 0.4
"""Pipeline categories: probability >= 0.7 commit, >= 0.4 best case, else pipeline."""


@dataclass
class TenantHistory:
    """What a forecast may use: the daily series and, when the marts have them, each
    customer's purchases, the deals, their stage transitions (prepared by
    `ml.pipeline.prepare`) and the leads' creation times."""

    series: pd.DataFrame
    deals: pl.DataFrame | None = None
    transitions: pl.DataFrame | None = None
    leads: pl.DataFrame | None = None  # lead_id, created_at (naive UTC)
    purchases: pl.DataFrame | None = None  # customer_id, day (date), amount

    @classmethod
    def build(
        cls,
        series: pl.DataFrame,
        deals: pl.DataFrame | None = None,
        transitions: pl.DataFrame | None = None,
        leads: pl.DataFrame | None = None,
        purchases: pl.DataFrame | None = None,
    ) -> TenantHistory:
        """From the marts' frames: the daily series (day, won_revenue[, won_deals]) and
        optionally the purchases (customer_id, day, amount) and the pipeline frames."""
        bought = None
        if purchases is not None and purchases.height:
            bought = purchases.select(
                pl.col("customer_id").cast(pl.Utf8),
                pl.col("day").cast(pl.Date),
                pl.col("amount").cast(pl.Float64),
            ).sort("day", "customer_id")
        if deals is None or transitions is None or deals.height == 0:
            return cls(daily_frame(series), purchases=bought)
        d, t = pipeline.prepare(deals, transitions)
        if leads is not None:
            leads = leads.select(
                pl.col("lead_id").cast(pl.Utf8), pl.col("created_at").cast(pipeline.NAIVE_TS)
            ).sort("created_at")
        return cls(daily_frame(series), d, t, leads, bought)

    @property
    def origin(self) -> pd.Timestamp:
        """The first day to forecast: the day after the last one of the series."""
        return self.series["ds"].iloc[-1] + pd.Timedelta(days=1)

    def at(self, origin: pd.Timestamp) -> TenantHistory:
        """The history as it was known at `origin` (nothing at or after it)."""
        series = self.series[self.series["ds"] < origin].reset_index(drop=True)
        bought = None if self.purchases is None else self.purchases.filter(pl.col("day") < origin.date())
        if self.deals is None or self.transitions is None:
            return TenantHistory(series, purchases=bought)
        d, t = pipeline.as_of(self.deals, self.transitions, origin.to_pydatetime())
        leads = (
            None if self.leads is None else self.leads.filter(pl.col("created_at") < origin.to_pydatetime())
        )
        return TenantHistory(series, d, t, leads, bought)


def load_history(url: str | None, tenant_id: str) -> TenantHistory:
    """The tenant's forecast inputs from the marts (`ml.marts`)."""
    from ml import marts

    deals, transitions, leads = marts.pipeline_frames(url, tenant_id)
    purchases = marts.customer_purchases(url, tenant_id)
    return TenantHistory.build(marts.revenue_series(url, tenant_id), deals, transitions, leads, purchases)


@dataclass
class Trained:
    """A forecast model version: the method the backtest chose, what the registry stores, and
    the gate's inputs (the chosen method's backtest error vs the naive baseline's, same
    periods; no baseline when the naive baseline itself is what ships)."""

    artifact: dict
    metrics: dict
    params: dict
    gate_score: float
    baseline: float | None


def train(h: TenantHistory, seed: int = 0) -> Trained | str:
    """Backtest every candidate on the tenant's history and keep the best; the seasonal naive
    baseline when nothing beats it (a reason string when there is too little history)."""
    if len(h.series) < MIN_HISTORY_DAYS or h.series["y"].sum() <= 0:
        return f"{len(h.series)} days of history, {MIN_HISTORY_DAYS} needed"
    bt = backtest(h, seed=seed)
    if not bt.origins:
        return f"no backtest origin with {MIN_BACKTEST_HISTORY} days of history before it"
    params = {
        "method": bt.best,
        "candidates": list(bt.mape),
        "horizon": HORIZON,
        "prophet": PROPHET_PARAMS,
        "backtest": {"origins": BACKTEST_ORIGINS, "step_days": BACKTEST_STEP, "period_days": bt.period_days},
    }
    baseline = None if bt.best == NAIVE else bt.naive_mape
    return Trained({"method": bt.best, "seed": seed}, bt.metrics(), params, bt.best_mape, baseline)


def predict(h: TenantHistory, method: str, horizon: int = HORIZON, seed: int = 0) -> pd.DataFrame:
    """Daily forecast (ds, yhat, yhat_lower, yhat_upper: 80%) after `h` by `method` (the
    pipeline method falls back to Prophet when there is no pipeline model). Raises when the
    history cannot carry the method (too few weeks or customers)."""
    if method == NAIVE:
        return naive_forecast(h.series, horizon)
    if method in statistical.METHODS:
        return statistical.forecast(h.series, method, horizon)
    if method == "customer_base":
        if h.purchases is None or h.purchases.height == 0:
            raise ValueError("no customer purchases")
        return customer_base.forecast(h.series, h.purchases, horizon)
    if method == "pipeline_funnel":
        fc = hybrid.forecast(h, horizon, seed)
        if fc is not None:
            return fc
    return fit_prophet(h.series, horizon, seed)


@dataclass
class Backtest:
    """Mean MAPE per candidate (the seasonal naive baseline among them) over the same origins
    and periods (`period_days` long: see `scoring_days`); NaN for a candidate that failed at
    any origin."""

    mape: dict[str, float] = field(default_factory=dict)
    naive_mape: float = float("nan")
    origins: list[str] = field(default_factory=list)
    period_days: int = 7
    failed: dict[str, str] = field(default_factory=dict)
    """Candidates left out, and why."""

    @property
    def best(self) -> str:
        scored = {m: v for m, v in self.mape.items() if np.isfinite(v)}
        return min(scored, key=lambda m: (scored[m], METHODS.index(m))) if scored else NAIVE

    @property
    def best_mape(self) -> float:
        return self.mape.get(self.best, float("nan"))

    @property
    def why(self) -> str:
        """The choice in a sentence, for the registry."""
        best, naive = self.best, self.naive_mape
        others = {m: v for m, v in self.mape.items() if m != NAIVE and np.isfinite(v)}
        if best == NAIVE:
            if not others:
                return (
                    f"no other candidate could be backtested: the seasonal naive baseline ships ({naive:.3f})"
                )
            runner = min(others, key=lambda m: others[m])
            return (
                f"no candidate beat the seasonal naive baseline ({naive:.3f}; best other {runner} "
                f"{others[runner]:.3f}): the baseline ships"
            )
        return (
            f"{best} had the lowest backtest MAPE ({self.best_mape:.3f}) of {len(others) + 1} candidates, "
            f"{1 - self.best_mape / naive:.0%} below the seasonal naive baseline ({naive:.3f})"
        )

    def metrics(self) -> dict:
        """What the registry stores with the version (`backtest_mape` is the chosen method's)."""
        return {
            "backtest_mape": self.best_mape,
            "seasonal_naive_mape": self.naive_mape,
            # a candidate that could not run: None (its reason in failed_candidates)
            **{f"backtest_mape_{m}": v if np.isfinite(v) else None for m, v in self.mape.items()},
            "method": self.best,
            "naive_baseline": self.best == NAIVE,
            "why": self.why,
            "failed_candidates": self.failed,
            "period_days": self.period_days,
            "origins": self.origins,
        }


def methods(h: TenantHistory) -> list[str]:
    """The candidates this history supports: the customer-base one needs per-customer
    purchases, the pipeline one deals with stage transitions (orders won outright have none)."""
    out = [NAIVE, *statistical.METHODS]
    if h.purchases is not None and h.purchases.height:
        out.append("customer_base")
    if h.deals is not None and h.deals.height and h.transitions is not None and h.transitions.height:
        out.append("pipeline_funnel")  # deals that went through stages: a pipeline to learn
    return [*out, "prophet"]


def backtest(
    h: TenantHistory,
    horizon: int = HORIZON,
    origins: int = BACKTEST_ORIGINS,
    seed: int = 0,
    step: int = BACKTEST_STEP,
    period_days: int | None = None,
) -> Backtest:
    """Rolling origin: `origins` origins `step` days apart, the newest `horizon` days before
    the end, each with `MIN_BACKTEST_HISTORY` days before it. At each, every candidate
    forecasts the next `horizon` days from what was known then, scored by MAPE over the same
    periods; averaged over origins."""
    days = period_days or scoring_days(h.series)
    scores: dict[str, list[float]] = {m: [] for m in methods(h)}
    failed: dict[str, str] = {}
    cuts = []
    n = len(h.series)
    for k in range(origins, 0, -1):
        cut = n - horizon - (k - 1) * step
        if cut < MIN_BACKTEST_HISTORY:
            continue
        origin = h.series["ds"].iloc[cut]
        past = h.at(origin)
        actual = h.series["y"].to_numpy()[cut : cut + horizon]
        for m in scores:
            if m in failed:
                continue
            try:
                fc = predict(past, m, len(actual), seed)["yhat"].to_numpy()
            except Exception as exc:  # the history cannot carry it (yet): not a candidate
                failed[m] = f"{origin.date()}: {exc}"
                log.info("forecast candidate %s left out at %s: %s", m, origin.date(), exc)
                continue
            scores[m].append(period_mape(actual, fc, days))
        cuts.append(str(origin.date()))
    mape = {m: float("nan") if m in failed or not v else float(np.nanmean(v)) for m, v in scores.items()}
    return Backtest(mape, mape.get(NAIVE, float("nan")), cuts, days, failed)


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
    """Rows for `ml.revenue_forecasts` (kind 'prophet': the daily forecast, whichever method;
    the seasonal naive baseline answers if the method cannot run on today's history)."""
    try:
        fc = predict(h, method, horizon, seed)
    except Exception as exc:
        log.warning(
            "forecast %s of %s cannot run (%s): the seasonal naive baseline answers", version, tenant_id, exc
        )
        fc = naive_forecast(h.series, horizon)
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
