from __future__ import annotations

from pydantic import Field

from api.schemas.common import (
    Body,
    Currency,
    JsonObject,
    Money,
    Name,
    Percent,
    Text,
    Version,
    VersionedRow,
    table_row,
)


class StageIn(Body):
    name: Name
    order: int = Field(ge=0, le=10_000)
    probability: Percent
    is_won: bool = False
    is_lost: bool = False


class PipelineCreate(Body):
    name: Name
    description: Text | None = None
    stages: list[StageIn] = Field(min_length=1, max_length=50)
    is_default: bool = False
    is_active: bool = True


class PipelineUpdate(Body):
    name: Name | None = None
    description: Text | None = None
    stages: list[StageIn] | None = Field(None, min_length=1, max_length=50)
    is_default: bool | None = None
    is_active: bool | None = None
    version: Version | None = None


class ProductCreate(Body):
    name: Name
    description: Text | None = None
    sku: Name | None = None
    category: Name | None = None
    price: Money
    currency: Currency = "USD"
    is_active: bool = True
    metadata: JsonObject = Field(default_factory=dict)


class ProductUpdate(Body):
    name: Name | None = None
    description: Text | None = None
    sku: Name | None = None
    category: Name | None = None
    price: Money | None = None
    currency: Currency | None = None
    is_active: bool | None = None
    metadata: JsonObject | None = None
    version: Version | None = None


class PipelineOut(table_row("sales_pipelines", VersionedRow)):  # type: ignore[misc]  # a model made from its table
    name: str


class ProductOut(table_row("products", VersionedRow)):  # type: ignore[misc]  # a model made from its table
    name: str
