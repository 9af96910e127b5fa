"""A transaction history (customer, time, amount) as the frames the forecast takes from the
warehouse: the daily revenue series (`ml_series__revenue_daily`'s columns) and each
customer's purchases per day (`ml_series__customer_purchases`'s).

A thin adapter for order histories that have not been through the warehouse (a benchmark's
public data set); imported data reaches the forecast through landing and dbt instead.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from ml.forecast import TenantHistory
from ml.scalars import max_of, min_of


def frames(tx: pl.DataFrame, last_day: date | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(series, purchases) from transactions (customer_id, day: date, amount) up to `last_day`
    (default: the last transaction's day): series = day, won_revenue, won_deals for every
    day from the first transaction on (zeros included); purchases = customer_id, day, amount,
    deals per customer and day."""
    t = tx.select(
        pl.col("customer_id").cast(pl.Utf8), pl.col("day").cast(pl.Date), pl.col("amount").cast(pl.Float64)
    )
    if last_day is not None:
        t = t.filter(pl.col("day") <= last_day)
    purchases = (
        t.group_by("customer_id", "day")
        .agg(pl.col("amount").sum(), deals=pl.len().cast(pl.Int32))
        .sort("day", "customer_id")
    )
    first = min_of(t["day"], date)
    last = last_day or max_of(t["day"], date)
    days = pl.DataFrame({"day": pl.date_range(first, last, "1d", eager=True)})
    by_day = purchases.group_by("day").agg(
        won_revenue=pl.col("amount").sum(), won_deals=pl.col("deals").sum().cast(pl.Int32)
    )
    series = days.join(by_day, on="day", how="left").with_columns(
        pl.col("won_revenue").fill_null(0.0), pl.col("won_deals").fill_null(0)
    )
    return series, purchases


def history(tx: pl.DataFrame, last_day: date | None = None) -> TenantHistory:
    """The forecast's history of a transaction file (no pipeline: deals and leads unknown)."""
    series, purchases = frames(tx, last_day)
    return TenantHistory.build(series, purchases=purchases)
