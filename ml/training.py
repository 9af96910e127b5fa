"""Training, the same steps for every model (`ml.specs`) on every path: train a candidate per
tenant and register it, gate the candidates, promote those that pass.

The CLI (`ml.jobs.train_all`) runs the three steps back to back; Dagster runs them as the
`<model>_candidate` asset, its blocking `quality_gate` check and the `<model>` promotion asset.
The gate's inputs are stored with the candidate (`gate_*` metrics), so the gate decides
without retraining, whenever it runs.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from crm.errors import CRMError
from ml import drift, registry, store
from ml.clock import run_clock
from ml.registry import Version
from ml.specs import ModelSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registered:
    tenant_id: str
    version: int
    gate_score: float


@dataclass
class CandidateRun:
    """One model's training run: the candidates registered and the tenants skipped (why)."""

    registered: list[Registered] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "candidates": len(self.registered),
            "skipped_tenants": len(self.skipped),
            "registered": [asdict(r) for r in self.registered],
            "skipped": self.skipped,
        }


def train_tenant(
    url: str | None,
    spec: ModelSpec,
    tenant: str,
    *,
    seed: int,
    as_of: datetime,
    frame: Any | None = None,
) -> Version | str:
    """Train the tenant's model (on `frame`, else its training frame) and register it as a
    candidate with the gate's inputs and the distribution of its scores over the tenant's
    scoring frame (`ml.drift`); the reason when the tenant cannot have a model."""
    np.random.seed(seed)
    try:
        c = spec.train(spec.training_frame(url, tenant) if frame is None else frame, as_of, seed)
    except CRMError as exc:
        return exc.message
    metrics = {
        **c.metrics,
        "gate_score": c.gate_score,
        "gate_active": spec.active_score(url, tenant, c),
        "gate_baseline": c.baseline,
        "gate_higher_is_better": c.higher_is_better,
    }
    score_reference = drift.reference(spec, url, tenant, c.artifact, as_of, seed)
    if score_reference is not None:
        metrics[drift.REFERENCE_KEY] = score_reference
    return registry.register(url, tenant, spec.name, c.artifact, metrics, c.params, c.window)


def train_candidates(
    url: str | None,
    spec: ModelSpec,
    *,
    seed: int,
    as_of: datetime | None = None,
    tenants: list[str] | None = None,
) -> CandidateRun:
    """`train_tenant` for every tenant (or these), each at its own now (`ml.clock`)."""
    now_of = run_clock(url, as_of or datetime.now(UTC))
    run = CandidateRun()
    for tenant in tenants or store.tenants(url):
        v = train_tenant(url, spec, tenant, seed=seed, as_of=now_of(tenant))
        if isinstance(v, str):
            run.skipped[tenant] = v
        else:
            run.registered.append(Registered(tenant, v.version, round(float(v.metrics["gate_score"]), 4)))
    return run


@dataclass(frozen=True)
class Verdict:
    """The gate's decision on one candidate. `kind`: 'pass'; 'no_improvement' (no better than
    the active model, which stays); 'quality' (misses the baseline or a metric bound)."""

    tenant_id: str
    version: int
    passed: bool
    kind: str
    reason: str


def verdict(v: Version, min_metrics: dict[str, float], max_metrics: dict[str, float]) -> Verdict:
    """`registry.gate` on the candidate's stored gate inputs (beat the baseline, then the
    active model, on the holdout), plus optional metric floors and ceilings."""
    m = v.metrics
    higher = bool(m.get("gate_higher_is_better", True))
    score = float(m["gate_score"])
    ok, why = registry.gate(score, None, m.get("gate_baseline"), higher)
    kind = "pass" if ok else "quality"
    for name, floor in min_metrics.items():
        value = m.get(name)
        if value is None or float(value) < floor:
            ok, kind, why = False, "quality", f"{name}={value} is below the gate's minimum {floor}"
    for name, ceiling in max_metrics.items():
        value = m.get(name)
        if value is None or float(value) > ceiling:
            ok, kind, why = False, "quality", f"{name}={value} is above the gate's maximum {ceiling}"
    if ok and m.get("gate_active") is not None:
        ok, why = registry.gate(score, m["gate_active"], None, higher)
        kind = "pass" if ok else "no_improvement"
    return Verdict(v.tenant_id, v.version, ok, kind, why)


def _candidates(url: str | None, name: str, tenants: list[str] | None) -> list[Version]:
    return [
        v
        for v in registry.list_versions(url, name=name)
        if v.status == "candidate" and (tenants is None or v.tenant_id in tenants)
    ]


def gate_candidates(
    url: str | None,
    name: str,
    min_metrics: dict[str, float] | None = None,
    max_metrics: dict[str, float] | None = None,
    tenants: list[str] | None = None,
) -> list[Verdict]:
    """The verdict on every open candidate of the model (of these tenants); failing ones are
    rejected with the reason."""
    verdicts = []
    for v in _candidates(url, name, tenants):
        d = verdict(v, min_metrics or {}, max_metrics or {})
        if not d.passed:
            registry.reject(url, v, d.reason)
            log.info("rejected %s for %s: %s", v.label, v.tenant_id, d.reason)
        verdicts.append(d)
    return verdicts


@dataclass(frozen=True)
class Promotion:
    promoted: list[str]
    active_models: int

    def summary(self) -> dict[str, Any]:
        return {
            "promoted": len(self.promoted),
            "promoted_versions": self.promoted,
            "active_models": self.active_models,
        }


def promote_candidates(url: str | None, name: str, tenants: list[str] | None = None) -> Promotion:
    """Promote each tenant's newest candidate (those the gate left standing)."""
    newest: dict[str, Version] = {}
    for v in _candidates(url, name, tenants):
        if v.tenant_id not in newest or v.version > newest[v.tenant_id].version:
            newest[v.tenant_id] = v
    promoted = [
        registry.promote(url, t, name, v.version, "passed the quality gate").label
        for t, v in sorted(newest.items())
    ]
    active = sum(1 for v in registry.list_versions(url, name=name) if v.status == "active")
    return Promotion(promoted, active)
