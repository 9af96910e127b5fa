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
    expires_at: datetime | None = Field(description="none: until revoked")
    replaced_by: UUID | None = Field(description="the key that replaced this one (rotation)")


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the key itself, shown this once: store it now")


class ApiKeyRotated(ApiKeyCreated):
    replaces: ApiKeyOut = Field(description="the old key, now expiring at the end of the overlap")
