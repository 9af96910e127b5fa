"""One spec per model: where its frames come from, how it trains and what its gate compares,
how it predicts, where its output goes and what answers without it.

The CLI jobs (`ml.jobs`) and the Dagster assets (`orchestration.ml_assets`) run every model
through the same steps over these specs: `ml.training` (train candidates, gate, promote) and
`ml.scoring` (score with the fallback). A model-specific choice lives here or in the model's
own module (`ml.lead`, `ml.churn`, `ml.deals`, `ml.forecast`), never in a caller.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from crm.errors import CRMError, CRMErrorCode
from ml import churn, deals, forecast, lead, marts, registry, store
from ml.metrics import auc
from ml.registry import Version
from ml.schemas import CUSTOMER_LABEL, LEAD_LABEL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """A trained model before registration: what the registry stores, and the gate's inputs
    (its holdout score, the baseline's on the same holdout, which way is better)."""

    artifact: Any
    metrics: dict[str, Any]
    params: dict[str, Any]
    window: tuple[datetime | None, datetime | None]
    gate_score: float
    baseline: float | None
    higher_is_better: bool = True
    holdout: pl.DataFrame | None = None
    """The holdout rows, for scoring the active model on the same rows."""


Predict = Callable[[Any, Any | None, Version | None, datetime, int], Iterator[pl.DataFrame]]
"""(scoring frame, model or None, its version, as of, seed) -> output rows, chunk by chunk.
With no model the rules answer; a model that cannot score raises."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    """Registry name (`ml.model_versions.name`)."""
    training_frame: Callable[[str | None, str], Any]
    """(url, tenant) -> what `train` takes."""
    train: Callable[[Any, datetime, int], Candidate]
    """(frame, as of, seed) -> a candidate; CRMError when the tenant cannot have a model."""
    active_score: Callable[[str | None, str, Candidate], float | None]
    """The tenant's active model on the candidate's holdout, in the gate's metric (None: none
    to compare with, or it cannot load: a broken active model must not block a good candidate)."""
    scoring_frame: Callable[[str | None, str], Any | None]
    """(url, tenant) -> what `predict` takes; None when the tenant has nothing to score."""
    predict: Predict
    output: str
    """The `ml.*` table the scores go to."""
    key: str | None
    """Its key: a re-score replaces the entity's row (None: append-only runs)."""
    fallback: str
    """The method that answers without a model (rows say so in their `method`)."""
    columns: tuple[str, ...] = ()
    """When set: each scoring run replaces all of the tenant's rows (these columns, streamed), so
    entities deleted since lose their score."""
    load: Callable[[str | None, str, str], tuple[Any, Version]] = field(default=registry.load_active)
    """(url, tenant, name) -> the active model and its version; CRMError when none or unloadable."""
    score_column: str | None = None
    """The output's score, whose distribution the registry keeps at training (`ml.drift`)."""


def _label(v: Version | None) -> str | None:
    return v.label if v is not None else None


def _active_auc(name: str, label: str, predict: Callable[[Any, pl.DataFrame], np.ndarray]):
    def score(url: str | None, tenant: str, c: Candidate) -> float | None:
        assert c.holdout is not None
        try:
            model, _ = registry.load_active(url, tenant, name)
        except CRMError:  # none, or it cannot load
            return None
        try:
            return auc(c.holdout[label].to_numpy(), predict(model, c.holdout))
        except Exception as exc:  # e.g. trained on columns the marts no longer have
            log.warning("active %s of %s cannot score the candidate's holdout: %s", name, tenant, exc)
            return None

    return score


def _no_active_score(url: str | None, tenant: str, c: Candidate) -> None:
    return None


def _non_empty(frame: pl.DataFrame) -> pl.DataFrame | None:
    return frame if frame.height else None


# --- lead scoring ---------------------------------------------------------------------------


def _train_lead(frame: pl.DataFrame, as_of: datetime, seed: int) -> Candidate:
    r = lead.train(frame, as_of, seed)
    window = (r.window_start, r.window_end)
    return Candidate(
        r.model, r.metrics, r.params, window, r.metrics["auc"], r.metrics["baseline_auc"], holdout=r.holdout
    )


LEAD = ModelSpec(
    name=lead.MODEL_NAME,
    training_frame=marts.lead_frame,
    train=_train_lead,
    active_score=_active_auc(lead.MODEL_NAME, LEAD_LABEL, lambda m, d: m.predict(d)),
    scoring_frame=lambda url, tenant: _non_empty(marts.lead_frame(url, tenant)),
    predict=lambda frame, m, v, as_of, seed: lead.score_chunks(frame, m, _label(v), as_of),
    output="ml.lead_scores",
    key="lead_id",
    fallback="rules",
    columns=tuple(lead.COLUMNS),
    score_column="score",
)

# --- churn ----------------------------------------------------------------------------------


def _train_churn(frame: pl.DataFrame, as_of: datetime, seed: int) -> Candidate:
    r = churn.train(frame, seed)
    return Candidate(
        r.model,
        r.metrics,
        r.params,
        (None, None),
        r.metrics["auc"],
        r.metrics["baseline_auc"],
        holdout=r.holdout,
    )


CHURN = ModelSpec(
    name=churn.MODEL_NAME,
    training_frame=lambda url, tenant: marts.customer_frame(url, current=False, tenant_id=tenant),
    train=_train_churn,
    active_score=_active_auc(churn.MODEL_NAME, CUSTOMER_LABEL, lambda m, d: m.predict(d)),
    scoring_frame=lambda url, tenant: _non_empty(marts.customer_frame(url, current=True, tenant_id=tenant)),
    predict=lambda frame, m, v, as_of, seed: iter([churn.predict(frame, m, _label(v), as_of)]),
    output="ml.churn_predictions",
    key="customer_id",
    fallback="rules",
    score_column="churn_probability",
)

# --- deal win probability -------------------------------------------------------------------


def _train_deals(frame: pl.DataFrame, as_of: datetime, seed: int) -> Candidate:
    r = deals.train(frame, seed)
    return Candidate(r.model, r.metrics, r.params, (None, None), r.metrics["auc"], r.metrics["baseline_auc"])


def open_deals(url: str | None, tenant: str) -> pl.DataFrame:
    return marts.deal_frame(url, tenant).filter(pl.col("status") == "open")


DEALS = ModelSpec(
    name=deals.MODEL_NAME,
    training_frame=marts.deal_frame,
    train=_train_deals,
    active_score=_no_active_score,
    scoring_frame=lambda url, tenant: _non_empty(open_deals(url, tenant)),
    predict=lambda frame, m, v, as_of, seed: iter([deals.predict(frame, m, _label(v), as_of)]),
    output="ml.deal_probabilities",
    key="deal_id",
    fallback=deals.STAGE_DEFAULT,
    score_column="probability",
)

# --- revenue forecast -----------------------------------------------------------------------


def _train_forecast(h: forecast.TenantHistory, as_of: datetime, seed: int) -> Candidate:
    t = forecast.train(h, seed)
    if isinstance(t, str):
        raise CRMError(CRMErrorCode.SCORING_SERVICE_UNAVAILABLE, t)
    return Candidate(
        t.artifact, t.metrics, t.params, (None, None), t.gate_score, t.baseline, higher_is_better=False
    )


def _forecast_active_score(url: str | None, tenant: str, c: Candidate) -> float | None:
    """The active forecast model's error on the candidate's backtest: its method was scored on
    the same origins and periods. The same method scores the same: the newer fit (more data)
    wins the tie."""
    prev = registry.active(url, tenant, forecast.MODEL_NAME)
    if prev is None:
        return None
    method = prev.params.get("method", "prophet")
    score = c.metrics.get(f"backtest_mape_{method}")
    if score is None:
        return None
    return float(score) + (1e-9 if method == c.params["method"] else 0.0)


@dataclass(frozen=True)
class ForecastInputs:
    """What a tenant's revenue forecast reads: its history (loaded only when a forecast model
    answers), its open deals and their win probabilities (`ml.deal_probabilities`)."""

    tenant_id: str
    history: Callable[[], forecast.TenantHistory]
    open_deals: pl.DataFrame
    probabilities: pl.DataFrame


def _forecast_inputs(url: str | None, tenant: str) -> ForecastInputs:
    probs = store.read_query(
        url,
        "SELECT deal_id::text AS deal_id, probability, model_version FROM ml.deal_probabilities"
        " WHERE tenant_id = %s",
        (tenant,),
    )
    return ForecastInputs(tenant, lambda: forecast.load_history(url, tenant), open_deals(url, tenant), probs)


def _forecast_rows(
    x: ForecastInputs, model: Any | None, v: Version | None, as_of: datetime, seed: int
) -> Iterator[pl.DataFrame]:
    """The active forecast model's daily forecast (its method, its backtest error) and the
    pipeline-weighted forecast by month, under one run id. Without a model: the
    pipeline-weighted forecast only."""
    run_id = str(uuid.uuid4())
    mape = None
    if model is not None and v is not None:
        h = x.history()
        if len(h.series) >= forecast.MIN_HISTORY_DAYS and h.series["y"].sum() > 0:
            mape = v.metrics.get("backtest_mape")
            method = v.params.get("method", "prophet")
            yield forecast.forecast_tenant(h, x.tenant_id, run_id, v.label, method, mape, seed)
    if x.open_deals.height and x.probabilities.height:
        d = forecast.with_probabilities(x.open_deals, x.probabilities)
        version = x.probabilities["model_version"][0]
        yield forecast.pipeline_forecast(d, x.tenant_id, run_id, version, as_of.date(), mape)


FORECAST = ModelSpec(
    name=forecast.MODEL_NAME,
    training_frame=forecast.load_history,
    train=_train_forecast,
    active_score=_forecast_active_score,
    scoring_frame=_forecast_inputs,
    predict=_forecast_rows,
    output="ml.revenue_forecasts",
    key=None,
    fallback="pipeline_only",
)

SPECS: tuple[ModelSpec, ...] = (LEAD, CHURN, DEALS, FORECAST)
"""Every model, in scoring order (the revenue forecast reads the deal probabilities)."""
BY_NAME: dict[str, ModelSpec] = {s.name: s for s in SPECS}
