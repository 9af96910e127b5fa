"""Reads of the warehouse marts: dashboard metrics and revenue attribution for a date range.

The marts belong to dbt, where each route's exposure names the mart it reads
(dbt/models/exposures.yml). Ranges are checked once (`api.deps.date_range`). A mart that is not
built yet answers 503 `ANALYTICS_UNAVAILABLE`; attribution then falls back to an approximation
(the seed's recovery strategy) flagged `approximate` with a `REVENUE_CALCULATION_ERROR` warning."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from uuid import UUID

import psycopg
from fastapi import APIRouter, Query

from api.core.auth import Principal
from api.core.db import Conn, fetchall, fetchone
from api.deps import DateRange, MartDb, Paging, Requires, date_range
from api.routes._common import respond, table_exists
from api.schemas.analytics import AttributionOut, DashboardOut
from api.schemas.common import ERRORS, Responses
from crm.enums import AttributionModel
from crm.errors import CRMError, CRMErrorCode

log = logging.getLogger(__name__)

router = APIRouter(prefix="/analytics", tags=["analytics"], responses=ERRORS)
Reader = Annotated[Principal, Requires("analytics:read")]
UNAVAILABLE: Responses = {503: {"description": "the mart is not built yet"}}
MODELS = [m.value for m in AttributionModel]


def _unavailable(table: str) -> CRMError:
    return CRMError(
        CRMErrorCode.ANALYTICS_UNAVAILABLE, f"{table} is not available yet (run dbt)", {"table": table}
    )


@router.get("/dashboard", response_model=DashboardOut, responses=UNAVAILABLE)
async def dashboard_metrics(
    p: Reader,
    db: MartDb,
    dates: Annotated[DateRange, date_range(30)],
    owner_id: Annotated[
        UUID | None, Query(description="one sales rep's figures (default: the tenant total)")
    ] = None,
):
    """getDashboardMetrics: daily CRM metrics (analytics.metrics_crm_daily) for the range
    (default: the last 30 days); a sales_rep gets its own figures."""
    if p.own_only:
        owner_id = p.user_id
    who, params = ("owner_id = %s", [owner_id]) if owner_id else ("is_tenant_total", [])
    async with db.tx(p.tenant_id) as conn:
        if not await table_exists(conn, "analytics.metrics_crm_daily"):
            raise _unavailable("analytics.metrics_crm_daily")
        days = await fetchall(
            conn,
            f"SELECT * FROM analytics.metrics_crm_daily WHERE day >= %s AND day < %s AND {who} ORDER BY day",
            (dates.date_from, dates.end, *params),
        )
    return respond({"date_from": dates.date_from, "date_to": dates.date_to, "days": days})


@router.get("/attribution", response_model=AttributionOut, responses=UNAVAILABLE)
async def revenue_attribution(
    p: Reader,
    db: MartDb,
    page: Paging,
    dates: Annotated[DateRange, date_range(90)],
    model: Annotated[
        AttributionModel | None, Query(description="one attribution model (default: all)")
    ] = None,
):
    """getRevenueAttribution: the deals won in the range (by won day) credited to their
    touchpoints (analytics.fct_revenue_attribution): totals per model, per channel and per
    campaign over the whole range, and the rows, a page at a time (ordered by won day, deal,
    model, touch). When the exact attribution cannot be read, each won deal's value is credited
    to its lead's source (analytics.fct_deals), flagged `approximate` with a
    REVENUE_CALCULATION_ERROR warning."""
    models = [model.value] if model else MODELS
    try:
        async with db.tx(p.tenant_id) as conn:
            if not await table_exists(conn, "analytics.fct_revenue_attribution"):
                raise _unavailable("analytics.fct_revenue_attribution")
            out = await _attribution(conn, EXACT, dates, models, page.limit, page.offset)
        warnings: list[dict[str, Any]] = []
    except (CRMError, psycopg.Error) as exc:
        if isinstance(exc, CRMError) and exc.code is not CRMErrorCode.ANALYTICS_UNAVAILABLE:
            raise
        why = exc.message if isinstance(exc, CRMError) else f"{type(exc).__name__}: {exc}".strip()
        log.warning("exact attribution failed, answering the approximation: %s", why)
        warnings = [
            {
                "code": str(CRMErrorCode.REVENUE_CALCULATION_ERROR),
                "message": "the exact attribution could not be calculated: each won deal's value is "
                "credited to its lead's source instead",
                "context": {"table": "analytics.fct_revenue_attribution", "reason": why},
            }
        ]
        async with db.tx(p.tenant_id) as conn:
            if not await table_exists(conn, "analytics.fct_deals"):
                raise CRMError(
                    CRMErrorCode.REVENUE_CALCULATION_ERROR,
                    "revenue attribution is not available: neither the attribution nor the deals are built",
                    {"tables": ["analytics.fct_revenue_attribution", "analytics.fct_deals"], "reason": why},
                ) from None
            out = await _attribution(conn, APPROXIMATE, dates, models, page.limit, page.offset)
    body = {
        "date_from": dates.date_from,
        "date_to": dates.date_to,
        "model": model,
        "approximate": bool(warnings),
        "warnings": warnings,
        **out,
    }
    return respond(AttributionOut.model_validate(body).model_dump(mode="json"))


EXACT = """
    SELECT attribution_id, tenant_id, deal_id, lead_id, customer_id, won_at, won_day,
        deal_value, attribution_model, touchpoint_id, touchpoint_source,
        touchpoint_type, channel, campaign_id, touched_at, touch_position, touch_count, weight,
        credit, percentage
    FROM analytics.fct_revenue_attribution
    WHERE won_day >= %(d0)s AND won_day < %(d1)s AND attribution_model = ANY(%(models)s)
"""
"""The attribution rows of the range (a query the reads below wrap)."""

APPROXIMATE = """
    SELECT NULL::text AS attribution_id, d.tenant_id, d.deal_id, d.lead_id, d.customer_id,
        d.closed_at AS won_at, d.closed_day AS won_day, d.deal_value,
        m.attribution_model, NULL::uuid AS touchpoint_id, 'lead' AS touchpoint_source,
        NULL::text AS touchpoint_type, d.lead_source AS channel, d.lead_campaign_id AS campaign_id,
        NULL::timestamptz AS touched_at, NULL::int AS touch_position, NULL::int AS touch_count,
        1.0::float8 AS weight, d.deal_value AS credit, 100.0::float8 AS percentage
    FROM analytics.fct_deals AS d
    CROSS JOIN unnest(%(models)s::text[]) AS m (attribution_model)
    WHERE d.is_won AND d.closed_day >= %(d0)s AND d.closed_day < %(d1)s
"""
"""The approximation: every won deal of the range, its whole value to its lead's source."""


async def _attribution(
    conn: Conn, rows_sql: str, dates: DateRange, models: list[str], limit: int, offset: int
) -> dict[str, Any]:
    """Totals, channels, campaigns over the whole range and one page of rows, from `rows_sql`."""
    args = {"d0": dates.date_from, "d1": dates.end, "models": models, "limit": limit, "offset": offset}
    summary = await fetchone(
        conn,
        "SELECT count(*) AS n, coalesce(sum(deal_value) FILTER (WHERE is_first), 0)::float8 AS revenue FROM"
        f" (SELECT deal_value, row_number() OVER (PARTITION BY deal_id) = 1 AS is_first FROM ({rows_sql}) r) s",
        args,
    )
    assert summary is not None
    totals = await fetchall(
        conn,
        f"SELECT attribution_model, sum(credit)::float8 AS credit FROM ({rows_sql}) r GROUP BY 1 ORDER BY 1",
        args,
    )
    channels = await fetchall(
        conn,
        f"SELECT attribution_model, channel, sum(credit)::float8 AS credit FROM ({rows_sql}) r"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        args,
    )
    campaigns = await fetchall(
        conn,
        f"SELECT attribution_model, campaign_id, sum(credit)::float8 AS credit FROM ({rows_sql}) r"
        " WHERE campaign_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
        args,
    )
    rows = await fetchall(
        conn,
        f"SELECT * FROM ({rows_sql}) r ORDER BY won_day, deal_id, attribution_model, touch_position,"
        " attribution_id LIMIT %(limit)s OFFSET %(offset)s",
        args,
    )
    return {
        "total_revenue": summary["revenue"],
        "totals": {r["attribution_model"]: r["credit"] for r in totals},
        "channels": channels,
        "campaigns": campaigns,
        **AttributionOut.paged(rows, summary["n"], limit, offset),
    }
