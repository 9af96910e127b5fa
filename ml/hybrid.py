"""The `pipeline_funnel` forecast: what the CRM knows on top of the revenue series.

Week k of the horizon = what the deals open at the origin are expected to bring in week k
(`ml.pipeline`) + the share of the week's revenue that comes from deals not created yet x
the level of new business (`ml.funnel`: the lead funnel; Prophet on the new-business revenue
when deals are not linked to leads). Pipelines driven by their open deals (renewals, opened
months before they are due) add the share not open yet of their trailing level. Daily values
spread each week's open-deal revenue like the level's weekday profile; the 80% interval adds
the level's interval and +-1.28 sd of the open deals' independent outcomes.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import polars as pl

from ml import funnel, pipeline
from ml.scalars import min_of
from ml.timeseries import fit_prophet

if TYPE_CHECKING:
    from ml.forecast import TenantHistory

LEVEL_WEEKS = 12
"""Trailing weeks behind the level of a pipeline-driven pipeline (renewals)."""
Z80 = 1.2816


def _pipeline_series(h: TenantHistory, pipes: list[str]) -> pd.DataFrame:
    """Daily won revenue of the deals in `pipes`, on the series' calendar."""
    assert h.deals is not None
    won = (
        h.deals.filter(pl.col("is_won") & pl.col("pipeline").is_in(pipes))
        .group_by(day=pl.col("closed_at").dt.date())
        .agg(pl.col("value").sum())
    )
    y = dict(won.iter_rows())
    return pd.DataFrame({"ds": h.series["ds"], "y": [float(y.get(d.date(), 0.0)) for d in h.series["ds"]]})


def forecast(h: TenantHistory, horizon: int, seed: int) -> pd.DataFrame | None:
    """Prophet level of new business x the share not open yet, plus the open deals' expected
    revenue (`ml.pipeline`); None when there is no pipeline model (too little history)."""
    if h.deals is None or h.transitions is None:
        return None
    origin = h.origin.to_pydatetime()
    weeks = -(-horizon // pipeline.STEP_DAYS)
    model = pipeline.fit(h.deals, h.transitions, origin, weeks)
    if model is None:
        return None
    days = pd.date_range(h.origin, periods=horizon, freq="D")
    week = np.arange(horizon) // pipeline.STEP_DAYS
    yhat, lower, upper = np.zeros(horizon), np.zeros(horizon), np.zeros(horizon)
    profile = np.ones(horizon)
    pipes = sorted(model.new_share)
    level = [p for p in pipes if not model.driven(p)]
    if level:
        # new business, pooled over its pipelines (a sparse pipeline alone fits badly)
        fc = _new_business_level(h, level, horizon, seed)
        share = pipeline.new_share(h.deals.filter(pl.col("pipeline").is_in(level)), _origins(h, weeks), weeks)
        f = share[week]
        yhat += f * fc["yhat"].to_numpy()
        lower += f * fc["yhat_lower"].to_numpy()
        upper += f * fc["yhat_upper"].to_numpy()
        profile = np.maximum(fc["yhat"].to_numpy(), 1e-9)
    for p in pipes:
        if p in level:
            continue
        recent = _pipeline_series(h, [p])["y"].to_numpy()[-LEVEL_WEEKS * 7 :]
        f = model.new_share[p][week]
        yhat += f * recent.mean()
        lower += f * np.quantile(recent, 0.1)
        upper += f * np.quantile(recent, 0.9)
    mean, var = model.expected(pipeline.snapshots(h.deals, h.transitions, [origin]))
    # the open deals' weekly revenue, spread over the week's days like the level
    w_sum = np.bincount(week, weights=profile, minlength=weeks)
    day_share = profile / w_sum[week]
    yhat += mean[week] * day_share
    sd = np.sqrt(var[week]) * day_share
    lower = np.maximum(lower + mean[week] * day_share - Z80 * sd, 0.0)
    upper = upper + mean[week] * day_share + Z80 * sd
    return pd.DataFrame(
        {
            "ds": days,
            "yhat": yhat,
            "yhat_lower": np.minimum(lower, yhat),
            "yhat_upper": np.maximum(upper, yhat),
        }
    )


def _new_business_level(h: TenantHistory, pipes: list[str], horizon: int, seed: int) -> pd.DataFrame:
    """The funnel's level (`ml.funnel`) when deals link to leads, else Prophet on the
    pipelines' revenue."""
    assert h.deals is not None
    if h.leads is not None and h.leads.height:
        won = (
            h.deals.filter(pl.col("is_won") & pl.col("pipeline").is_in(pipes))
            .join(h.leads.rename({"created_at": "lead_created_at"}), on="lead_id", how="left")
            .select("closed_at", "value", "lead_created_at")
        )
        fc = funnel.level(h.leads["created_at"], won, h.origin.to_pydatetime(), horizon, fit_prophet, seed)
        if fc is not None:
            return fc
    return fit_prophet(_pipeline_series(h, pipes), horizon, seed)


def _origins(h: TenantHistory, weeks: int) -> list[datetime]:
    assert h.deals is not None
    return pipeline.learning_origins(min_of(h.deals["created_at"], datetime), h.origin.to_pydatetime(), weeks)
