"""Load the warehouse's ML marts into the frames the models take (`ml.schemas`).

The feature marts emit exactly the columns and names the models read (keys, label, features;
dbt/models/marts/ml/), so a frame is its mart as it is: only types change (uuids become text,
numerics floats, booleans 0/1 for the models) and rows are chosen (a tenant, an entity, the
active customers). The forecast reads the daily series and the sales facts the same way.
"""

from __future__ import annotations

import polars as pl

from ml import store

LEADS = "analytics.ml_features__leads"
CUSTOMERS_TRAIN = "analytics.ml_features__customers"
CUSTOMERS_CURRENT = "analytics.ml_features__customers_current"
REVENUE = "analytics.ml_series__revenue_daily"
PURCHASES = "analytics.ml_series__customer_purchases"
DEALS = "analytics.ml_features__deals"
FCT_DEALS = "analytics.fct_deals"
TRANSITIONS = "analytics.fct_deal_stage_transitions"
LEADS_DIM = "analytics.dim_leads"


def _where(**equal: str | None) -> tuple[str, tuple]:
    """`WHERE a = %s::uuid AND ...` for the given (not None) id columns."""
    given = {c: v for c, v in equal.items() if v is not None}
    if not given:
        return "", ()
    return "WHERE " + " AND ".join(f"{c} = %s::uuid" for c in given), tuple(given.values())


def _model_types(df: pl.DataFrame) -> pl.DataFrame:
    """Booleans (the labels, flags such as has_company) as 0/1 integers."""
    return df.with_columns([pl.col(c).cast(pl.Int8) for c, t in df.schema.items() if t == pl.Boolean])


def model_frame(relation: str, df: pl.DataFrame) -> pl.DataFrame:
    """Rows of a feature mart (as `ml.store` reads them) typed as its model takes them: the
    loaders below, and one entity's row read elsewhere (the API's on-demand scores)."""
    return _model_types(df) if relation in (LEADS, CUSTOMERS_TRAIN, CUSTOMERS_CURRENT) else df


def lead_frame(url: str | None, tenant_id: str | None = None, lead_id: str | None = None) -> pl.DataFrame:
    """`analytics.ml_features__leads`: every lead (of a tenant, or one lead)."""
    where, params = _where(tenant_id=tenant_id, lead_id=lead_id)
    return model_frame(LEADS, store.read_table(url, LEADS, where, params))


def customer_frame(
    url: str | None, current: bool, tenant_id: str | None = None, customer_id: str | None = None
) -> pl.DataFrame:
    """The active customers of the training mart (one row per customer and training snapshot,
    label `churned_90d`) or of the current one (as of now, for scoring)."""
    where, params = _where(tenant_id=tenant_id, customer_id=customer_id)
    where = f"{where} AND is_active_at_snapshot" if where else "WHERE is_active_at_snapshot"
    relation = CUSTOMERS_CURRENT if current else CUSTOMERS_TRAIN
    return model_frame(relation, store.read_table(url, relation, where, params))


def deal_frame(url: str | None, tenant_id: str | None = None, deal_id: str | None = None) -> pl.DataFrame:
    """`analytics.ml_features__deals`: every deal (of a tenant, or one deal)."""
    where, params = _where(tenant_id=tenant_id, deal_id=deal_id)
    return model_frame(DEALS, store.read_table(url, DEALS, where, params))


def revenue_series(url: str | None, tenant_id: str) -> pl.DataFrame:
    return store.read_table(url, REVENUE, "WHERE tenant_id = %s", (tenant_id,))


def customer_purchases(url: str | None, tenant_id: str) -> pl.DataFrame | None:
    """Each customer's purchases per day (customer_id, day, amount); None when the warehouse
    has not built the mart."""
    if not store.table_exists(url, PURCHASES):
        return None
    return store.read_query(
        url,
        f"SELECT customer_id::text, day, amount::float8 FROM {PURCHASES} WHERE tenant_id = %s",
        (tenant_id,),
    )


def pipeline_frames(
    url: str | None, tenant_id: str
) -> tuple[pl.DataFrame | None, pl.DataFrame | None, pl.DataFrame | None]:
    """What the pipeline-aware forecast reads (`ml.pipeline`, `ml.funnel`): deals, their stage
    transitions and the leads' creation times; None for what the warehouse does not have."""
    if not (store.table_exists(url, FCT_DEALS) and store.table_exists(url, TRANSITIONS)):
        return None, None, None
    deals = store.read_query(
        url,
        f"SELECT deal_id::text, pipeline_id::text, lead_id::text, created_at, closed_at, is_won,"
        f" deal_value::float8, expected_close_date FROM {FCT_DEALS} WHERE tenant_id = %s",
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
