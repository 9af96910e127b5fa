"""Asset keys shared by the dbt translator, the ML assets, the checks and the tests.

Keys are `[schema, table]` so a key names the Postgres relation it stands for: the landing
tables `raw/<table>`, the operational store `crm/<table>`, dbt models `<layer>/<model>` and the
ML outputs `ml/<table>`. A dbt source on `raw.*`, `crm.*` or `ml.*` therefore gets the same key as
the asset that writes it, and lineage connects without a lookup table.
"""

from __future__ import annotations

from dagster import AssetKey

from crm.schema.landing import DEAD_LETTERS_TABLE, LANDING_TABLES, PARKED_EVENTS_TABLE

RAW_TABLES: tuple[str, ...] = (*LANDING_TABLES.values(), DEAD_LETTERS_TABLE)
"""The tables the landers land events in (one per data topic) and the dead letters: every table
in schema `raw` but `parked_events`, which holds events not landed yet (their tenant is not
known) and rows the lander deletes again, so it is no lane: `PARKED_EVENTS` observes it."""


def raw_key(table: str) -> AssetKey:
    return AssetKey(["raw", table])


PARKED_EVENTS = raw_key(PARKED_EVENTS_TABLE)
"""`raw.parked_events`: observed on its own, with the `parked_events` check."""


def crm_key(table: str) -> AssetKey:
    return AssetKey(["crm", table])


def ml_key(name: str) -> AssetKey:
    return AssetKey(["ml", name])


def mart_key(model: str) -> AssetKey:
    """A dbt mart in schema `analytics`."""
    return AssetKey(["analytics", model])


# The dbt marts the ML assets read.
LEAD_FEATURES = mart_key("ml_features__leads")
CUSTOMER_FEATURES = mart_key("ml_features__customers")
CUSTOMER_FEATURES_CURRENT = mart_key("ml_features__customers_current")
REVENUE_SERIES = mart_key("ml_series__revenue_daily")
DEAL_FEATURES = mart_key("ml_features__deals")
DIM_CUSTOMERS = mart_key("dim_customers")

# ML outputs: keyed by their table in schema `ml`.
LEAD_SCORES = ml_key("lead_scores")
DEAL_PROBABILITIES = ml_key("deal_probabilities")
CHURN_PREDICTIONS = ml_key("churn_predictions")
REVENUE_FORECASTS = ml_key("revenue_forecasts")

# ML registry assets: a candidate per model (trained, gated) and the promotion to active.
LEAD_MODEL_CANDIDATE = ml_key("lead_model_candidate")
LEAD_MODEL = ml_key("lead_model")
CHURN_MODEL_CANDIDATE = ml_key("churn_model_candidate")
CHURN_MODEL = ml_key("churn_model")
DEAL_MODEL_CANDIDATE = ml_key("deal_model_candidate")
DEAL_MODEL = ml_key("deal_model")
FORECAST_MODEL_CANDIDATE = ml_key("forecast_model_candidate")
FORECAST_MODEL = ml_key("forecast_model")

SEGMENTS = crm_key("customer_segment_memberships")
"""Segment recalculation, keyed by the table it writes: the dbt source on that table gets the
same key, so the marts reading memberships run after it (and dim_customers, which it reads,
does not read them back)."""

EVENT_FACT_DIMENSIONS = (mart_key("dim_leads"), mart_key("fct_deals"))
"""What the event facts' relationship tests name (fct_lead_activities -> dim_leads,
fct_deal_stage_transitions -> fct_deals), rebuilt by every run refreshing the facts: events bound
to a lead or deal that just arrived in crm.* never name one these lack."""

EVENT_DRIVEN_MODELS = (
    AssetKey(["intermediate", "int_lead_activity_events"]),
    AssetKey(["intermediate", "int_deal_activity_events"]),
    AssetKey(["intermediate", "int_touchpoints"]),
    mart_key("fct_lead_activities"),
    mart_key("fct_deal_stage_transitions"),
    mart_key("fct_revenue_attribution"),
    *EVENT_FACT_DIMENSIONS,
)
"""The incremental dbt models new landed events change (dbt/macros/incremental/): they take in
only what landed since their last run; with them the dimensions their facts' relationship tests
name (EVENT_FACT_DIMENSIONS)."""

EVENT_FRESH_MARTS = (
    # the entities themselves besides EVENT_FACT_DIMENSIONS (leads, deals): an updated customer
    mart_key("dim_customers"),
    # what the scores and the segments read
    LEAD_FEATURES,
    DEAL_FEATURES,
    CUSTOMER_FEATURES_CURRENT,
    mart_key("fct_customer_health"),
    # the pages over them
    mart_key("dash_open_pipeline"),
    mart_key("dash_stage_conversion"),
    mart_key("dash_attribution_monthly"),
    mart_key("dash_customer_health_summary"),
)
"""The marts describing "now" that a write or a landed event changes, rebuilt whole by the
event-driven refresh (seconds at scale S; crm.* has no change feed they could merge from)."""

EVENT_REFRESH_SCORES = (LEAD_SCORES, DEAL_PROBABILITIES)
"""The scores the event-driven refresh writes itself, right after the features they read, for the
leads and deals its events name: a logged call or a stage change has its new score in the same
run instead of waiting for the rescoring's sensor tick and process start (tens of seconds). Cheap:
the touched rows of a tenant frame (the steps read the ids from `orchestration.event_window`)."""

EVENT_SCORED = (CHURN_PREDICTIONS, SEGMENTS)
"""What the rescoring after a refresh brings up to date for the customers the window's events
name: churn predictions and segment memberships."""

EVENT_SCORE_MARTS = (
    mart_key("fct_lead_scores"),
    mart_key("dash_lead_score_summary"),
    mart_key("fct_deal_forecast"),
    mart_key("fct_customer_risk"),
    mart_key("fct_segment_memberships"),
    mart_key("dash_segment_summary"),
)
"""The marts over the scores and memberships, rebuilt after them."""
