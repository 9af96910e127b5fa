"""Field types shared by every body."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

Money = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=5000)]
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Phone = Annotated[str, Field(max_length=50)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Tags = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=50)]
INT64 = 2**63


def _storable_json(value: Any, depth: int = 0) -> Any:
    """jsonb and the event wire format cannot hold NUL characters or integers past 64 bits."""
    if depth > 32:
        raise ValueError("JSON nested too deeply (max 32 levels)")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("strings may not contain NUL characters")
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        pass
    elif isinstance(value, int):
        if not -INT64 <= value < INT64:
            raise ValueError("integers must fit in 64 bits")
    elif isinstance(value, dict):
        for k, v in value.items():
            _storable_json(k, depth + 1)
            _storable_json(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _storable_json(v, depth + 1)
    return value


JsonObject = Annotated[
    dict[str, Any], AfterValidator(_storable_json), Field(description="free-form JSON object")
]
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


Responses = dict[int | str, dict[str, Any]]
"""Documented responses of a route besides its own (FastAPI's `responses=`)."""

ERRORS: Responses = {
    401: {"model": ErrorOut, "description": "missing, forged or expired credentials"},
    403: {"model": ErrorOut, "description": "the role or key may not do this"},
    422: {"model": ErrorOut, "description": "invalid input (context.field names it)"},
    429: {"model": ErrorOut, "description": "rate limited (Retry-After)"},
}
NOT_FOUND: Responses = {404: {"model": ErrorOut, "description": "no such record in your tenant"}}
CONFLICT: Responses = {409: {"model": ErrorOut, "description": "version conflict or invalid state change"}}
