"""What the warehouse reads answer: daily CRM metrics and the seed's RevenueAttribution
(totals, channels, campaigns and the touchpoint rows, paged)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import ErrorOut
from crm.enums import AttributionModel


class MetricsDay(BaseModel):
    """One day of analytics.metrics_crm_daily (every column of the mart)."""

    model_config = ConfigDict(extra="allow")
    tenant_id: UUID
    day: date


class DashboardOut(BaseModel):
    date_from: date
    date_to: date
    days: list[MetricsDay]


class AttributionRow(BaseModel):
    """A touchpoint's share of a won deal under one model (an approximate row: the deal's whole
    value to its lead's source, no touchpoint)."""

    attribution_id: str | None
    tenant_id: UUID
    deal_id: UUID
    lead_id: UUID | None
    customer_id: UUID | None
    won_at: datetime
    won_day: date
    deal_value: float
    attribution_model: AttributionModel
    touchpoint_id: UUID | None
    touchpoint_source: str | None
    touchpoint_type: str | None
    channel: str | None
    campaign_id: UUID | None
    touched_at: datetime | None
    touch_position: int | None
    touch_count: int | None
    weight: float
    credit: float
    percentage: float


class ChannelCredit(BaseModel):
    attribution_model: AttributionModel
    channel: str | None
    credit: float


class CampaignCredit(BaseModel):
    attribution_model: AttributionModel
    campaign_id: UUID
    credit: float


class AttributionOut(BaseModel):
    """getRevenueAttribution(tenantId, dateRange): the deals won in the range (by won day)."""

    date_from: date
    date_to: date
    model: AttributionModel | None = Field(description="the model asked for (null: every model)")
    approximate: bool = Field(
        description="true when the exact attribution could not be read: each won deal's value is "
        "credited to its lead's source (warnings say why)"
    )
    warnings: list[ErrorOut] = Field(description="REVENUE_CALCULATION_ERROR when approximate")
    total_revenue: float = Field(description="value of the deals won in the range that are attributed")
    totals: dict[str, float] = Field(description="credit per attribution model, over the whole range")
    channels: list[ChannelCredit] = Field(description="credit per model and channel, whole range")
    campaigns: list[CampaignCredit] = Field(description="credit per model and campaign, whole range")
    rows: list[AttributionRow]
    total_rows: int
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="offset of the next page; null on the last page")

    @staticmethod
    def paged(rows: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
        return {
            "rows": rows,
            "total_rows": total,
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None,
        }
