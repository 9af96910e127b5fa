from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from pydantic import Field

from api.schemas.common import (
    Body,
    Count,
    Currency,
    JsonObject,
    Money,
    Name,
    Percent,
    Tags,
    Text,
    Timestamp,
    Version,
    VersionedRow,
    table_row,
)
from crm.enums import DealActivityType


class DealCreate(Body):
    name: Name
    description: Text | None = None
    value: Money
    currency: Currency = "USD"
    pipeline_id: UUID | None = Field(None, description="default: the tenant's default pipeline")
    stage: Name | None = Field(None, description="default: the pipeline's first stage")
    probability: Percent | None = Field(None, description="default: the stage's probability")
    lead_id: UUID | None = None
    customer_id: UUID | None = None
    assigned_user_id: UUID | None = None
    expected_close_date: Timestamp | None = None
    tags: Tags = Field(default_factory=list)
    custom_fields: JsonObject = Field(default_factory=dict)


class DealUpdate(Body):
    name: Name | None = None
    description: Text | None = None
    value: Money | None = None
    currency: Currency | None = None
    probability: Percent | None = None
    assigned_user_id: UUID | None = None
    customer_id: UUID | None = None
    expected_close_date: Timestamp | None = None
    tags: Tags | None = None
    custom_fields: JsonObject | None = None
    version: Version | None = None


class StageChange(Body):
    stage: Name
    version: Version | None = None


class DealWon(Body):
    close_date: Timestamp | None = Field(None, description="default: now")
    version: Version | None = None


class DealLost(Body):
    lost_reason: Name
    close_date: Timestamp | None = None
    version: Version | None = None


class DealActivityCreate(Body):
    type: DealActivityType
    description: Text
    metadata: JsonObject = Field(default_factory=dict)


class DealProductSet(Body):
    quantity: Count = 1
    unit_price: Money | None = Field(None, description="default: the product's price")
    discount: Money = Field(default=Decimal("0.00"), description="an amount off the line (not a percent)")


class DealOut(table_row("deals", VersionedRow)):  # type: ignore[misc]  # a model made from its table
    name: str
    stage: str
    pipeline_id: UUID


class DealProductOut(table_row("deal_products")):  # type: ignore[misc]  # a model made from its table
    id: UUID
    deal_id: UUID
    product_id: UUID
    quantity: int
    unit_price: str
    discount: str
    total_price: str


class DealActivityOut(table_row("deal_activities")):  # type: ignore[misc]  # a model made from its table
    id: UUID
    deal_id: UUID
    type: DealActivityType
    description: str
    created_at: datetime
