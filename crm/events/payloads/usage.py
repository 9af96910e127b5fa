"""`usage-events`: product usage by customers, the behavioural input of customer health."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field

from crm.events.payloads.base import Payload
from crm.events.registry import register
from crm.events.topics import Topic
from crm.events.types import NonNegFloat, ShortStr


class UsageBase(Payload):
    customer_id: UUID
    user_ref: ShortStr = Field(description="The customer's end user (opaque id from the product).")
    session_id: ShortStr | None = None


class UsageLogin(UsageBase):
    pass


class UsageFeatureUsed(UsageBase):
    feature: ShortStr
    quantity: Annotated[int, Field(ge=1)] = 1


class UsageSessionEnded(UsageBase):
    duration_seconds: NonNegFloat


register(Topic.USAGE_EVENTS, "usage.login", UsageLogin)
register(Topic.USAGE_EVENTS, "usage.feature_used", UsageFeatureUsed)
register(Topic.USAGE_EVENTS, "usage.session_ended", UsageSessionEnded)
