"""The ML jobs of the command line (`crm ml train|score`) and the demo: every model
(`ml.specs.SPECS`) through the same steps the Dagster assets run (`ml.training`,
`ml.scoring`), per tenant. A tenant without enough data gets no model; its scores come from
the documented rules and say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ml import scoring, training
from ml.specs import SPECS


@dataclass
class TrainReport:
    """One row per tenant and model: skipped (why), or the candidate's verdict."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, tenant: str, model: str, outcome: str, detail: str) -> None:
        self.rows.append({"tenant_id": tenant, "model": model, "outcome": outcome, "detail": detail})


def train_all(
    url: str | None = None, as_of: datetime | None = None, seed: int = 42, tenants: list[str] | None = None
) -> TrainReport:
    """Train every model per tenant, register the candidates, gate them, promote those that pass."""
    as_of = as_of or datetime.now(UTC)
    report = TrainReport()
    for spec in SPECS:
        run = training.train_candidates(url, spec, seed=seed, as_of=as_of, tenants=tenants)
        for tenant, why in run.skipped.items():
            report.add(tenant, spec.name, "skipped", why)
        trained = {(r.tenant_id, r.version) for r in run.registered}
        for v in training.gate_candidates(url, spec.name, tenants=tenants):
            if (v.tenant_id, v.version) in trained:
                report.add(
                    v.tenant_id, f"{spec.name}@{v.version}", "promoted" if v.passed else "rejected", v.reason
                )
        training.promote_candidates(url, spec.name, tenants=tenants)
    return report


def score_all(
    url: str | None = None,
    as_of: datetime | None = None,
    seed: int = 42,
    tenants: list[str] | None = None,
    force_rules: bool = False,
) -> dict[str, dict[str, Any]]:
    """Score every lead, open deal and active customer, and forecast revenue, per tenant:
    per output table, the rows written, by method, and why tenants fell back to the rules."""
    as_of = as_of or datetime.now(UTC)
    return {
        spec.output.removeprefix("ml."): scoring.score_model(
            url, spec, as_of=as_of, seed=seed, force_rules=force_rules, tenants=tenants
        ).summary()
        for spec in SPECS
    }
