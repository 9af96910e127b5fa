"""`web-events`: the attribution touchpoints (visits, page views, form submits, downloads),
with UTM parameters and the resolved campaign when the tracker knows it."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from crm.events.payloads.base import Payload
from crm.events.registry import register
from crm.events.topics import Topic
from crm.events.types import ShortStr, Url


class WebBase(Payload):
    visitor_id: ShortStr = Field(description="Anonymous tracker id (cookie); the message key.")
    session_id: ShortStr
    lead_id: UUID | None = None
    customer_id: UUID | None = None
    url: Url
    referrer: Url | None = None
    utm_source: str | None = Field(None, max_length=200)
    utm_medium: str | None = Field(None, max_length=200)
    utm_campaign: str | None = Field(None, max_length=200)
    campaign_id: UUID | None = None


class WebVisit(WebBase):
    """First hit of a session (landing page)."""


class WebPageView(WebBase):
    title: str | None = Field(None, max_length=500)


class WebFormSubmit(WebBase):
    form_id: ShortStr


class WebDownload(WebBase):
    asset_id: ShortStr


register(Topic.WEB_EVENTS, "web.visit", WebVisit)
register(Topic.WEB_EVENTS, "web.page_view", WebPageView)
register(Topic.WEB_EVENTS, "web.form_submit", WebFormSubmit)
register(Topic.WEB_EVENTS, "web.download", WebDownload)
