"""The expected daily won revenue per tenant (sim_truth.revenue_truth).

Won revenue is the sum of values of deals closing that day. A deal closes when its lead
converts: lead creation follows trend x yearly x weekly seasonality (`leads.intensity`),
conversion comes after a gamma delay, and weekend closes mostly move to Friday/Monday. The
expectation is that chain computed exactly: expected creations per day, times the mean of
p x P(deal) x E[value], convolved with the delay kernel, then the weekend shift. It is
extended 90 days past `as_of` (the forecast horizon) from the same intensity.

Renewals (sim.renewals) add, for every contract up for renewal, its value x the expected
uplift x the tenant's renewal rate, spread around the contract's end date by the close-date
noise. The rate is the tenant's realised share of renewed contracts (customers' churn hazard
depends on their hidden health; its average over the tenant is what a contract can expect).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from sim import renewals as rn
from sim.leads import CONV_DELAY, LEAD_LEAD_IN_DAYS, NO_DEAL_SHARE, LeadWorld, TenantShape, intensity
from sim.rng import DAY, HOUR, sigmoid, stream

HORIZON_DAYS = 90
WEEKEND_Q = 0.85


def delay_kernel(seed: int, n: int = 400_000) -> np.ndarray:
    """P(close day - creation day = k), by Monte Carlo with the generator's own distributions."""
    r = stream(seed, "revenue-kernel")
    tod = np.clip(r.normal(13.5, 3.2, n), 0.2, 23.8) * HOUR
    delay = np.clip(r.gamma(CONV_DELAY[0], CONV_DELAY[1], n), 2, 89) * DAY
    k = ((tod + delay) // DAY).astype(int)
    return np.bincount(k, minlength=92) / n


def renewal_expectation(rw: rn.RenewalWorld, days: np.ndarray) -> np.ndarray:
    """Expected renewal revenue on each of `days` (epoch days, consecutive)."""
    out = np.zeros(days.size)
    if rw.due_day.size == 0:
        return out
    decided = rw.renewed[~np.isnan(rw.renewed)]
    rate = float(decided.mean()) if decided.size else 0.0
    uplift = float(np.exp(rn.UPLIFT[0] + rn.UPLIFT[1] ** 2 / 2))
    offs = np.arange(-20, 15)
    kern = np.exp(-0.5 * ((offs - rn.CLOSE_OFFSET_DAYS[0]) / rn.CLOSE_OFFSET_DAYS[1]) ** 2)
    kern /= kern.sum()
    pad = 40
    idx = rw.due_day - days[0] + pad
    ok = (idx >= 0) & (idx < days.size + 2 * pad)
    per_day = np.bincount(idx[ok], weights=(rw.due_value * uplift * rate)[ok], minlength=days.size + 2 * pad)
    raw = np.zeros(days.size)
    for o, w in zip(offs, kern, strict=True):
        raw += w * per_day[pad - o : pad - o + days.size]
    return _weekend_moved(raw, days)


def _weekend_moved(raw: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Saturday's moved share lands on Friday, Sunday's on Monday."""
    dow = (days + 3) % 7
    out = raw * np.where(dow >= 5, 1 - WEEKEND_Q, 1.0)
    out += np.where(dow == 4, WEEKEND_Q * np.roll(raw, -1), 0.0) + np.where(
        dow == 0, WEEKEND_Q * np.roll(raw, 1), 0.0
    )
    return out


def expected_revenue(
    seed: int,
    tenant_id: str,
    n_leads: int,
    shape: TenantShape,
    lw: LeadWorld,
    start: int,
    now: int,
    renewals: rn.RenewalWorld | None = None,
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
    out = _weekend_moved(raw, days)
    if renewals is not None:
        out = out + renewal_expectation(renewals, days)
    keep = (days * DAY >= start) & (days < d_now + HORIZON_DAYS)
    return pl.DataFrame(
        {
            "tenant_id": tenant_id,
            "day": pl.Series(days[keep].astype("datetime64[D]")),
            "expected_revenue": np.round(out[keep], 2),
        }
    )
