"""Polars aggregates as typed Python scalars.

`Series.min()`, `.max()`, `.mean()` and `.median()` are typed as any Python literal or None;
these helpers check what the column's dtype guarantees and say which column broke it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

import polars as pl

T = TypeVar("T")


def _of(s: pl.Series, agg: str, value: object, kind: type[T]) -> T:
    if not isinstance(value, kind):
        raise ValueError(
            f"{agg}() of column {s.name!r} is {value!r}, not a {kind.__name__} (empty or all null?)"
        )
    return value


def min_of(s: pl.Series, kind: type[T]) -> T:
    """The smallest value of `s`, which must be a `kind` (e.g. `datetime`, `date`)."""
    return _of(s, "min", s.min(), kind)


def max_of(s: pl.Series, kind: type[T]) -> T:
    """The largest value of `s`, which must be a `kind` (e.g. `datetime`, `date`)."""
    return _of(s, "max", s.max(), kind)


def float_or(value: object, default: float) -> float:
    """A numeric aggregate (`mean()`, `median()`, ...) as a float; `default` when it is null
    (an empty or all-null series)."""
    if value is None:
        return default
    if isinstance(value, int | float | Decimal):
        return float(value)
    raise TypeError(f"not a numeric aggregate: {value!r}")
