"""Jobs: what schedules and the sensor launch, and what a data engineer backfills from the UI."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from . import keys

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
)

incremental_refresh_job = define_asset_job(
    "incremental_refresh",
    selection=AssetSelection.assets(*keys.EVENT_DRIVEN_MODELS),
    description=(
        "On new landed events: the incremental dbt models take them in (event facts, touchpoints, "
        "attribution; seconds at scale M). The as-of-now marts and the scores follow their schedules."
    ),
)

JOBS = [
    everything_job,
    observe_landing_job,
    lead_scoring_job,
    customer_health_job,
    weekly_retrain_job,
    incremental_refresh_job,
]
