"""Is a model still looking at the population it was trained for, and are its probabilities
still right? Read across tenants for the ops metrics (`monitoring.collector`).

Drift: when a candidate is trained (`ml.training.train_tenant`), it scores the tenant's current
scoring frame once and the registry keeps that score distribution (`metrics.score_reference`:
decile edges and counts). Later the rows its version wrote (`ml.lead_scores`, ...) are binned
on the same edges in Postgres and compared with the population stability index,
PSI = sum((a - e) * ln(a / e)) over the bins' shares: below 0.1 no shift, 0.1-0.25 some,
above `PSI_DRIFT` a shift worth retraining for. A model's figure is its worst tenant's among
the tenants with at least `MIN_ROWS` scores (smaller ones are noise), with how many tenants
are past `PSI_DRIFT`: the tenant ids themselves never leave the database.

Calibration: outcomes known only after training, against the probability written before them.
Only the deal model has such pairs: a closed deal is no longer rescored, so its row keeps the
last probability it had while open. Lead scores and churn predictions are rewritten for every
entity on each run, outcome or not, so no earlier prediction survives to be judged (their
holdout ECE at training is in the registry's metrics).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import polars as pl
import psycopg

from ml import marts
from ml.metrics import ece
from ml.specs import DEALS, SPECS, ModelSpec

log = logging.getLogger(__name__)

REFERENCE_KEY = "score_reference"
"""Where `ml.model_versions.metrics` keeps the training score distribution."""
BINS = 10
MIN_REFERENCE = 50
"""Fewer scores at training than this: no reference (deciles of a handful mean nothing)."""
MIN_ROWS = 100
"""A tenant's current scores below this do not count toward a model's PSI."""
PSI_DRIFT = 0.25
SHARE_FLOOR = 1e-4
"""An empty bin's share in the PSI (ln 0 is undefined)."""


def histogram(values: np.ndarray) -> dict[str, list[float]] | None:
    """Decile edges of `values` (duplicates dropped: tied scores share a bin) and the count in
    each bin: (-inf, e1), [e1, e2), ..., [ek, inf), as Postgres' width_bucket numbers them."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < MIN_REFERENCE:
        return None
    edges = np.unique(np.quantile(v, np.linspace(0, 1, BINS + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=edges.size + 1)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.sum() <= 0 or a.sum() <= 0:
        return 0.0
    e = np.maximum(e / e.sum(), SHARE_FLOOR)
    a = np.maximum(a / a.sum(), SHARE_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def reference(
    spec: ModelSpec, url: str | None, tenant: str, artifact: Any, as_of: datetime, seed: int
) -> dict[str, list[float]] | None:
    """The candidate's scores over the tenant's scoring frame now, as a histogram (None: the
    model has no score column, nothing to score, or scoring failed: training goes on)."""
    if spec.score_column is None:
        return None
    try:
        frame = spec.scoring_frame(url, tenant)
        if frame is None:
            return None
        chunks = [c for c in spec.predict(frame, artifact, None, as_of, seed) if c.height]
        if not chunks:
            return None
        return histogram(pl.concat(chunks)[spec.score_column].cast(pl.Float64).to_numpy())
    except Exception as exc:  # a reference is a nice-to-have: never fail the training for it
        log.warning("no score reference for %s of %s: %s", spec.name, tenant, exc)
        return None


@dataclass(frozen=True)
class Drift:
    model: str
    psi: float
    """The worst tenant's PSI (0 when no tenant has enough scores)."""
    tenants: int
    """Tenants measured (an active version with a reference and at least MIN_ROWS scores)."""
    drifted: int
    """Of those, tenants with PSI >= PSI_DRIFT."""


def _active_references(conn: psycopg.Connection, name: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT tenant_id::text, name || '@' || version, metrics -> %s -> 'edges',"
        " metrics -> %s -> 'counts' FROM ml.model_versions"
        " WHERE name = %s AND status = 'active' AND metrics ? %s",
        (REFERENCE_KEY, REFERENCE_KEY, name, REFERENCE_KEY),
    ).fetchall()
    return [{"tenant_id": t, "label": label, "edges": e, "counts": c} for t, label, e, c in rows]


def model_drift(conn: psycopg.Connection, spec: ModelSpec) -> Drift:
    """PSI of the scores each tenant's active version wrote against its training reference,
    binned in one query over the model's output table."""
    refs = _active_references(conn, spec.name)
    if not refs or spec.score_column is None:
        return Drift(spec.name, 0.0, 0, 0)
    rows = conn.execute(
        f"""
        SELECT r.tenant_id::text, width_bucket(s.{spec.score_column}::float8, r.edges), count(*)
        FROM jsonb_to_recordset(%s::jsonb) AS r(tenant_id uuid, label text, edges float8[])
        JOIN {spec.output} AS s
          ON s.tenant_id = r.tenant_id AND s.model_version = r.label AND s.method = 'model'
        GROUP BY 1, 2
        """,
        (orjson.dumps([{k: r[k] for k in ("tenant_id", "label", "edges")} for r in refs]).decode(),),
    ).fetchall()
    current: dict[str, dict[int, int]] = {}
    for tenant, b, n in rows:
        current.setdefault(tenant, {})[int(b)] = int(n)
    worst, measured, drifted = 0.0, 0, 0
    for r in refs:
        bins = current.get(r["tenant_id"], {})
        if sum(bins.values()) < MIN_ROWS:
            continue
        expected = np.asarray(r["counts"], dtype=float)
        actual = np.asarray([bins.get(i, 0) for i in range(expected.size)], dtype=float)
        value = psi(expected, actual)
        measured += 1
        drifted += value >= PSI_DRIFT
        worst = max(worst, value)
    return Drift(spec.name, worst, measured, drifted)


def score_drift(conn: psycopg.Connection) -> list[Drift]:
    """`model_drift` of every model with a score column."""
    return [model_drift(conn, s) for s in SPECS if s.score_column is not None]


@dataclass(frozen=True)
class Calibration:
    model: str
    outcomes: int
    """Deals closed after their tenant's active version was trained, scored by it."""
    ece: float | None
    """Expected calibration error over those (None: no outcome yet)."""


def deal_calibration(conn: psycopg.Connection) -> Calibration:
    """ECE of the active deal models' last open-state probability against the won/lost outcome
    of deals that closed after the version was trained, pooled over tenants."""
    rows = conn.execute(
        f"""
        SELECT p.probability, (f.status = 'won')::int
        FROM {DEALS.output} AS p
        JOIN ml.model_versions AS v
          ON v.tenant_id = p.tenant_id AND v.name = %s AND v.status = 'active'
         AND p.model_version = v.name || '@' || v.version
        JOIN {marts.DEALS} AS f ON f.tenant_id = p.tenant_id AND f.deal_id = p.deal_id
        WHERE p.method = 'model' AND f.status IN ('won', 'lost') AND f.closed_at > v.trained_at
        """,
        (DEALS.name,),
    ).fetchall()
    if not rows:
        return Calibration(DEALS.name, 0, None)
    pairs = np.asarray(rows, dtype=float)
    return Calibration(DEALS.name, len(rows), ece(pairs[:, 1], pairs[:, 0]))
