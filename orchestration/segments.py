"""Segment recalculation (`warehouse.segments`): reads the customer 360 mart and the segments'
criteria, writes crm.customer_segment_memberships, and is keyed by that table, so the dbt
marts over the memberships (fct_segment_memberships, dash_segment_summary) run after it."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from . import keys
from .ml_assets import SCORING_RETRY
from .resources import PostgresResource


@asset(
    key=keys.SEGMENTS,
    deps=[keys.DIM_CUSTOMERS, keys.crm_key("customer_segments"), keys.crm_key("customers")],
    group_name="segments",
    kinds={"postgres", "python"},
    retry_policy=SCORING_RETRY,
    description=(
        "Recalculates every dynamic segment's memberships over analytics.dim_customers into "
        "crm.customer_segment_memberships. A segment that fails keeps its old memberships and is "
        "marked stale with its error."
    ),
)
def segment_recalculation(context: AssetExecutionContext, postgres: PostgresResource) -> MaterializeResult:
    from warehouse.segments import recalculate_all

    results = recalculate_all(postgres.engine())
    failed = [r for r in results if not r.ok]
    for r in failed:
        context.log.warning(f"segment {r.name} ({r.segment_id}) kept its old memberships: {r.code} {r.error}")
    return MaterializeResult(
        metadata={
            "segments": MetadataValue.int(len(results)),
            "failed_segments": MetadataValue.json([{"segment": r.name, "error": r.error} for r in failed]),
            "members": MetadataValue.int(sum(r.customer_count for r in results if r.ok)),
            "added": MetadataValue.int(sum(r.added for r in results)),
            "removed": MetadataValue.int(sum(r.removed for r in results)),
        }
    )
