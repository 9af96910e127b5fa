"""Segment recalculation (issue 4's `crm.segments`) downstream of the customer 360 mart."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from . import keys
from .ml_assets import SCORING_RETRY
from .resources import PostgresResource


@asset(
    key=keys.SEGMENTS,
    deps=[keys.DIM_CUSTOMERS],
    group_name="segments",
    kinds={"postgres", "python"},
    retry_policy=SCORING_RETRY,
    description=(
        "Recalculates every dynamic segment's memberships in crm.customer_segment_memberships. "
        "A segment that fails keeps its old memberships and is marked stale with its error."
    ),
)
def segment_recalculation(context: AssetExecutionContext, postgres: PostgresResource) -> MaterializeResult:
    from crm.segments import recalculate_all

    results = list(recalculate_all(postgres.engine()) or [])
    failed = [r for r in results if getattr(r, "error", None) or getattr(r, "last_error", None)]
    for r in failed:
        context.log.warning(f"segment {getattr(r, 'segment_id', r)} kept its old memberships: {r}")
    return MaterializeResult(
        metadata={
            "segments": MetadataValue.int(len(results)),
            "failed_segments": MetadataValue.int(len(failed)),
            "memberships": MetadataValue.int(
                int(postgres.scalar("select count(*) from crm.customer_segment_memberships") or 0)
            ),
        }
    )
