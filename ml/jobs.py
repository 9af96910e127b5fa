"""The ML jobs: train -> register -> gate -> promote, and score -> write, per tenant.

`train_all` and `score_all` are what `crm ml train|score`, the demo's ML stage and the
Dagster assets call. Each model is per tenant; a tenant without enough data gets no model
(its scores come from the documented rules and say so).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import polars as pl

from crm.errors import CRMError
from ml import churn, deals, forecast, lead, marts, registry, store
from ml.metrics import auc

log = logging.getLogger(__name__)


@dataclass
class TrainReport:
    rows: list[dict] = field(default_factory=list)

    def add(self, tenant: str, name: str, outcome: str, detail: str, metrics: dict | None = None) -> None:
        self.rows.append(
            {
                "tenant_id": tenant,
                "model": name,
                "outcome": outcome,
                "detail": detail,
                "metrics": metrics or {},
            }
        )


def active_score(
    url: str | None, tenant: str, name: str, holdout: pl.DataFrame, label: str, predict
) -> float | None:
    """The active model's AUC on the candidate's holdout (None when there is none or it
    cannot load: a broken active model must not block a good candidate)."""
    v = registry.active(url, tenant, name)
    if v is None:
        return None
    try:
        obj = registry.load(v)
        return auc(holdout[label].to_numpy(), predict(obj, holdout))
    except CRMError as exc:
        log.warning("active %s unusable for comparison: %s", v.label, exc)
        return None


def train_lead(
    url: str | None, tenant: str, frame: pl.DataFrame, as_of: datetime, seed: int, report: TrainReport
) -> None:
    try:
        r = lead.train(frame, as_of, seed)
    except CRMError as exc:
        report.add(tenant, lead.MODEL_NAME, "skipped", exc.message)
        return
    v = registry.register(
        url, tenant, lead.MODEL_NAME, r.model, r.metrics, r.params, (r.window_start, r.window_end)
    )
    active = active_score(url, tenant, lead.MODEL_NAME, r.holdout, "converted_90d", lambda m, d: m.predict(d))
    ok, why = registry.promote_if_better(url, v, r.metrics["auc"], active, r.metrics["baseline_auc"])
    report.add(tenant, v.label, "promoted" if ok else "rejected", why, r.metrics)


def train_churn(url: str | None, tenant: str, frame: pl.DataFrame, seed: int, report: TrainReport) -> None:
    try:
        r = churn.train(frame, seed)
    except CRMError as exc:
        report.add(tenant, churn.MODEL_NAME, "skipped", exc.message)
        return
    v = registry.register(url, tenant, churn.MODEL_NAME, r.model, r.metrics, r.params, (None, None))
    active = active_score(
        url, tenant, churn.MODEL_NAME, r.holdout, "churned_90d", lambda m, d: m.model.predict(d)
    )
    ok, why = registry.promote_if_better(url, v, r.metrics["auc"], active, r.metrics["baseline_auc"])
    report.add(tenant, v.label, "promoted" if ok else "rejected", why, r.metrics)


def train_deals(url: str | None, tenant: str, frame: pl.DataFrame, seed: int, report: TrainReport) -> None:
    try:
        r = deals.train(frame, seed)
    except CRMError as exc:
        report.add(tenant, deals.MODEL_NAME, "skipped", exc.message)
        return
    v = registry.register(url, tenant, deals.MODEL_NAME, r.model, r.metrics, r.params, (None, None))
    ok, why = registry.promote_if_better(url, v, r.metrics["auc"], None, r.metrics["baseline_auc"])
    report.add(tenant, v.label, "promoted" if ok else "rejected", why, r.metrics)


def forecast_gate_active(url: str | None, tenant: str, trained: forecast.Trained) -> float | None:
    """The active forecast model's error on the candidate's backtest: its method was scored on
    the same origins and periods. The same method scores the same: the newer fit (more data)
    wins the tie."""
    prev = registry.active(url, tenant, forecast.MODEL_NAME)
    if prev is None:
        return None
    score = trained.metrics.get(f"backtest_mape_{prev.params.get('method', 'prophet')}")
    if score is None:
        return None
    return float(score) + (1e-9 if prev.params.get("method", "prophet") == trained.params["method"] else 0.0)


def train_forecast(
    url: str | None, tenant: str, h: forecast.TenantHistory, seed: int, report: TrainReport
) -> None:
    t = forecast.train(h, seed)
    if isinstance(t, str):
        report.add(tenant, forecast.MODEL_NAME, "skipped", t)
        return
    active = forecast_gate_active(url, tenant, t)
    v = registry.register(url, tenant, forecast.MODEL_NAME, t.artifact, t.metrics, t.params, (None, None))
    ok, why = registry.promote_if_better(url, v, t.gate_score, active, t.baseline, higher_is_better=False)
    report.add(tenant, v.label, "promoted" if ok else "rejected", why, t.metrics)


def train_all(
    url: str | None = None, as_of: datetime | None = None, seed: int = 42, tenants: list[str] | None = None
) -> TrainReport:
    as_of = as_of or datetime.now(UTC)
    report = TrainReport()
    leads_all = marts.lead_frame(url)
    cust_all = marts.customer_frame(url, current=False)
    deals_all = marts.deal_frame(url)
    for tenant in tenants or store.tenants(url):
        np.random.seed(seed)
        train_lead(url, tenant, leads_all.filter(pl.col("tenant_id") == tenant), as_of, seed, report)
        train_churn(url, tenant, cust_all.filter(pl.col("tenant_id") == tenant), seed, report)
        train_deals(url, tenant, deals_all.filter(pl.col("tenant_id") == tenant), seed, report)
        train_forecast(url, tenant, forecast.load_history(url, tenant), seed, report)
    return report


def active_or_none(url: str | None, tenant: str, name: str):
    try:
        obj, v = registry.load_active(url, tenant, name)
        return obj, v.label
    except CRMError as exc:
        log.info("%s", exc)
        return None, None


def score_all(
    url: str | None = None, as_of: datetime | None = None, seed: int = 42, tenants: list[str] | None = None
) -> dict[str, int]:
    """Score every lead, open deal and active customer, and forecast revenue, per tenant."""
    as_of = as_of or datetime.now(UTC)
    counts = {"lead_scores": 0, "deal_probabilities": 0, "churn_predictions": 0, "revenue_forecasts": 0}
    leads_all = marts.lead_frame(url)
    cust_all = marts.customer_frame(url, current=True)
    deals_all = marts.deal_frame(url)
    for tenant in tenants or store.tenants(url):
        m, ver = active_or_none(url, tenant, lead.MODEL_NAME)
        frame = leads_all.filter(pl.col("tenant_id") == tenant)
        counts["lead_scores"] += store.replace_tenants_stream(
            url, "ml.lead_scores", [tenant], lead.COLUMNS, lead.score_chunks(frame, m, ver, as_of)
        )

        m, ver = active_or_none(url, tenant, churn.MODEL_NAME)
        cf = cust_all.filter(pl.col("tenant_id") == tenant)
        if cf.height:
            counts["churn_predictions"] += store.upsert(
                url, "ml.churn_predictions", churn.predict(cf, m, ver, as_of), "customer_id"
            )

        m, ver = active_or_none(url, tenant, deals.MODEL_NAME)
        open_deals = deals_all.filter((pl.col("tenant_id") == tenant) & (pl.col("status") == "open"))
        probs = deals.predict(open_deals, m, ver, as_of) if open_deals.height else pl.DataFrame()
        counts["deal_probabilities"] += store.upsert(url, "ml.deal_probabilities", probs, "deal_id")

        counts["revenue_forecasts"] += forecast_tenant(url, tenant, open_deals, probs, as_of, seed)
    return counts


def forecast_tenant(
    url: str | None, tenant: str, open_deals: pl.DataFrame, probs: pl.DataFrame, as_of: datetime, seed: int
) -> int:
    """The active forecast model's daily forecast (its method, its backtest error) and the
    pipeline-weighted forecast by month, under one run id."""
    run_id = str(uuid.uuid4())
    v = registry.active(url, tenant, forecast.MODEL_NAME)
    written = 0
    mape = None
    if v is not None:
        h = forecast.load_history(url, tenant)
        if len(h.series) >= forecast.MIN_HISTORY_DAYS and h.series["y"].sum() > 0:
            mape = v.metrics.get("backtest_mape")
            method = v.params.get("method", "prophet")
            rows = forecast.forecast_tenant(h, tenant, run_id, v.label, method, mape, seed)
            written += store.append(url, "ml.revenue_forecasts", rows)
    if open_deals.height and probs.height:
        d = open_deals.join(probs.select("deal_id", "probability"), on="deal_id")
        pipe = forecast.pipeline_forecast(d, tenant, run_id, probs["model_version"][0], as_of.date(), mape)
        written += store.append(url, "ml.revenue_forecasts", pipe)
    return written
