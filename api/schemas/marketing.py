from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import (
    Body,
    JsonObject,
    Money,
    Name,
    Text,
    Timestamp,
    Version,
    VersionedRow,
    table_row,
)
from crm.enums import CampaignStatus, CampaignType, CustomerStage


class CustomerStageChange(Body):
    stage: CustomerStage
    version: Version | None = None


class SegmentCreate(Body):
    name: Name
    description: Text | None = None
    criteria: JsonObject
    is_active: bool = True
    is_dynamic: bool = True


class SegmentUpdate(Body):
    name: Name | None = None
    description: Text | None = None
    criteria: JsonObject | None = None
    is_active: bool | None = None
    is_dynamic: bool | None = None
    version: Version | None = None


class CampaignCreate(Body):
    name: Name
    description: Text | None = None
    type: CampaignType
    segment_id: UUID | None = None
    start_date: Timestamp | None = None
    end_date: Timestamp | None = None
    budget: Money | None = None


class CampaignUpdate(Body):
    name: Name | None = None
    description: Text | None = None
    segment_id: UUID | None = None
    start_date: Timestamp | None = None
    end_date: Timestamp | None = None
    budget: Money | None = None
    spent: Money | None = None
    version: Version | None = None


class CampaignStatusChange(Body):
    status: CampaignStatus
    version: Version | None = None


class CampaignTrigger(Body):
    customer_id: UUID | None = Field(
        default=None,
        description="the customer to send to; without it, every member of the campaign's segment",
    )
    metadata: JsonObject = Field(default_factory=dict)


class CampaignTriggered(BaseModel):
    campaign_id: UUID
    customer_id: UUID | None = Field(description="the customer triggered for; null for a segment trigger")
    segment_id: UUID | None = Field(
        default=None, description="the segment whose members get the campaign (a trigger without a customer)"
    )
    segment_members: int | None = Field(
        default=None, description="the segment's members when triggered (a segment trigger)"
    )
    triggered_at: datetime
    campaign_version: int = Field(description="the campaign's version after counting the trigger")


class SegmentOut(table_row("customer_segments", VersionedRow)):  # type: ignore[misc]  # a model made from its table
    name: str


class CampaignOut(table_row("marketing_campaigns", VersionedRow)):  # type: ignore[misc]  # a model made from its table
    name: str
    status: CampaignStatus


class CustomerOut(table_row("customers", VersionedRow)):  # type: ignore[misc]  # a model made from its table
    lifecycle_stage: CustomerStage
