"""Field types shared by every body."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar
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
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite (no NaN or Infinity)")
    elif isinstance(value, bool) or value is None:
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
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2200, 12, 31)
"""The dates the CRM holds (every timestamp a client sends, every date range a read takes):
beyond them no record makes sense, and near the ends of Python's range a time zone shift
overflows (9999-12-31T23:59:59-14:00 was a 500)."""
_EARLIEST = datetime(FIRST_DAY.year, 1, 1, tzinfo=UTC)
_AFTER_LAST = datetime(LAST_DAY.year + 1, 1, 1, tzinfo=UTC)


def _in_era(value: datetime) -> datetime:
    # the local year first: comparing an instant near datetime.min/max can itself overflow
    if not FIRST_DAY.year - 1 <= value.year <= LAST_DAY.year + 1 or not _EARLIEST <= value < _AFTER_LAST:
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY} (UTC)")
    return value


Timestamp = Annotated[
    AwareDatetime,
    AfterValidator(_in_era),
    Field(description=f"ISO 8601 with a timezone, {FIRST_DAY} to {LAST_DAY} (UTC)"),
]
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


def _column_type(column: Any) -> Any:
    """The Python type a column's value has once `api.core.writes.jsonable` rendered it."""
    from sqlalchemy import ARRAY, Boolean, Date, DateTime, Float, Integer, Numeric
    from sqlalchemy.dialects.postgresql import ENUM, JSONB
    from sqlalchemy.dialects.postgresql import UUID as PG_UUID

    t = column.type
    if isinstance(t, ENUM):
        kind: Any = Literal[tuple(t.enums)]
    elif isinstance(t, PG_UUID):
        kind = UUID
    elif isinstance(t, Boolean):
        kind = bool
    elif isinstance(t, Integer):
        kind = int
    elif isinstance(t, Float):
        kind = float
    elif isinstance(t, Numeric):
        kind = Annotated[str, Field(pattern=r"^-?\d+(\.\d+)?$", description="a decimal number, as text")]
    elif isinstance(t, DateTime):
        kind = datetime
    elif isinstance(t, Date):
        kind = date
    elif isinstance(t, JSONB):
        kind = Any
    elif isinstance(t, ARRAY):
        kind = list[str]
    else:
        kind = str
    return kind | None if column.nullable or kind is Any else kind


def table_row(table: str, base: type[BaseModel] | None = None) -> Any:
    """A response model base with every column of crm.<table>, typed as the API renders it (the
    table's definition in crm.schema is the one place that says what a record holds); the
    subclass declares what it adds or describes further."""
    from pydantic import create_model

    from crm.keys import personal
    from crm.schema.tables import metadata

    columns = metadata.tables[f"crm.{table}"].columns
    fields: dict[str, Any] = {
        c.name: (_column_type(c), None) for c in columns if c.name not in personal.LOOKUP_KEYS
    }
    return create_model(f"{table.title().replace('_', '')}Columns", __base__=base or Row, **fields)


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="offset of the next page; null on the last page")


class AuditEntryOut(BaseModel):
    """One change of a record's audit trail: who, what, the record before and after."""

    id: int
    actor_id: UUID | None = Field(description="the user or API key; null for the system")
    actor_type: str = Field(description="user | api_key | system")
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    occurred_at: datetime


class HistoryOut(BaseModel):
    items: list[AuditEntryOut]


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
    503: {
        "model": ErrorOut,
        "description": "DATABASE_UNAVAILABLE: the database is restarting or failing over (Retry-After)",
    },
}
NOT_FOUND: Responses = {404: {"model": ErrorOut, "description": "no such record in your tenant"}}
CONFLICT: Responses = {409: {"model": ErrorOut, "description": "version conflict or invalid state change"}}
