"""The baseline: an Odoo-style predictive lead score (naive Bayes over field frequencies).

Odoo's CRM scores a lead by how often each of its field values occurred among won versus
lost leads, multiplied together naive-Bayes style with Laplace smoothing. We do the same over
the text (categorical) fields of the feature frame; numbers are not used, as in Odoo.
A candidate model must beat this on the holdout to be promoted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl


@dataclass
class NaiveBayesBaseline:
    fields: list[str]
    prior_logit: float = 0.0
    tables: dict[str, dict[str | None, float]] = field(default_factory=dict)  # value -> log-likelihood ratio
    default: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(
        cls, df: pl.DataFrame, y: np.ndarray, fields: list[str], alpha: float = 1.0
    ) -> NaiveBayesBaseline:
        nb = cls(fields=list(fields))
        pos = float(y.sum())
        neg = float(y.size - y.sum())
        nb.prior_logit = float(np.log((pos + alpha) / (neg + alpha)))
        lab = pl.Series("_y", y.astype(np.int8))
        for f in fields:
            g = (
                df.select(pl.col(f).cast(pl.Utf8).fill_null("(empty)").alias("v"))
                .with_columns(lab)
                .group_by("v")
                .agg(pos=pl.col("_y").sum(), n=pl.len())
            )
            k = max(g.height, 1)
            table: dict[str | None, float] = {}
            for v, p, n in g.iter_rows():
                lp = np.log((p + alpha) / (pos + alpha * k))
                ln = np.log((n - p + alpha) / (neg + alpha * k))
                table[v] = float(lp - ln)
            nb.tables[f] = table
            nb.default[f] = float(np.log(alpha / (pos + alpha * k)) - np.log(alpha / (neg + alpha * k)))
        return nb

    def predict(self, df: pl.DataFrame) -> np.ndarray:
        z = np.full(df.height, self.prior_logit)
        for f in self.fields:
            if f not in df.columns:
                continue
            vals = df[f].cast(pl.Utf8).fill_null("(empty)")
            table = self.tables[f]
            mapped = vals.replace_strict(
                list(table), list(table.values()), default=self.default[f], return_dtype=pl.Float64
            )
            z += mapped.to_numpy()
        return 1.0 / (1.0 + np.exp(-z))
