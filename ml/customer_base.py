"""The `customer_base` forecast: revenue as the sum of each customer's purchase process, plus
the customers not acquired yet.

- Existing customers: BG/NBD (`lifetimes.BetaGeoFitter`) on each customer's repeat purchases
  (frequency, recency and age in days, one purchase per day), whose conditional expectation
  gives every customer's expected purchases on each day of the horizon; Gamma-Gamma
  (`lifetimes.GammaGammaFitter`) on the repeat customers' mean spend gives what each purchase
  is worth (shrunk towards the tenant's mean: one large order says little).
- New customers: their arrivals (AutoETS on the weekly count of first purchases) x the mean
  value of a first purchase, plus what those newcomers are expected to buy again within the
  horizon (the same BG/NBD, unconditioned).
- Revenue no customer is named on (won deals without one): its trailing daily mean.

A base that shrinks (one cohort buying less and less) is what such a model describes, where
a model of the revenue series alone only extrapolates its level. The 80% interval treats each
week's purchases as a compound Poisson sum (variance = expected purchases x mean squared
purchase value). `repeat_scores` ranks customers by the purchases they are expected to make
in a window: who buys again.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import polars as pl

from ml.timeseries import Z80, daily_from_weekly, weekday_shares

PENALIZER = 0.001
"""L2 penalty on the BG/NBD and Gamma-Gamma parameters: keeps a small tenant's fit finite."""
MIN_CUSTOMERS = 20
MIN_REPEATERS = 5
"""Fewer customers, or fewer who bought twice, leave the purchase process unidentified."""
NEW_CUSTOMER_DAYS = 84
"""Trailing window of a first purchase's value and of the revenue without a customer."""


@dataclass
class Summary:
    """Per customer (one row each) at the origin: repeat purchase days (`frequency`), days from
    the first to the last purchase (`recency`), days from the first purchase to the origin
    (`T`), mean value of the repeat purchases (`monetary`) and of the first one (`first_value`)."""

    customers: pd.DataFrame
    origin: date


def summarize(purchases: pl.DataFrame, origin: date) -> Summary:
    """The RFM summary of the purchases (customer_id, day, amount) made before `origin`."""
    p = (
        purchases.filter(pl.col("day") < origin)
        .group_by("customer_id", "day")
        .agg(pl.col("amount").sum())
        .sort("customer_id", "day")
    )
    s = p.group_by("customer_id").agg(
        first=pl.col("day").min(),
        last=pl.col("day").max(),
        n=pl.len(),
        first_value=pl.col("amount").first(),
        repeat_value=pl.col("amount").slice(1).mean(),
    )
    s = s.with_columns(
        frequency=(pl.col("n") - 1).cast(pl.Int64),
        recency=(pl.col("last") - pl.col("first")).dt.total_days().cast(pl.Float64),
        T=(pl.lit(origin) - pl.col("first")).dt.total_days().cast(pl.Float64),
        monetary=pl.col("repeat_value").fill_null(0.0).cast(pl.Float64),
    ).sort("customer_id")
    return Summary(s.to_pandas(), origin)


@dataclass
class Model:
    """A fitted customer base: the purchase process, spend per purchase, and the base's
    summary at the origin it was fitted at."""

    bgf: object
    spend: np.ndarray
    """Expected value of each customer's next purchases (Gamma-Gamma, else the mean)."""
    mean_spend: float
    spend_sq: float
    """Mean squared purchase value (the interval's compound Poisson variance)."""
    summary: Summary

    def expected_purchases(self, t: np.ndarray | float) -> np.ndarray:
        """Each customer's expected repeat purchases in the `t` days after the origin."""
        c = self.summary.customers
        return expected_purchases(
            self.params, t, c["frequency"].to_numpy(), c["recency"].to_numpy(), c["T"].to_numpy()
        )

    def new_customer_purchases(self, t: np.ndarray) -> np.ndarray:
        """Expected repeat purchases of a customer in the `t` days after their first one."""
        t = np.asarray(t, dtype=float)
        zero = np.zeros_like(t)
        return expected_purchases(self.params, t, zero, zero, zero)

    @property
    def params(self) -> tuple[float, float, float, float]:
        """BG/NBD's (r, alpha, a, b), alpha per day."""
        p = self.bgf.params_  # type: ignore[attr-defined]
        return float(p["r"]), float(p["alpha"]), float(p["a"]), float(p["b"])


QUADRATURE_NODES = 48


def expected_purchases(
    params: tuple[float, float, float, float],
    t: np.ndarray | float,
    x: np.ndarray,
    tx: np.ndarray,
    T: np.ndarray,
) -> np.ndarray:
    """BG/NBD's expected repeat purchases in (T, T + t] of customers with `x` repeat purchases,
    the last at `tx`, observed for `T`: P(alive) x E[(1 - e^(-lambda p t)) / p] over the
    posterior lambda ~ Gamma(r + x, alpha + T) and p ~ Beta(a, b + x), the expectation over p
    by Gauss-Jacobi quadrature. The closed form (Fader, Hardie & Lee 2005, eq. 10) is the same
    number, but its hypergeometric term breaks down when a + b < 1 (lifetimes returns NaN)."""
    from scipy.special import roots_jacobi

    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    tx = np.asarray(tx, dtype=float)
    T = np.asarray(T, dtype=float)
    t = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
    out = np.zeros(x.shape)
    alive = np.ones(x.shape)
    rep = x > 0
    alive[rep] = 1.0 / (1.0 + a / (b + x[rep] - 1.0) * ((alpha + T[rep]) / (alpha + tx[rep])) ** (r + x[rep]))
    for k in np.unique(x):
        i = x == k
        u, w = roots_jacobi(QUADRATURE_NODES, b + k - 1.0, a - 1.0)  # weight (1-u)^(b+k-1) (1+u)^(a-1)
        p = (1.0 + u) / 2.0  # Beta(a, b + k) on (0, 1)
        w = w / w.sum()
        base = (alpha + T[i])[:, None]
        f = -np.expm1((r + k) * np.log(base / (base + p[None, :] * t[i][:, None]))) / p[None, :]
        out[i] = f @ w
    return alive * out


def fit(purchases: pl.DataFrame, origin: date) -> Model:
    """BG/NBD and Gamma-Gamma on the purchases made before `origin`; ValueError when the base is
    too small to identify them."""
    from lifetimes import GammaGammaFitter

    s = summarize(purchases, origin)
    c = s.customers
    repeaters = c[(c["frequency"] > 0) & (c["monetary"] > 0)]
    if len(c) < MIN_CUSTOMERS or len(repeaters) < MIN_REPEATERS:
        raise ValueError(
            f"{len(c)} customers, {len(repeaters)} who bought again: "
            f"{MIN_CUSTOMERS} and {MIN_REPEATERS} needed for a customer-base forecast"
        )
    # customers with the same history fit as one weighted pattern (thousands, not millions)
    pat = c.groupby(["frequency", "recency", "T"]).size().rename("w").reset_index()
    # lifetimes prints the optimizer's report before raising on non-convergence
    with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        bgf = _fit_bgnbd(pat, len(c))
        amounts = purchases.filter(pl.col("day") < origin)["amount"].cast(pl.Float64).to_numpy()
        mean_spend = float(amounts.mean())
        spend = np.full(len(c), mean_spend)
        try:
            ggf = GammaGammaFitter(penalizer_coef=PENALIZER).fit(
                repeaters["frequency"], repeaters["monetary"]
            )
            ok = (c["frequency"] > 0) & (c["monetary"] > 0)
            est = np.asarray(
                ggf.conditional_expected_average_profit(
                    c["frequency"].where(ok, 0), c["monetary"].where(ok, mean_spend)
                ),
                dtype=float,
            )
            spend = np.where(np.isfinite(est) & (est > 0), est, mean_spend)
        except Exception:  # Gamma-Gamma does not converge on a few repeaters: the mean answers
            pass
    if not np.all(np.isfinite(bgf.params_.to_numpy())):
        raise ValueError("the purchase process did not converge")
    return Model(bgf, spend, mean_spend, float(np.mean(amounts**2)), s)


def _fit_bgnbd(pat: pd.DataFrame, customers: int):
    """lifetimes' BG/NBD on the weighted patterns. BFGS may stop on a flat optimum (precision
    loss, typically a dropout rate near 0: customers that renew for years) with a gradient of
    ~0 that lifetimes counts as failure: refitted with a looser tolerance, the fit is accepted
    if the gradient is below it; otherwise the base does not identify the process."""
    from lifetimes import BetaGeoFitter

    for tol in (1e-7, 1e-5):
        try:
            return BetaGeoFitter(penalizer_coef=PENALIZER).fit(
                pat["frequency"], pat["recency"], pat["T"], weights=pat["w"], tol=tol
            )
        except Exception:  # lifetimes' ConvergenceError
            continue
    raise ValueError(f"the purchase process (BG/NBD) does not converge on {customers} customers")


def forecast(
    series: pd.DataFrame, purchases: pl.DataFrame, horizon: int, model: Model | None = None
) -> pd.DataFrame:
    """Daily forecast (ds, yhat, yhat_lower, yhat_upper) for `horizon` days after `series`
    (the daily revenue frame) from the purchases before its end."""
    origin = (series["ds"].iloc[-1] + pd.Timedelta(days=1)).date()
    m = model or fit(purchases, origin)
    t = np.arange(horizon + 1, dtype=float)
    with np.errstate(all="ignore"):
        cum = np.stack([m.expected_purchases(x) for x in t])  # (horizon + 1, customers)
        existing_n = np.diff(cum, axis=0)
        existing = existing_n @ m.spend
        newcomer = np.diff(m.new_customer_purchases(t))
    existing_n_total = existing_n.sum(axis=1)
    # new customers: their arrivals forecast from the weekly counts of first purchases, each
    # worth its first purchase, and what the newcomers buy again before the horizon ends
    arrivals, first_value = _arrivals(series, m.summary, horizon)
    again = np.convolve(arrivals, newcomer)[:horizon]  # day d: arrivals on days < d, at their age
    again = np.concatenate([[0.0], again[:-1]]) if horizon else again
    new_n = arrivals + again
    new = arrivals * first_value + again * m.mean_spend
    # revenue on no customer: its trailing daily mean
    by_day = purchases.filter(pl.col("day") < origin).group_by("day").agg(pl.col("amount").sum())
    named = dict(zip(by_day["day"].to_list(), by_day["amount"].cast(pl.Float64).to_list(), strict=True))
    recent_days = series.tail(NEW_CUSTOMER_DAYS)
    unnamed = recent_days["y"].to_numpy() - np.array([named.get(d.date(), 0.0) for d in recent_days["ds"]])
    other = max(float(np.clip(unnamed, 0, None).mean()), 0.0) if len(unnamed) else 0.0
    daily = np.clip(existing + new + other, 0.0, None)
    purchases_n = np.clip(existing_n_total + new_n, 0.0, None)
    weeks = -(-horizon // 7)
    pad = weeks * 7 - horizon
    week_mean = np.pad(daily, (0, pad), mode="edge").reshape(weeks, 7).sum(axis=1)
    week_n = np.pad(purchases_n, (0, pad), mode="edge").reshape(weeks, 7).sum(axis=1)
    sd = np.sqrt(week_n * m.spend_sq)
    return daily_from_weekly(
        pd.Timestamp(origin),
        horizon,
        week_mean,
        np.clip(week_mean - Z80 * sd, 0.0, None),
        week_mean + Z80 * sd,
        weekday_shares(series),
    )


def _arrivals(series: pd.DataFrame, summary: Summary, horizon: int) -> tuple[np.ndarray, float]:
    """New customers per day over the horizon (AutoETS on the weekly counts of first purchases,
    which follows an acquisition that stops or grows; their trailing mean with under 12 weeks)
    and the mean value of a first purchase (of the last `NEW_CUSTOMER_DAYS`, else of all)."""
    from ml import statistical

    c = summary.customers
    firsts = pd.to_datetime(c["first"]).value_counts()
    counts = pd.DataFrame(
        {"ds": series["ds"], "y": series["ds"].map(firsts).fillna(0.0).to_numpy(dtype=float)}
    )
    try:
        arrivals = statistical.forecast(counts, "ets", horizon)["yhat"].to_numpy()
    except ValueError:
        arrivals = np.full(horizon, counts["y"].tail(NEW_CUSTOMER_DAYS).mean() if len(counts) else 0.0)
    age = (pd.Timestamp(summary.origin) - pd.to_datetime(c["first"])).dt.days
    recent = c[age <= NEW_CUSTOMER_DAYS]
    first_value = float((recent if len(recent) else c)["first_value"].mean())
    return np.clip(np.nan_to_num(arrivals), 0.0, None), first_value


def repeat_scores(model: Model, days: float) -> pd.DataFrame:
    """Each customer (customer_id) with the purchases the model expects of them in the `days`
    after the origin (`expected`): higher = more likely to buy again."""
    c = model.summary.customers
    with np.errstate(all="ignore"):
        e = model.expected_purchases(float(days))
    return pd.DataFrame({"customer_id": c["customer_id"].to_numpy(), "expected": e})
