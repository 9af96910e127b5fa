"""Every dbt model as a Dagster asset (dagster-dbt), dbt tests as asset checks.

The translator keys each dbt node by the relation it is: sources on `raw.*`, `crm.*` and `ml.*`
get the keys of the observable landing/operational assets and of the assets that write them
(the ML assets, the segment recalculation), so the graph runs landed events -> staging -> marts
-> ML and segments -> the marts over their outputs in one piece, without a cycle.
"""

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import AssetDep, AssetExecutionContext, AssetKey, AssetSpec, Backoff, Config, RetryPolicy
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from . import keys
from .event_window import mark_before_dbt
from .ml_assets import import_ml_meanwhile
from .project import dbt_project
from .resources import PostgresResource

# Schemas written outside dbt, whose tables dbt declares as sources.
EXTERNAL_SCHEMAS = ("raw", "crm", "ml")

SHARED_TABLES: Mapping[AssetKey, tuple[AssetKey, ...]] = {
    keys.ml_key("model_versions"): (
        keys.LEAD_MODEL_CANDIDATE,
        keys.LEAD_MODEL,
        keys.CHURN_MODEL_CANDIDATE,
        keys.CHURN_MODEL,
        keys.DEAL_MODEL_CANDIDATE,
        keys.DEAL_MODEL,
        keys.FORECAST_MODEL_CANDIDATE,
        keys.FORECAST_MODEL,
    ),
}
"""Tables several assets write (the model registry: every training asset registers, gates or
promotes there), by the key their dbt source would get: a model reading one depends on each
writer instead, as no single asset stands for the table."""

DBT_RETRY = RetryPolicy(max_retries=2, delay=5, backoff=Backoff.EXPONENTIAL)
"""dbt steps fail on a dropped connection or a lock timeout now and then: retry them."""


def _layer(props: Mapping[str, Any]) -> str:
    """staging / intermediate / analytics (the schema a model builds into, without target prefix)."""
    schema = (props.get("config") or {}).get("schema") or props.get("schema") or "dbt"
    for known in ("staging", "intermediate", "analytics"):
        if schema == known or schema.endswith(f"_{known}"):
            return known
    return schema


class CrmDbtTranslator(DagsterDbtTranslator):
    """dbt node -> `[schema, name]` keys; groups by layer."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        props = dbt_resource_props
        if props["resource_type"] == "source":
            schema = props.get("schema")
            table = props.get("identifier") or props["name"]
            if schema in EXTERNAL_SCHEMAS:
                return AssetKey([schema, table])
            return AssetKey([props["source_name"], table])
        return AssetKey([_layer(props), props.get("alias") or props["name"]])

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetSpec:
        """The default spec, with a dependency on a shared table replaced by its writers."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        if not any(dep.asset_key in SHARED_TABLES for dep in spec.deps):
            return spec
        deps: list[AssetDep] = []
        for dep in spec.deps:
            writers = SHARED_TABLES.get(dep.asset_key)
            deps.extend([AssetDep(w) for w in writers] if writers else [dep])
        return spec.replace_attributes(deps=deps)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return None
        layer = _layer(dbt_resource_props)
        return {"analytics": "marts"}.get(layer, layer)


TRANSLATOR = CrmDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class DbtBuildConfig(Config):
    """`dbt build` options for a run."""

    full_refresh: bool = False
    """Rebuild incremental models from scratch (backfills after a logic change)."""


def dbt_source_keys(manifest: Mapping[str, Any], schema: str) -> list[AssetKey]:
    return sorted(
        {
            TRANSLATOR.get_asset_key(s)
            for s in manifest.get("sources", {}).values()
            if s.get("schema") == schema
        },
        key=lambda k: k.to_user_string(),
    )


def load_manifest() -> Mapping[str, Any] | None:
    import json

    if dbt_project is None or not dbt_project.manifest_path.exists():
        return None
    return json.loads(dbt_project.manifest_path.read_text())


KEEP_RUN_TARGETS = 50
"""dagster-dbt gives each invocation a target folder of its own (`target/crm_dbt-<run>-<id>`,
run_results.json and the compiled SQL): the event-driven refresh makes several a minute, so
only the newest are kept."""


def prune_run_targets(target: Path, keep: int = KEEP_RUN_TARGETS) -> None:
    """Remove all but the `keep` newest per-invocation target folders (never the shared one)."""
    import shutil

    runs = sorted(
        (p for p in target.glob("crm_dbt*-*") if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for old in runs[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def build_dbt_assets():
    """The @dbt_assets definition, or None before the dbt project (and its manifest) exists."""
    if dbt_project is None or not dbt_project.manifest_path.exists():
        return None

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=TRANSLATOR,
        retry_policy=DBT_RETRY,
        name="crm_dbt",
    )
    def crm_dbt_models(
        context: AssetExecutionContext,
        config: DbtBuildConfig,
        dbt: DbtCliResource,
        postgres: PostgresResource,
    ) -> Iterator:
        postgres.export_env()
        if (
            context.selected_asset_keys
            and keys.LEAD_SCORES in context.job_def.asset_layer.executable_asset_keys
        ):
            # the run scores after this step: the entities of what dbt takes in, ML imported meanwhile
            mark_before_dbt(context.run_id, postgres)
            import_ml_meanwhile()
        # Unit tests check the models' logic, not the data: `make test` and `crm dbt build` run
        # them. Dagster's runs leave them out (an event-driven refresh ran six, about 5 s of its
        # dbt threads, on every window).
        args = [
            "build",
            "--exclude-resource-type",
            "unit_test",
            *(["--full-refresh"] if config.full_refresh else []),
        ]
        yield from dbt.cli(args, context=context).stream()
        prune_run_targets(Path(dbt_project.project_dir) / dbt_project.target_path)

    return crm_dbt_models
