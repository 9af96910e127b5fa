"""Small numpy and polars helpers shared by the generators (timestamps, JSON columns, money,
missing values)."""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import ArrayLike

TS = pl.Datetime("us", "UTC")

NULL = np.array(None, dtype=object)
"""A missing value where numpy takes an array (`np.where(m, NULL, x)`, `np.equal(x, NULL)`):
numpy turns a bare None into this very array, but its type stubs take no None there."""


def ts(seconds: np.ndarray | pl.Series) -> pl.Series:
    """Epoch seconds -> a UTC timestamp Series."""
    s = pl.Series(np.asarray(seconds, dtype=np.int64))
    return pl.from_epoch(s, time_unit="s").dt.replace_time_zone("UTC")


def iso(seconds: np.ndarray) -> pl.Series:
    """Epoch seconds -> '2025-01-31T09:30:00Z' strings (the contracts' wire form)."""
    return ts(seconds).dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_date(seconds: np.ndarray) -> pl.Series:
    return ts(seconds).dt.strftime("%Y-%m-%d")


def money(values: ArrayLike) -> np.ndarray:
    """Round to cents (money is numeric(18,2) in the database, a string on the wire)."""
    return np.round(np.asarray(values, dtype=float), 2)


def money_str(col: str) -> pl.Expr:
    """A money column as the wire's decimal string with two places."""
    cents = (pl.col(col) * 100).round(0).cast(pl.Int64)
    return pl.format("{}.{}", (cents // 100).cast(pl.Utf8), (cents % 100).cast(pl.Utf8).str.zfill(2))


def json_obj(*exprs: pl.Expr | str) -> pl.Expr:
    """A JSON object string built from columns (nulls become JSON null)."""
    return pl.struct(*exprs).struct.json_encode()


def const(value: str, n: int) -> pl.Series:
    return pl.Series([value]).extend_constant(value, n - 1) if n else pl.Series([], dtype=pl.Utf8)


def opt(values: np.ndarray) -> pl.Series:
    """A nullable text Series from a numpy array holding strings and None (object dtype)."""
    arr = np.asarray(values, dtype=object)
    mask = np.equal(arr, NULL)
    vals = np.where(mask, "", arr).astype(str)
    return pl.select(pl.when(pl.Series(mask)).then(None).otherwise(pl.Series(vals))).to_series()
