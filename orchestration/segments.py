"""Segment recalculation (`warehouse.segments`): reads the customer 360 mart and the segments'
criteria, writes crm.customer_segment_memberships, and is keyed by that table, so the dbt
marts over the memberships (fct_segment_memberships, dash_segment_summary) run after it.

Three scopes, one asset: every segment (the daily job), the segments asked for or due for a
retry (`segment_ids`, from the stale-segment sensor), or the customers an event-driven refresh's
window touched (`EventWindow`)."""

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from . import keys
from .event_window import EventWindow
from .ml_assets import SCORING_RETRY
from .resources import PostgresResource, named_run


class SegmentsConfig(Config):
    """Which segments to recalculate (empty: every active dynamic segment)."""

    segment_ids: list[str] = []  # noqa: RUF012 (pydantic copies defaults)


@asset(
    key=keys.SEGMENTS,
    deps=[keys.DIM_CUSTOMERS, keys.crm_key("customer_segments"), keys.crm_key("customers")],
    group_name="segments",
    kinds={"postgres", "python"},
    retry_policy=SCORING_RETRY,
    description=(
        "Recalculates dynamic segments' memberships over analytics.dim_customers into "
        "crm.customer_segment_memberships: every segment, the ones asked for, or (event-driven) "
        "every segment for the customers new events touched. A segment that fails keeps its old "
        "memberships and is marked stale with its error; it is retried a minute later."
    ),
)
def segment_recalculation(
    context: AssetExecutionContext,
    config: SegmentsConfig,
    postgres: PostgresResource,
    event_window: EventWindow,
) -> MaterializeResult:
    from warehouse.segments import recalculate_all, recalculate_customers

    engine = postgres.engine()
    with named_run(context):
        if config.segment_ids:
            scope = f"{len(config.segment_ids)} segments asked for"
            results = recalculate_all(engine, segment_ids=config.segment_ids)
        elif event_window.limited:
            customers = event_window.touched(postgres).of("customer")
            scope = f"{sum(len(v) for v in customers.values())} customers new events touched"
            results = recalculate_customers(engine, customers)
        else:
            scope = "every segment"
            results = recalculate_all(engine)
    failed = [r for r in results if not r.ok]
    for r in failed:
        context.log.warning(f"segment {r.name} ({r.segment_id}) kept its old memberships: {r.code} {r.error}")
    return MaterializeResult(
        metadata={
            "scope": scope,
            "segments": MetadataValue.int(len(results)),
            "failed_segments": MetadataValue.json([{"segment": r.name, "error": r.error} for r in failed]),
            "members": MetadataValue.int(sum(r.customer_count for r in results if r.ok)),
            "added": MetadataValue.int(sum(r.added for r in results)),
            "removed": MetadataValue.int(sum(r.removed for r in results)),
        }
    )
