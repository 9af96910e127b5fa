"""The expected daily won revenue per tenant (sim_truth.revenue_truth).

Won revenue is the sum of values of deals closing that day. A deal closes when its lead
converts: lead creation follows trend x yearly x weekly seasonality (`leads.intensity`),
conversion comes after a gamma delay, and weekend closes mostly move to Friday/Monday. The
expectation is that chain computed exactly: expected creations per day, times the mean of
p x P(deal) x E[value], convolved with the delay kernel, then the weekend shift. It is
extended 90 days past `as_of` (the forecast horizon) from the same intensity.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from crm.sim.leads import CONV_DELAY, LEAD_LEAD_IN_DAYS, NO_DEAL_SHARE, LeadWorld, TenantShape, intensity
from crm.sim.rng import DAY, HOUR, sigmoid, stream

HORIZON_DAYS = 90
WEEKEND_Q = 0.85


def delay_kernel(seed: int, n: int = 400_000) -> np.ndarray:
    """P(close day - creation day = k), by Monte Carlo with the generator's own distributions."""
    r = stream(seed, "revenue-kernel")
    tod = np.clip(r.normal(13.5, 3.2, n), 0.2, 23.8) * HOUR
    delay = np.clip(r.gamma(CONV_DELAY[0], CONV_DELAY[1], n), 2, 89) * DAY
    k = ((tod + delay) // DAY).astype(int)
    return np.bincount(k, minlength=92) / n


def expected_revenue(
    seed: int, tenant_id: str, n_leads: int, shape: TenantShape, lw: LeadWorld, start: int, now: int
) -> pl.DataFrame:
    d_first = (start - LEAD_LEAD_IN_DAYS * DAY) // DAY
    d_now = now // DAY
    days = np.arange(d_first, d_now + HORIZON_DAYS + 2)
    lam = intensity(shape, days, d_first)
    hist = days < d_now
    lam_created = lam * n_leads / lam[hist].sum()  # future days: the same intensity, extended
    m = float(np.mean(sigmoid(lw.z) * lw.expected_value)) * (1 - NO_DEAL_SHARE)
    kern = delay_kernel(seed)
    raw = np.convolve(lam_created * m, kern)[: days.size]
    dow = (days + 3) % 7
    out = raw * np.where(dow >= 5, 1 - WEEKEND_Q, 1.0)
    # Saturday's moved share lands on Friday, Sunday's on Monday
    sat_next = np.roll(raw, -1)
    sun_prev = np.roll(raw, 1)
    out += np.where(dow == 4, WEEKEND_Q * sat_next, 0.0) + np.where(dow == 0, WEEKEND_Q * sun_prev, 0.0)
    keep = (days * DAY >= start) & (days < d_now + HORIZON_DAYS)
    return pl.DataFrame(
        {
            "tenant_id": tenant_id,
            "day": pl.Series(days[keep].astype("datetime64[D]")),
            "expected_revenue": np.round(out[keep], 2),
        }
    )
