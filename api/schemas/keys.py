"""API keys as the API answers them: never the hash; the key itself once, when it is made."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


class ApiKeyOut(BaseModel):
    id: UUID
    tenant_id: UUID
    name: str
    key_prefix: str = Field(description="the part of the key after `crm_`, to recognise it")
    scopes: list[str]
    created_by: UUID | None
    created_at: datetime
    last_used_at: datetime | None = Field(description="accurate to about a minute")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the key itself, shown this once: store it now")
