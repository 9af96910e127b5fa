from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from api.schemas.common import (
    Body,
    Email,
    JsonObject,
    Name,
    Phone,
    Tags,
    Text,
    Version,
    VersionedRow,
    table_row,
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


SCORED_FIELDS = ("score", "score_reason")
"""Lead fields the lead scoring writes (ml.lead_scores): never set by a client."""


class LeadUpdate(Body):
    """The fields a client may change (the score is the lead scoring's: 422 names it)."""

    @model_validator(mode="before")
    @classmethod
    def _scores_are_computed(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in SCORED_FIELDS:
                if name in data:
                    raise ValidationError.from_exception_data(
                        cls.__name__,
                        [
                            InitErrorDetails(
                                type=PydanticCustomError(
                                    "read_only",
                                    "{field} is computed by the lead scoring and cannot be set"
                                    " (GET /leads/<id>/score computes it now)",
                                    {"field": name},
                                ),
                                loc=(name,),
                                input=data[name],
                            )
                        ],
                    )
        return data

    email: Email | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    company: Name | None = None
    phone: Phone | None = None
    source: Name | None = None
    status: LeadStatus | None = Field(None, description="CONVERTED only through /convert")
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


class LeadOut(table_row("leads", VersionedRow)):  # type: ignore[misc]  # a model made from its table
    email: str
    status: LeadStatus
    score: int | None = Field(
        description=(
            "the latest ML lead score, 0-100 (ml.lead_scores, written by the lead scoring); null until "
            "the lead is scored, as on a lead just created"
        )
    )
    score_reason: str | None = Field(None, description="its strongest factor, in words (null until scored)")
    score_explanation: dict[str, Any] | None = None


class LeadActivityOut(table_row("lead_activities")):  # type: ignore[misc]  # a model made from its table
    lead_id: UUID
    type: LeadActivityType
    description: str
    created_at: datetime


class ConvertOut(Body):
    lead: LeadOut
    customer: dict[str, Any]
    customer_created: bool
