"""A record's custom properties as model inputs.

The lead and customer feature marts carry `custom_properties`: the record's custom fields that
no mart column maps (an import keeps every unmapped column there, typed). Per tenant, at
training, the keys present on enough rows become inputs (`discover`): numeric when nearly all
their values are numbers (or true/false), else categorical (their frequent values, as any
text column). The keys chosen are stored with the model, and every frame it scores is expanded
with exactly those keys (`expand`), so a frame of one row gets the same columns as the batch.

A key that alone separates the training label almost perfectly is left out: a property that
records the outcome (a churn date, a lifecycle stage set on conversion) would be a leak, not a
signal. What was left out, and why, is recorded with the model version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import orjson
import polars as pl

from ml.metrics import auc

COLUMN = "custom_properties"
"""The marts' JSON column of unmapped custom fields (never an input itself)."""
PREFIX = "custom."
MIN_SHARE = 0.2
"""A key becomes an input when present (not null) on at least this share of the rows..."""
MIN_ROWS = 50
"""... and on at least this many."""
NUMERIC_SHARE = 0.95
"""Numeric when at least this share of its present values are numbers or true/false."""
LEAK_AUC = 0.95
"""Left out when its values alone rank the label with an AUC this far from 0.5 (>= 0.95 or
<= 0.05) on the training rows."""
MAX_KEYS = 50


@dataclass(frozen=True)
class Keys:
    """The custom properties a model reads, and those it left out (key -> why)."""

    numeric: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    excluded: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [column(k) for k in (*self.numeric, *self.text)]

    def params(self) -> dict[str, object]:
        return {
            "custom_numeric": list(self.numeric),
            "custom_text": list(self.text),
            "custom_excluded": self.excluded,
        }


def column(key: str) -> str:
    """The frame column of a custom property."""
    return f"{PREFIX}{key}"


def label(col: str) -> str:
    """A custom property's manager label: its own name, as the tenant wrote it."""
    return col.removeprefix(PREFIX)


def _values(df: pl.DataFrame) -> list[dict]:
    """Each row's properties (JSON text, as the marts are read; {} when null or not an object)."""
    out = []
    for text in df[COLUMN].to_list():
        try:
            v = orjson.loads(text) if isinstance(text, str | bytes) and text else {}
        except orjson.JSONDecodeError:
            v = {}
        out.append(v if isinstance(v, dict) else {})
    return out


def discover(df: pl.DataFrame, label_column: str | None = None) -> Keys:
    """The keys of `custom_properties` present on enough of `df`'s rows, typed; with
    `label_column`, those that alone separate the label are left out (`LEAK_AUC`)."""
    if COLUMN not in df.columns or df.height == 0:
        return Keys()
    rows = _values(df)
    present: dict[str, int] = {}
    numbers: dict[str, int] = {}
    for r in rows:
        for k, v in r.items():
            if v is None or v == "" or isinstance(v, dict | list):
                continue
            present[k] = present.get(k, 0) + 1
            if isinstance(v, bool | int | float):
                numbers[k] = numbers.get(k, 0) + 1
    need = max(MIN_ROWS, MIN_SHARE * df.height)
    kept = sorted(
        (k for k, n in present.items() if n >= need and column(k) not in df.columns),
        key=lambda k: (-present[k], k),
    )
    kept = kept[:MAX_KEYS]
    numeric = sorted(k for k in kept if numbers.get(k, 0) >= NUMERIC_SHARE * present[k])
    text = sorted(k for k in kept if k not in numeric)
    keys = Keys(tuple(numeric), tuple(text))
    if label_column is None or label_column not in df.columns:
        return keys
    y = df[label_column].cast(pl.Float64).to_numpy()
    wide = expand(df, keys)
    excluded: dict[str, str] = {}
    for k in kept:
        x = wide[column(k)]
        if k in numeric:
            score = x.cast(pl.Float64).fill_null(np.nan).to_numpy()
        else:  # each value's label rate on these rows: as well as the value can rank, in-sample
            rates = wide.group_by(column(k)).agg(pl.col(label_column).cast(pl.Float64).mean().alias("_r"))
            score = (
                wide.select(column(k))
                .join(rates, on=column(k), how="left", nulls_equal=True)["_r"]
                .to_numpy()
            )
        ok = np.isfinite(score) & np.isfinite(y)
        a = auc(y[ok], score[ok]) if ok.sum() >= MIN_ROWS else 0.5
        if abs(a - 0.5) >= LEAK_AUC - 0.5:
            excluded[k] = f"alone ranks {label_column} with AUC {a:.3f}: a trace of the outcome, not an input"
    return Keys(
        tuple(k for k in numeric if k not in excluded),
        tuple(k for k in text if k not in excluded),
        excluded,
    )


def expand(df: pl.DataFrame, keys: Keys | None) -> pl.DataFrame:
    """`df` with one typed column per key (`custom.<key>`; null where a row lacks it)."""
    if keys is None or not (keys.numeric or keys.text):
        return df
    if COLUMN not in df.columns:
        return df.with_columns(
            [pl.lit(None, dtype=pl.Float64).alias(column(k)) for k in keys.numeric]
            + [pl.lit(None, dtype=pl.Utf8).alias(column(k)) for k in keys.text]
        )
    rows = _values(df)
    cols: list[pl.Series] = []
    for k in keys.numeric:
        vals = [r.get(k) for r in rows]
        cols.append(
            pl.Series(
                column(k),
                [float(v) if isinstance(v, bool | int | float) else None for v in vals],
                dtype=pl.Float64,
            )
        )
    for k in keys.text:
        vals = [r.get(k) for r in rows]
        cols.append(
            pl.Series(
                column(k),
                [None if v is None or v == "" or isinstance(v, dict | list) else str(v) for v in vals],
                dtype=pl.Utf8,
            )
        )
    return df.with_columns(cols)
