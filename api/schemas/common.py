"""Field types shared by every body."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Money = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=5000)]
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Phone = Annotated[str, Field(max_length=50)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Tags = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=50)]
JsonObject = Annotated[dict[str, Any], Field(description="free-form JSON object")]
Percent = Annotated[int, Field(ge=0, le=100)]
Count = Annotated[int, Field(ge=1, le=1_000_000)]
Timestamp = Annotated[AwareDatetime, Field(description="ISO 8601 with a timezone")]
Version = Annotated[
    int, Field(ge=1, le=2_000_000_000, description="expected row version (optimistic concurrency)")
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Row(BaseModel):
    """A stored record as returned (all columns of its table)."""

    model_config = ConfigDict(extra="allow")
    id: UUID
    tenant_id: UUID


class VersionedRow(Row):
    version: int
    created_at: datetime
    updated_at: datetime


T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="offset of the next page; null on the last page")


class ErrorOut(BaseModel):
    code: str
    message: str
    context: dict[str, Any] = Field(default_factory=dict)


ERRORS = {
    401: {"model": ErrorOut, "description": "missing, forged or expired credentials"},
    403: {"model": ErrorOut, "description": "the role or key may not do this"},
    422: {"model": ErrorOut, "description": "invalid input (context.field names it)"},
    429: {"model": ErrorOut, "description": "rate limited (Retry-After)"},
}
NOT_FOUND = {404: {"model": ErrorOut, "description": "no such record in your tenant"}}
CONFLICT = {409: {"model": ErrorOut, "description": "version conflict or invalid state change"}}
