"""The one `Definitions` of the project: `dagster dev -m orchestration.definitions`.

landing (raw.*, observed) + operational (crm.*, observed) -> dbt staging/intermediate/marts
-> ML training (gated), scoring, forecasts -> dbt marts that join scores; segments after
dim_customers.
"""

from __future__ import annotations

from dagster import Definitions

from . import checks, integrations, landing, ml_assets, ml_tenants, raw_partitions, retention, segments
from .dbt_assets import build_dbt_assets, load_manifest
from .jobs import JOBS
from .resources import build_resources
from .schedules import SCHEDULES
from .sensors import SENSORS


def build_definitions() -> Definitions:
    manifest = load_manifest()
    dbt = build_dbt_assets()
    crm_tables = (
        {s.get("identifier") or s["name"] for s in manifest["sources"].values() if s.get("schema") == "crm"}
        if manifest
        else set()
    )
    assets = [
        *landing.landing_assets(),
        *landing.operational_assets(crm_tables),
        *([dbt] if dbt is not None else []),
        *ml_assets.ML_ASSETS,
        segments.segment_recalculation,
    ]
    return Definitions(
        assets=assets,
        asset_checks=[
            *landing.freshness_checks(),
            checks.parked_events_check,
            *ml_assets.ML_CHECKS,
            *checks.reconciliation_checks(manifest),
            *integrations.CHECKS,
        ],
        jobs=[
            *JOBS,
            *integrations.JOBS,
            raw_partitions.raw_partitions_job,
            retention.retention_job,
            ml_tenants.ml_by_tenant_job,
        ],
        schedules=[
            *SCHEDULES,
            *integrations.SCHEDULES,
            raw_partitions.raw_partitions_schedule,
            retention.retention_schedule,
        ],
        sensors=[*SENSORS, *integrations.SENSORS, ml_tenants.tenant_partitions_sensor],
        resources=build_resources(),
    )


defs = build_definitions()
