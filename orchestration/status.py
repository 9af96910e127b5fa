"""Is the graph green? What the Dagster UI shows, read from the instance it reads.

For every asset of the Definitions: its latest materialization (an observation for the
observable source assets, raw.* and crm.*); for every asset check (dbt tests, freshness,
reconciliation, quality gates): its latest evaluation. `crm dagster-status` prints it and
exits non-zero unless everything is materialized and every check's latest evaluation passed;
the demo prints it after its run, and the orchestration tests assert it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dagster import AssetCheckEvaluation, AssetCheckSeverity, DagsterInstance, Definitions


@dataclass
class GraphStatus:
    assets: int = 0
    checks: int = 0
    missing: list[str] = field(default_factory=list)
    """Materializable assets without a materialization, source assets without an observation."""
    failed: list[str] = field(default_factory=list)
    """Checks whose latest evaluation did not pass (with its severity)."""
    unevaluated: list[str] = field(default_factory=list)
    """Checks never evaluated (or only planned: the run stopped before them)."""

    @property
    def green(self) -> bool:
        return not (self.missing or self.failed or self.unevaluated)

    def summary(self) -> str:
        head = f"{self.assets} assets, {self.checks} checks: "
        if self.green:
            return head + "every asset materialized, every check passed"
        parts = [
            f"{len(self.missing)} not materialized ({', '.join(self.missing[:5])})" if self.missing else "",
            f"{len(self.failed)} checks failing ({', '.join(self.failed[:5])})" if self.failed else "",
            f"{len(self.unevaluated)} checks never evaluated ({', '.join(self.unevaluated[:5])})"
            if self.unevaluated
            else "",
        ]
        return head + "; ".join(p for p in parts if p)


def graph_status(defs: Definitions, instance: DagsterInstance) -> GraphStatus:
    g = defs.resolve_asset_graph()
    out = GraphStatus(
        assets=len(g.materializable_asset_keys) + len(g.observable_asset_keys), checks=len(g.asset_check_keys)
    )
    for key in sorted(g.materializable_asset_keys):
        if instance.get_latest_materialization_event(key) is None:
            out.missing.append(key.to_user_string())
    for key in sorted(g.observable_asset_keys):
        if not instance.fetch_observations(key, limit=1).records:
            out.missing.append(key.to_user_string())
    for ck in sorted(g.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        name = f"{ck.asset_key.to_user_string()}:{ck.name}"
        record = instance.get_latest_asset_check_evaluation_record(ck)
        # A record stays PLANNED (its event an AssetCheckEvaluationPlanned, not an evaluation)
        # when the run stopped before the check ran: that is "never evaluated", not a failure.
        evaluation = record.evaluation if record else None
        if not isinstance(evaluation, AssetCheckEvaluation):
            out.unevaluated.append(name)
        elif not evaluation.passed:
            severity = "error" if evaluation.severity == AssetCheckSeverity.ERROR else "warn"
            out.failed.append(f"{name} ({severity})")
    return out


def local_status() -> GraphStatus:
    """The status of the local instance (DAGSTER_HOME, `.crm/dagster` by default)."""
    import os

    from crm.settings import get_settings

    from . import instance

    os.environ.setdefault("DAGSTER_HOME", str(instance.dagster_home(get_settings().home)))
    from .definitions import defs

    with DagsterInstance.get() as dagster_instance:
        return graph_status(defs, dagster_instance)
