from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from api.schemas.common import (
    Body,
    Email,
    JsonObject,
    Name,
    Percent,
    Phone,
    Row,
    Tags,
    Text,
    Version,
    VersionedRow,
)
from crm.enums import LeadActivityType, LeadStatus


class LeadCreate(Body):
    email: Email
    first_name: Name | None = None
    last_name: Name | None = None
    company: Name | None = None
    phone: Phone | None = None
    source: Name = Field(description="website, referral, campaign, ...")
    status: LeadStatus = LeadStatus.NEW
    assigned_user_id: UUID | None = None
    tags: Tags = Field(default_factory=list)
    custom_fields: JsonObject = Field(default_factory=dict)


class LeadUpdate(Body):
    email: Email | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    company: Name | None = None
    phone: Phone | None = None
    source: Name | None = None
    status: LeadStatus | None = Field(None, description="CONVERTED only through /convert")
    score: Percent | None = None
    tags: Tags | None = None
    custom_fields: JsonObject | None = None
    version: Version | None = None


class LeadAssign(Body):
    user_id: UUID | None = Field(description="the new owner; null unassigns")
    version: Version | None = None


class LeadActivityCreate(Body):
    type: LeadActivityType
    description: Text
    metadata: JsonObject = Field(default_factory=dict)


class LeadConvert(Body):
    customer_id: UUID | None = Field(None, description="link this customer; else found by e-mail or created")
    version: Version | None = None


class LeadOut(VersionedRow):
    email: str
    status: LeadStatus
    score: int
    score_explanation: dict[str, Any] | None = None


class LeadActivityOut(Row):
    lead_id: UUID
    type: LeadActivityType
    description: str
    created_at: datetime


class ConvertOut(Body):
    lead: LeadOut
    customer: dict[str, Any]
    customer_created: bool
