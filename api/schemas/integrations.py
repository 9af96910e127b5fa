"""External CRM sync over HTTP: connections (credentials write-only), runs, the retry queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, HttpUrl

from api.schemas.common import Body, Name


class ConnectionCreate(Body):
    provider: Literal["hubspot", "salesforce"]
    name: Name = "main"
    credentials: dict[str, str] = Field(
        description="HubSpot: {access_token}; Salesforce: {session_id} or OAuth fields. Stored encrypted,"
        " never returned",
        min_length=1,
        max_length=10,
    )
    base_url: HttpUrl | None = Field(None, description="the vendor's API root (default: its public one)")
    interval_minutes: int = Field(15, ge=1, le=10_080, description="minutes between scheduled runs")


class ConnectionOut(BaseModel):
    id: UUID
    provider: str
    name: str
    base_url: str | None
    enabled: bool
    interval_minutes: int
    inbound_cursor: dict[str, Any]
    outbound_cursor: int
    last_run_at: datetime | None
    created_at: datetime


class RunCreate(Body):
    direction: Literal["both", "inbound", "outbound"] = "both"


class RunOut(BaseModel):
    id: UUID
    connection_id: UUID
    provider: str
    direction: str
    trigger: str
    status: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, Any]
    cursor_before: dict[str, Any]
    cursor_after: dict[str, Any]
    failures: list[dict[str, Any]] | dict[str, Any] = Field(description="INTEGRATION_SYNC_FAILED errors")
    import_run_id: UUID | None
    error: str | None


class RetryOut(BaseModel):
    id: UUID
    connection_id: UUID
    direction: str
    object: str
    record_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    updated_at: datetime
