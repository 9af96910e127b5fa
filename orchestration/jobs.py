"""Jobs: what schedules and the sensor launch, and what a data engineer backfills from the UI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import AssetSelection, JobDefinition, define_asset_job, in_process_executor

from . import keys
from .imports import import_job
from .rescore import lead_rescore_job

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

EVENT_MARTS_TAG = "crm/dbt-event-marts"
SCORE_MARTS_TAG = "crm/dbt-score-marts"
"""A job building dbt models carries the tag of each of the two sets it builds: the marts events
change (facts, entities, features) and the marts over scores and memberships. The instance runs
one run per tag at a time (`orchestration.instance`: two dbt runs building one table collide on
its temporary relation), so the event-driven refresh of the marts and the rescoring that
follows it overlap, and a scheduled run of the whole waits for both."""
_event_marts = {EVENT_MARTS_TAG: "1"}
_score_marts = {SCORE_MARTS_TAG: "1"}
_warehouse = _event_marts | _score_marts

_dbt = AssetSelection.groups("staging", "intermediate", "marts")


def _fresh(*marts) -> AssetSelection:
    """dbt models a mart needs (views, cheap) plus the mart itself."""
    return (AssetSelection.assets(*marts).upstream() & _dbt) | AssetSelection.assets(*marts)


def _then_marts(sel: AssetSelection) -> AssetSelection:
    """`sel` plus the dbt marts that join its outputs."""
    return sel | (sel.downstream() & _dbt)


everything_job = define_asset_job(
    "materialize_everything",
    selection=AssetSelection.all(),
    description="The whole graph: every dbt model and test, every ML asset and check, segments.",
    tags=_warehouse,
)

observe_landing_job = define_asset_job(
    "observe_landing",
    selection=AssetSelection.groups("landing", "operational", include_sources=True),
    description="Observe the raw.* landing and crm.* operational tables (freshness, data versions).",
)

lead_scoring_job = define_asset_job(
    "lead_scoring",
    selection=_then_marts(
        _fresh(keys.LEAD_FEATURES, keys.DEAL_FEATURES)
        | AssetSelection.assets(keys.LEAD_SCORES, keys.DEAL_PROBABILITIES)
    ),
    description="Hourly: refresh lead/deal features, score leads and deals with the active models.",
    tags=_warehouse,
)

customer_health_job = define_asset_job(
    "customer_health",
    selection=_then_marts(
        _fresh(
            keys.DIM_CUSTOMERS,
            keys.CUSTOMER_FEATURES,
            keys.CUSTOMER_FEATURES_CURRENT,
            keys.mart_key("fct_customer_health"),
        )
        | AssetSelection.assets(
            keys.CHURN_MODEL_CANDIDATE, keys.CHURN_MODEL, keys.CHURN_PREDICTIONS, keys.SEGMENTS
        )
    ),
    description="Daily: customer health, churn model (gated), churn predictions, segment recalculation.",
    tags=_warehouse,
)

weekly_retrain_job = define_asset_job(
    "weekly_retrain",
    selection=_then_marts(
        _fresh(keys.REVENUE_SERIES, keys.LEAD_FEATURES, keys.DEAL_FEATURES)
        | AssetSelection.assets(
            keys.FORECAST_MODEL_CANDIDATE,
            keys.FORECAST_MODEL,
            keys.REVENUE_FORECASTS,
            keys.LEAD_MODEL_CANDIDATE,
            keys.LEAD_MODEL,
            keys.LEAD_SCORES,
            keys.DEAL_MODEL_CANDIDATE,
            keys.DEAL_MODEL,
            keys.DEAL_PROBABILITIES,
        )
    ),
    description="Weekly: retrain the forecast, lead and deal models (gated), forecast and rescore.",
    tags=_warehouse,
)

incremental_refresh_job = define_asset_job(
    "incremental_refresh",
    selection=AssetSelection.assets(*keys.EVENT_DRIVEN_MODELS),
    description=(
        "The incremental dbt models take in the events landed since their last run (event facts, "
        "touchpoints, attribution; seconds at scale M). The event-driven refresh runs them too."
    ),
    tags=_event_marts,
)

_event_refreshed = (*keys.EVENT_DRIVEN_MODELS, *keys.EVENT_FRESH_MARTS, *keys.EVENT_REFRESH_SCORES)
_event_rescored = (*keys.EVENT_SCORED, *keys.EVENT_SCORE_MARTS)

event_refresh_job = define_asset_job(
    "event_refresh",
    selection=AssetSelection.assets(*_event_refreshed).without_checks(),
    executor_def=in_process_executor,
    description=(
        "On new landed events and API writes (the new-events sensor, every few seconds): the "
        "incremental models take the events in and the marts of the entities they name are "
        "rebuilt, features included; then the leads and deals they name are rescored with the "
        "active models (the rules when there is none). One dbt invocation in one process: a run "
        "lasts seconds. Customers' churn and segments follow (event_rescore); the checks of what "
        "it built run after it, off the write-to-mart path (event_checks)."
    ),
    tags=_event_marts,
)

event_rescore_job = define_asset_job(
    "event_rescore",
    selection=AssetSelection.assets(*_event_rescored).without_checks(),
    executor_def=in_process_executor,
    description=(
        "After an event_refresh (the refreshed-marts sensor passes its window): the customers the "
        "window's events name get their churn predictions and segment memberships re-evaluated, "
        "then the marts over scores and memberships (the refresh's lead and deal scores "
        "included) are rebuilt. It overlaps the next event_refresh."
    ),
    tags=_score_marts,
)

event_checks_job = define_asset_job(
    "event_checks",
    selection=AssetSelection.checks_for_assets(*_event_refreshed, *_event_rescored),
    executor_def=in_process_executor,
    description=(
        "After event-driven refreshes and rescorings (the refreshed-checks sensor: a minute apart "
        "at least, in a pause of the refreshes, ten minutes apart at most under load): the dbt data tests and the Python checks of every asset they build, in one dbt "
        "invocation. They read only, so they overlap the next refresh instead of holding up its "
        "writes; a failed check is a red check on its asset, never a stale mart."
    ),
)

segment_refresh_job = define_asset_job(
    "segment_refresh",
    selection=AssetSelection.assets(keys.SEGMENTS),
    executor_def=in_process_executor,
    description=(
        "Recalculates the segments asked for (POST /segments/{id}/recalculate) or failed a while "
        "ago (the stale-segment sensor passes their ids). No dbt, so it never waits for a "
        "warehouse run: the new-events sensor sees the recalculation, and the event_rescore "
        "after its refresh rebuilds the marts over the memberships."
    ),
)

JOBS: list[UnresolvedAssetJobDefinition | JobDefinition] = [
    everything_job,
    observe_landing_job,
    lead_scoring_job,
    customer_health_job,
    weekly_retrain_job,
    incremental_refresh_job,
    event_refresh_job,
    event_rescore_job,
    event_checks_job,
    segment_refresh_job,
    lead_rescore_job,
    import_job,
]
