"""The seam between the Dagster assets and issue 5's `ml/` package.

`ml.jobs.train_all` trains, gates and promotes in one call; here the same `ml` pieces
(`<model>.train`, `registry.register/gate/reject/promote`, the scorers) are split along the
asset graph so the gate is a Dagster asset check between "candidate registered" and "promoted".
Each function returns a small summary dict for the materialization metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trained:
    """What a training step hands the registry: artifact, metrics, params, window, and the
    score the gate compares (with the active model's score on the same holdout)."""

    artifact: Any
    metrics: dict[str, Any]
    params: dict[str, Any]
    window: tuple[datetime | None, datetime | None]
    gate_score: float
    active_score: float | None
    baseline: float | None
    higher_is_better: bool = True


def _train_lead(url: str | None, tenant: str, seed: int, as_of: datetime) -> Trained | str:
    from crm.errors import CRMError
    from ml import jobs, lead, marts

    try:
        r = lead.train(marts.lead_frame(url, tenant), as_of, seed)
    except CRMError as exc:
        return exc.message
    active = jobs.active_score(
        url, tenant, lead.MODEL_NAME, r.holdout, "converted_90d", lambda m, d: m.predict(d)
    )
    return Trained(
        r.model,
        r.metrics,
        r.params,
        (r.window_start, r.window_end),
        r.metrics["auc"],
        active,
        r.metrics["baseline_auc"],
    )


def _train_churn(url: str | None, tenant: str, seed: int, as_of: datetime) -> Trained | str:
    from crm.errors import CRMError
    from ml import churn, jobs, marts

    try:
        r = churn.train(marts.customer_frame(url, current=False, tenant_id=tenant), seed)
    except CRMError as exc:
        return exc.message
    active = jobs.active_score(
        url, tenant, churn.MODEL_NAME, r.holdout, "churned_90d", lambda m, d: m.model.predict(d)
    )
    return Trained(
        r.model, r.metrics, r.params, (None, None), r.metrics["auc"], active, r.metrics["baseline_auc"]
    )


def _train_deals(url: str | None, tenant: str, seed: int, as_of: datetime) -> Trained | str:
    from crm.errors import CRMError
    from ml import deals, marts

    try:
        r = deals.train(marts.deal_frame(url, tenant), seed)
    except CRMError as exc:
        return exc.message
    return Trained(
        r.model, r.metrics, r.params, (None, None), r.metrics["auc"], None, r.metrics["baseline_auc"]
    )


def _train_forecast(url: str | None, tenant: str, seed: int, as_of: datetime) -> Trained | str:
    from ml import forecast, jobs

    t = forecast.train(forecast.load_history(url, tenant), seed)
    if isinstance(t, str):
        return t
    return Trained(
        t.artifact,
        t.metrics,
        t.params,
        (None, None),
        t.gate_score,
        jobs.forecast_gate_active(url, tenant, t),
        t.baseline,
        higher_is_better=False,
    )


TRAINERS: dict[str, Callable[[str | None, str, int, datetime], Trained | str]] = {
    "lead_scoring": _train_lead,
    "churn": _train_churn,
    "deal_win": _train_deals,
    "revenue_prophet": _train_forecast,
}
"""registry model name -> trainer (names as `ml.<module>.MODEL_NAME`)."""


def train_candidates(url: str, model: str, *, seed: int, as_of: datetime | None = None) -> dict[str, Any]:
    """Train per tenant and register each result as a `candidate`; the gate inputs go into
    the version's metrics (`gate_*`) so the check can decide without retraining."""
    from ml import registry, store

    as_of = as_of or datetime.now(UTC)
    registered, skipped = [], {}
    for tenant in store.tenants(url):
        t = TRAINERS[model](url, tenant, seed, as_of)
        if isinstance(t, str):
            skipped[tenant] = t
            continue
        metrics = {
            **t.metrics,
            "gate_score": t.gate_score,
            "gate_active": t.active_score,
            "gate_baseline": t.baseline,
            "gate_higher_is_better": t.higher_is_better,
        }
        v = registry.register(url, tenant, model, t.artifact, metrics, t.params, t.window)
        registered.append(
            {"tenant_id": tenant, "version": v.version, "gate_score": round(float(t.gate_score), 4)}
        )
    return {
        "candidates": len(registered),
        "skipped_tenants": len(skipped),
        "registered": registered,
        "skipped": skipped,
    }


def gate_candidates(
    url: str,
    model: str,
    min_metrics: dict[str, float] | None = None,
    max_metrics: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Apply the gate to every open candidate: `ml.registry.gate` (beat the baseline and the
    active model on the holdout) plus optional metric floors and ceilings. Failing candidates are rejected.
    Verdict `kind`: 'pass', 'no_improvement' (fine, the active model stays) or 'quality'."""
    from ml import registry

    verdicts = []
    for v in registry.list_versions(url, name=model):
        if v.status != "candidate":
            continue
        m = v.metrics
        higher = bool(m.get("gate_higher_is_better", True))
        score = float(m["gate_score"])
        baseline = m.get("gate_baseline")
        active = m.get("gate_active")
        ok, why = registry.gate(score, None, baseline, higher)
        kind = "pass" if ok else "quality"
        for name, floor in (min_metrics or {}).items():
            value = m.get(name)
            if value is None or float(value) < floor:
                ok, kind, why = False, "quality", f"{name}={value} is below the gate's minimum {floor}"
        for name, ceiling in (max_metrics or {}).items():
            value = m.get(name)
            if value is None or float(value) > ceiling:
                ok, kind, why = False, "quality", f"{name}={value} is above the gate's maximum {ceiling}"
        if ok and active is not None:
            ok, why = registry.gate(score, active, None, higher)
            kind = "pass" if ok else "no_improvement"
        if not ok:
            registry.reject(url, v, why)
        verdicts.append(
            {"tenant_id": v.tenant_id, "version": v.version, "passed": ok, "kind": kind, "reason": why}
        )
    return verdicts


def promote_candidates(url: str, model: str) -> dict[str, Any]:
    """Promote each tenant's newest candidate (those the gate left standing)."""
    from ml import registry

    newest: dict[str, Any] = {}
    for v in registry.list_versions(url, name=model):
        if v.status == "candidate" and (v.tenant_id not in newest or v.version > newest[v.tenant_id].version):
            newest[v.tenant_id] = v
    promoted = [
        registry.promote(url, t, model, v.version, "passed the quality gate").label
        for t, v in sorted(newest.items())
    ]
    active = sum(1 for v in registry.list_versions(url, name=model) if v.status == "active")
    return {"promoted": len(promoted), "promoted_versions": promoted, "active_models": active}


def _active_or_none(url: str, tenant: str, name: str, force_rules: bool):
    if force_rules:
        return None, None
    from ml import jobs

    return jobs.active_or_none(url, tenant, name)


def _methods(frames: list[pl.DataFrame]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in frames:
        if f.height and "method" in f.columns:
            for method, n in f.group_by("method").len().iter_rows():
                counts[method] = counts.get(method, 0) + int(n)
    return counts


def _summary(
    written: int, frames: list[pl.DataFrame], fallback: dict[str, str], rules_name: str
) -> dict[str, Any]:
    methods = _methods(frames)
    out: dict[str, Any] = {"rows": written, "methods": methods}
    if fallback:
        out["fallback_reason"] = "; ".join(f"{t}: {why}" for t, why in sorted(fallback.items()))
    out["method"] = (
        "model" if set(methods) == {"model"} else (rules_name if "model" not in methods else "mixed")
    )
    return out


def score_leads(url: str, *, force_rules: bool = False, as_of: datetime | None = None) -> dict[str, Any]:
    """ml.lead_scores for every lead; per tenant the active model, else (none, or it fails) the rules."""
    from ml import lead, marts, store

    as_of = as_of or datetime.now(UTC)
    frames, fallback, written = [], {}, 0
    leads_all = marts.lead_frame(url)
    for tenant in store.tenants(url):
        frame = leads_all.filter(pl.col("tenant_id") == tenant)
        if not frame.height:
            continue
        m, ver = _active_or_none(url, tenant, lead.MODEL_NAME, force_rules)
        if m is None:
            fallback[tenant] = "forced" if force_rules else "no active model"
        try:
            rows = lead.score(frame, m, ver, as_of)
        except Exception as exc:  # a broken model must not leave the tenant unscored
            log.warning("lead scoring failed for %s with %s, falling back to rules: %s", tenant, ver, exc)
            fallback[tenant] = f"model {ver} failed: {exc}"
            rows = lead.score(frame, None, None, as_of)
        if m is not None and rows.height and (rows["method"] == "rules").all():
            fallback[tenant] = f"model {ver} could not score"
        # a full refresh per tenant, as ml.jobs.score_all does (deleted leads lose their score)
        written += store.replace_tenants(url, "ml.lead_scores", rows)
        frames.append(rows)
    return _summary(written, frames, fallback, "rules")


def predict_churn(url: str, *, force_rules: bool = False, as_of: datetime | None = None) -> dict[str, Any]:
    from ml import churn, marts, store

    as_of = as_of or datetime.now(UTC)
    frames, fallback, written = [], {}, 0
    cust_all = marts.customer_frame(url, current=True)
    for tenant in store.tenants(url):
        frame = cust_all.filter(pl.col("tenant_id") == tenant)
        if not frame.height:
            continue
        m, ver = _active_or_none(url, tenant, churn.MODEL_NAME, force_rules)
        if m is None:
            fallback[tenant] = "forced" if force_rules else "no active model"
        try:
            rows = churn.predict(frame, m, ver, as_of)
        except Exception as exc:
            log.warning("churn prediction failed for %s with %s, falling back to rules: %s", tenant, ver, exc)
            fallback[tenant] = f"model {ver} failed: {exc}"
            rows = churn.predict(frame, None, None, as_of)
        written += store.upsert(url, "ml.churn_predictions", rows, "customer_id")
        frames.append(rows)
    return _summary(written, frames, fallback, "rules")


def _open_deals(url: str, tenant: str) -> pl.DataFrame:
    from ml import marts

    return marts.deal_frame(url, tenant).filter(pl.col("status") == "open")


def score_deals(url: str, *, force_rules: bool = False, as_of: datetime | None = None) -> dict[str, Any]:
    from ml import deals, store

    as_of = as_of or datetime.now(UTC)
    frames, fallback, written = [], {}, 0
    for tenant in store.tenants(url):
        open_deals = _open_deals(url, tenant)
        if not open_deals.height:
            continue
        m, ver = _active_or_none(url, tenant, deals.MODEL_NAME, force_rules)
        if m is None:
            fallback[tenant] = "forced" if force_rules else "no active model"
        try:
            rows = deals.predict(open_deals, m, ver, as_of)
        except Exception as exc:
            log.warning(
                "deal scoring failed for %s with %s, falling back to stage defaults: %s", tenant, ver, exc
            )
            fallback[tenant] = f"model {ver} failed: {exc}"
            rows = deals.predict(open_deals, None, None, as_of)
        written += store.upsert(url, "ml.deal_probabilities", rows, "deal_id")
        frames.append(rows)
    return _summary(written, frames, fallback, "stage_default")


def forecast_revenue(url: str, *, seed: int, as_of: datetime | None = None) -> dict[str, Any]:
    """Prophet (active forecast model) + pipeline-weighted forecast per tenant (ml.jobs.forecast_tenant)."""
    from ml import jobs, store

    as_of = as_of or datetime.now(UTC)
    written, tenants = 0, 0
    for tenant in store.tenants(url):
        open_deals = _open_deals(url, tenant)
        probs = store.read_query(
            url,
            "SELECT deal_id::text AS deal_id, probability, model_version FROM ml.deal_probabilities WHERE tenant_id = %s",
            (tenant,),
        )
        n = jobs.forecast_tenant(url, tenant, open_deals, probs, as_of, seed)
        written += n
        tenants += 1 if n else 0
    return {"rows": written, "tenants_forecast": tenants}
