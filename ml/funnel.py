"""The level of new-business revenue from the lead funnel.

New business is won a few weeks after its leads arrive. Leads are many more than won deals
(about 8 to 1 in the simulated tenants), so their daily count shows the trend and the season
with far less noise than revenue does, and the leads already in the funnel at the origin
decide much of the next two months. Learnt from the tenant's own history as of the origin:

- the kernel: P(a won deal closes d days after its lead was created), d < KERNEL_DAYS, from
  the won deals linked to a lead whose leads were created in the year ending KERNEL_DAYS
  before the origin (so every such lead had its full chance to close);
- the revenue per lead: new-business revenue of the last CALIBRATION_DAYS divided by the
  kernel-weighted lead counts behind it (deals without a lead are covered by the ratio);
- the weekday profile of new-business revenue over the last year.

Level on day t = revenue per lead x sum_d kernel[d] x leads(t - d) x weekday profile, with
the counts of days before the origin as they were and those after it from Prophet on the
daily lead counts. The 80% interval scales the level by the 10th/90th percentiles of
actual / level over the calibration days (a day's revenue is spiky: the lower one is often 0).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import polars as pl

KERNEL_DAYS = 120
KERNEL_WINDOW_DAYS = 365
CALIBRATION_DAYS = 182
MIN_LINKED = 30
"""Fewer won deals linked to a lead than this in the kernel window: no funnel level."""


def _kernel(won: pl.DataFrame, origin: datetime) -> np.ndarray | None:
    hi = origin - pd.Timedelta(days=KERNEL_DAYS)
    lo = hi - pd.Timedelta(days=KERNEL_WINDOW_DAYS)
    lag = (
        won.filter(pl.col("lead_created_at").is_between(lo, hi, closed="left"))
        .select(d=(pl.col("closed_at").dt.date() - pl.col("lead_created_at").dt.date()).dt.total_days())
        .filter(pl.col("d").is_between(0, KERNEL_DAYS - 1))["d"]
        .to_numpy()
    )
    if lag.size < MIN_LINKED:
        return None
    k = np.bincount(lag, minlength=KERNEL_DAYS).astype(float)
    return k / k.sum()


def level(
    lead_created: pl.Series,
    won: pl.DataFrame,
    origin: datetime,
    horizon: int,
    fit_prophet,
    seed: int = 0,
) -> pd.DataFrame | None:
    """Daily new-business level (ds, yhat, yhat_lower, yhat_upper) for `horizon` days from
    `origin`, or None when too few won deals are linked to their leads.

    lead_created: creation times of the tenant's leads (naive UTC), all before `origin`;
    won: won new-business deals before `origin` with closed_at, value and lead_created_at
    (null when the deal has no lead); fit_prophet: `ml.forecast.fit_prophet`."""
    kernel = _kernel(won.filter(pl.col("lead_created_at").is_not_null()), origin)
    if kernel is None or lead_created.len() == 0:
        return None
    first = pd.Timestamp(lead_created.min()).normalize()
    days = pd.date_range(first, pd.Timestamp(origin) - pd.Timedelta(days=1), freq="D")
    counts = pl.DataFrame({"t": lead_created}).group_by(day=pl.col("t").dt.date()).len()
    by_day = dict(counts.iter_rows())
    past = np.array([float(by_day.get(d.date(), 0)) for d in days])
    fc = fit_prophet(pd.DataFrame({"ds": days, "y": past}), horizon, seed)
    leads = np.concatenate([past, fc["yhat"].to_numpy()])
    expected = np.convolve(leads, kernel)[: leads.size]  # lead units closing each day
    calendar = pd.date_range(first, periods=leads.size, freq="D")

    rev = won.group_by(day=pl.col("closed_at").dt.date()).agg(pl.col("value").sum())
    rev_of = dict(rev.iter_rows())
    revenue = np.array([float(rev_of.get(d.date(), 0.0)) for d in calendar[: past.size]])
    cal = slice(max(past.size - CALIBRATION_DAYS, 0), past.size)
    per_lead = revenue[cal].sum() / max(expected[cal].sum(), 1e-9)
    year = slice(max(past.size - 364, 0), past.size)
    dow = calendar[year].dayofweek.to_numpy()
    profile = np.array([revenue[year][dow == k].sum() for k in range(7)])
    profile = profile / profile.mean() if profile.sum() > 0 else np.ones(7)

    fitted = per_lead * expected[cal] * profile[calendar[cal].dayofweek.to_numpy()]
    ok = fitted > 0
    ratio = revenue[cal][ok] / fitted[ok] if ok.any() else np.ones(1)
    lo_q, hi_q = np.quantile(ratio, [0.1, 0.9])
    ahead = calendar[past.size :]
    yhat = per_lead * expected[past.size :] * profile[ahead.dayofweek.to_numpy()]
    return pd.DataFrame({"ds": ahead, "yhat": yhat, "yhat_lower": yhat * lo_q, "yhat_upper": yhat * hi_q})
