"""Load the warehouse's ML marts into the frames the models take (`ml.schemas`).

The marts' column names are mapped onto the models' documented names, and columns that
would leak the outcome (status, the feature window's length, which is cut short by a
conversion) or carry no meaning for a model (ids of campaigns, snapshot times) are dropped.
"""

from __future__ import annotations

import polars as pl

from ml import store

LEADS = "analytics.ml_features__leads"
CUSTOMERS_TRAIN = "analytics.ml_features__customers"
CUSTOMERS_CURRENT = "analytics.ml_features__customers_current"
CUSTOMER_BILLING = "analytics.ml_features__customer_billing"
REVENUE = "analytics.ml_series__revenue_daily"
DEALS = "analytics.fct_deals"
TRANSITIONS = "analytics.fct_deal_stage_transitions"
LEADS_DIM = "analytics.dim_leads"

LEAD_RENAME = {
    "lead_source": "source",
    "location": "country",
    "response_time_minutes": "response_time",
    "call_duration_seconds": "call_duration",
    "revenue": "annual_revenue",
}
LEAD_DROP = (
    "lead_status",
    "feature_cutoff_at",
    "feature_window_days",
    "lead_age_days",
    "converted_at",
    "campaign_id",
    "days_since_last_activity",
    "company_size",
    "is_assigned",
    "technology_stack",
    "utm_source",
    "utm_medium",
)
"""feature_window_days is short exactly when a lead converted early: a leak. company_size
duplicates employee_count; utm_* duplicate the source."""

CUSTOMER_DROP = ("snapshot_at", "is_active_at_snapshot", "lifecycle_stage", "snapshot_kind")


def lead_frame(url: str | None, tenant_id: str | None = None) -> pl.DataFrame:
    where, params = ("WHERE tenant_id = %s", (tenant_id,)) if tenant_id else ("", ())
    df = store.read_table(url, LEADS, where, params)
    df = df.drop([c for c in LEAD_DROP if c in df.columns])
    df = df.rename({k: v for k, v in LEAD_RENAME.items() if k in df.columns})
    if "converted_90d" in df.columns:
        df = df.with_columns(pl.col("converted_90d").cast(pl.Int8))
    bools = [c for c, t in df.schema.items() if t == pl.Boolean]
    return df.with_columns([pl.col(c).cast(pl.Int8) for c in bools])


def _billing(url: str | None, current: bool) -> pl.DataFrame | None:
    if not store.table_exists(url, CUSTOMER_BILLING):
        return None
    where = "WHERE snapshot_kind = 'current'" if current else "WHERE snapshot_kind LIKE 'train%%'"
    b = store.read_table(url, CUSTOMER_BILLING, where)
    return b.select("customer_id", "snapshot_at", "billing_tickets_90d", "billing_tickets_30d")


def customer_frame(url: str | None, current: bool, tenant_id: str | None = None) -> pl.DataFrame:
    """Training frame (one row per customer and training snapshot, label `churned_90d`; the
    snapshot time as `feature_cut_at`) or the current one, active customers only, with billing
    signals when the billing mart exists."""
    table = CUSTOMERS_CURRENT if current else CUSTOMERS_TRAIN
    where = "WHERE is_active_at_snapshot" + (" AND tenant_id = %s" if tenant_id else "")
    df = store.read_table(url, table, where, (tenant_id,) if tenant_id else ())
    b = _billing(url, current)
    if b is not None and df.height:
        df = df.join(b, on=["customer_id", "snapshot_at"], how="left")
    if not current and "snapshot_at" in df.columns:
        df = df.rename({"snapshot_at": "feature_cut_at"})
    df = df.drop([c for c in CUSTOMER_DROP if c in df.columns])
    if "churned_90d" in df.columns:
        df = df.with_columns(pl.col("churned_90d").cast(pl.Int8))
    return df


def deal_frame(url: str | None, tenant_id: str | None = None) -> pl.DataFrame:
    """Deals with the model's columns: status, stages_reached (open stages entered), stage
    default probability, value, age, pipeline and lead source."""
    where = "WHERE tenant_id = %s" if tenant_id else ""
    df = store.read_query(
        url,
        f"SELECT tenant_id::text, deal_id::text, CASE WHEN is_won THEN 'won' WHEN is_lost THEN 'lost' ELSE 'open' END"
        f" AS status, stage_name AS stage, probability::float8 AS stage_probability, deal_value::float8 AS value,"
        f" greatest(stages_entered - CASE WHEN is_open THEN 0 ELSE 1 END, 0)::float8 AS stages_reached,"
        f" age_days::float8 AS age_days, pipeline_name, lead_source, created_at, closed_at, expected_close_date"
        f" FROM {DEALS} {where}",
        (tenant_id,) if tenant_id else (),
    )
    return df


def revenue_series(url: str | None, tenant_id: str) -> pl.DataFrame:
    return store.read_table(url, REVENUE, "WHERE tenant_id = %s", (tenant_id,))


def pipeline_frames(
    url: str | None, tenant_id: str
) -> tuple[pl.DataFrame | None, pl.DataFrame | None, pl.DataFrame | None]:
    """What the pipeline-aware forecast reads (`ml.pipeline`, `ml.funnel`): deals, their stage
    transitions and the leads' creation times; None for what the warehouse does not have."""
    if not (store.table_exists(url, DEALS) and store.table_exists(url, TRANSITIONS)):
        return None, None, None
    deals = store.read_query(
        url,
        f"SELECT deal_id::text, pipeline_id::text, lead_id::text, created_at, closed_at, is_won,"
        f" deal_value::float8 AS value, expected_close_date FROM {DEALS} WHERE tenant_id = %s",
        (tenant_id,),
    )
    transitions = store.read_query(
        url,
        f"SELECT deal_id::text, entered_at, stage_probability::float8 FROM {TRANSITIONS} WHERE tenant_id = %s",
        (tenant_id,),
    )
    leads = None
    if store.table_exists(url, LEADS_DIM):
        leads = store.read_query(
            url, f"SELECT lead_id::text, created_at FROM {LEADS_DIM} WHERE tenant_id = %s", (tenant_id,)
        )
    return deals, transitions, leads
