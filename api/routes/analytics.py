"""Reads of the warehouse marts: dashboard metrics and revenue attribution for a date range.

The marts belong to dbt, where each route's exposure names the mart it reads
(dbt/models/exposures.yml); their column lists may grow, so rows are returned as they are and
only the date column used for the range is looked up. A mart that is not built yet
answers 503 `ANALYTICS_UNAVAILABLE`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from psycopg import sql

from api.core.auth import Principal
from api.core.db import fetchall
from api.deps import Db, Requires
from api.routes._common import respond
from api.schemas.common import ERRORS, Responses
from crm.errors import CRMError, CRMErrorCode

router = APIRouter(prefix="/analytics", tags=["analytics"], responses=ERRORS)
Reader = Annotated[Principal, Requires("analytics:read")]
UNAVAILABLE: Responses = {503: {"description": "the mart is not built yet"}}
DATE_TYPES = ("date", "timestamp with time zone", "timestamp without time zone")


async def _columns(conn: Any, schema: str, table: str) -> dict[str, str]:
    rows = await fetchall(
        conn,
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, table),
    )
    if not rows:
        raise CRMError(
            CRMErrorCode.ANALYTICS_UNAVAILABLE,
            f"{schema}.{table} is not available yet (run dbt)",
            {"table": f"{schema}.{table}"},
        )
    return {r["column_name"]: r["data_type"] for r in rows}


def _date_column(cols: dict[str, str], preferred: tuple[str, ...]) -> str:
    for name in preferred:
        if name in cols:
            return name
    for name, typ in cols.items():
        if typ in DATE_TYPES:
            return name
    raise CRMError(CRMErrorCode.ANALYTICS_UNAVAILABLE, "the mart has no date column", {"columns": list(cols)})


def _range(date_from: date | None, date_to: date | None, default_days: int) -> tuple[date, date]:
    date_to = date_to or date.today()
    date_from = date_from or date_to - timedelta(days=default_days)
    if date_from > date_to:
        raise CRMError(CRMErrorCode.VALIDATION_ERROR, "date_from is after date_to", {"field": "date_from"})
    return date_from, date_to


async def _rows(
    conn: Any,
    table: str,
    preferred: tuple[str, ...],
    d0: date,
    d1: date,
    extra: list[tuple[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    schema, name = table.split(".")
    cols = await _columns(conn, schema, name)
    col = _date_column(cols, preferred)
    where = [sql.SQL("{} >= %s").format(sql.Identifier(col)), sql.SQL("{} < %s").format(sql.Identifier(col))]
    params: list[Any] = [d0, d1 + timedelta(days=1)]
    for c, v in extra or []:
        if c in cols and v is not None:
            where.append(sql.SQL("{} = %s").format(sql.Identifier(c)))
            params.append(v)
    q = sql.SQL("SELECT * FROM {}.{} WHERE {} ORDER BY {} LIMIT 10000").format(
        sql.Identifier(schema), sql.Identifier(name), sql.SQL(" AND ").join(where), sql.Identifier(col)
    )
    try:
        return await fetchall(conn, q, params)
    except Exception as exc:  # permission or shape problems of a mart being rebuilt
        import psycopg

        if isinstance(exc, psycopg.errors.InsufficientPrivilege | psycopg.errors.UndefinedTable):
            raise CRMError(
                CRMErrorCode.ANALYTICS_UNAVAILABLE, f"{table} cannot be read yet", {"table": table}
            ) from None
        raise


DateQ = Annotated[date | None, Query(description="YYYY-MM-DD, inclusive")]


@router.get("/dashboard", responses=UNAVAILABLE)
async def dashboard_metrics(
    p: Reader,
    db: Db,
    date_from: DateQ = None,
    date_to: DateQ = None,
    owner_id: Annotated[
        UUID | None, Query(description="one sales rep's figures (default: the tenant total)")
    ] = None,
):
    """Daily CRM metrics (analytics.metrics_crm_daily) for the range (default: last 30 days);
    a sales_rep gets its own figures."""
    d0, d1 = _range(date_from, date_to, 30)
    if p.own_only:
        owner_id = p.user_id
    extra: list[tuple[str, Any]] = [("owner_id", owner_id)] if owner_id else [("is_tenant_total", True)]
    async with db.tx(p.tenant_id) as conn:
        rows = await _rows(conn, "analytics.metrics_crm_daily", ("day", "date", "metric_date"), d0, d1, extra)
    return respond({"date_from": d0, "date_to": d1, "days": rows})


@router.get("/attribution", responses=UNAVAILABLE)
async def revenue_attribution(
    p: Reader,
    db: Db,
    date_from: DateQ = None,
    date_to: DateQ = None,
    model: Annotated[str | None, Query(max_length=50, description="e.g. first_touch, linear")] = None,
):
    """Revenue attribution rows (analytics.fct_revenue_attribution) of the deals won in the range
    (by won_day), optionally one attribution model; plus the credit attributed per model."""
    d0, d1 = _range(date_from, date_to, 90)
    async with db.tx(p.tenant_id) as conn:
        rows = await _rows(
            conn, "analytics.fct_revenue_attribution", ("won_day",), d0, d1, [("attribution_model", model)]
        )
        # over every row of the range, not only the ones returned (those stop at the row limit)
        sums = await fetchall(
            conn,
            "SELECT attribution_model, sum(credit) AS credit FROM analytics.fct_revenue_attribution"
            " WHERE won_day >= %s AND won_day <= %s AND (%s::text IS NULL OR attribution_model = %s)"
            " GROUP BY attribution_model",
            (d0, d1, model, model),
        )
    totals = {str(r["attribution_model"]): float(r["credit"]) for r in sums}
    return respond({"date_from": d0, "date_to": d1, "totals": totals, "rows": rows})
