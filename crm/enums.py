"""The seed design's enums, in one place: the schema, the event contracts, the API and the
simulator all import them from here. Values are the seed's (upper case) except roles and
lower-case labels that the seed writes in lower case (health trend and risk level)."""

from __future__ import annotations

from enum import StrEnum


class LeadStatus(StrEnum):
    NEW = "NEW"
    CONTACTED = "CONTACTED"
    QUALIFIED = "QUALIFIED"
    PROPOSAL = "PROPOSAL"
    NEGOTIATION = "NEGOTIATION"
    CONVERTED = "CONVERTED"
    LOST = "LOST"


class LeadActivityType(StrEnum):
    EMAIL_SENT = "EMAIL_SENT"
    EMAIL_OPENED = "EMAIL_OPENED"
    EMAIL_CLICKED = "EMAIL_CLICKED"
    CALL_MADE = "CALL_MADE"
    CALL_ANSWERED = "CALL_ANSWERED"
    MEETING_SCHEDULED = "MEETING_SCHEDULED"
    MEETING_COMPLETED = "MEETING_COMPLETED"
    FORM_SUBMITTED = "FORM_SUBMITTED"
    WEBSITE_VISIT = "WEBSITE_VISIT"
    DOCUMENT_VIEWED = "DOCUMENT_VIEWED"
    PROPOSAL_SENT = "PROPOSAL_SENT"
    CONTRACT_SENT = "CONTRACT_SENT"
    NOTE_ADDED = "NOTE_ADDED"


class DealActivityType(StrEnum):
    CREATED = "CREATED"
    STAGE_CHANGED = "STAGE_CHANGED"
    VALUE_UPDATED = "VALUE_UPDATED"
    PROBABILITY_CHANGED = "PROBABILITY_CHANGED"
    ASSIGNED = "ASSIGNED"
    NOTE_ADDED = "NOTE_ADDED"
    EMAIL_SENT = "EMAIL_SENT"
    CALL_MADE = "CALL_MADE"
    MEETING_SCHEDULED = "MEETING_SCHEDULED"
    PROPOSAL_SENT = "PROPOSAL_SENT"
    CONTRACT_SENT = "CONTRACT_SENT"
    WON = "WON"
    LOST = "LOST"


class CampaignType(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    SOCIAL = "SOCIAL"
    WEBINAR = "WEBINAR"
    CONTENT = "CONTENT"
    PAID_ADS = "PAID_ADS"


class CampaignStatus(StrEnum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class CustomerStage(StrEnum):
    """Customer lifecycle (the seed's `CustomerStage`, which it uses but does not list)."""

    PROSPECT = "PROSPECT"
    ONBOARDING = "ONBOARDING"
    ACTIVE = "ACTIVE"
    AT_RISK = "AT_RISK"
    CHURNED = "CHURNED"


class UserRole(StrEnum):
    """Roles carried in API tokens; sales_rep sees its own records only, analyst reads only."""

    ADMIN = "admin"
    MANAGER = "manager"
    SALES_REP = "sales_rep"
    ANALYST = "analyst"


class Channel(StrEnum):
    """Channels of the existing multi-channel ticketing system (tickets and conversations)."""

    EMAIL = "EMAIL"
    CHAT = "CHAT"
    PHONE = "PHONE"
    WEB = "WEB"
    SOCIAL = "SOCIAL"
    SMS = "SMS"
    WHATSAPP = "WHATSAPP"


class TicketStatus(StrEnum):
    OPEN = "OPEN"
    PENDING = "PENDING"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


class TicketPriority(StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


class TouchpointType(StrEnum):
    """Attribution touchpoints (the seed's TouchpointAttribution.type, plus web)."""

    WEB = "web"
    EMAIL = "email"
    CALL = "call"
    MEETING = "meeting"
    DEMO = "demo"
    PROPOSAL = "proposal"
    SUPPORT_TICKET = "support_ticket"


class HealthTrend(StrEnum):
    IMPROVING = "improving"
    STABLE = "stable"
    DECLINING = "declining"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AttributionModel(StrEnum):
    """The revenue attribution models of analytics.fct_revenue_attribution (dbt), by the names
    its rows carry."""

    FIRST_TOUCH = "first_touch"
    LAST_TOUCH = "last_touch"
    LINEAR = "linear"
    TIME_DECAY = "time_decay"
    U_SHAPED = "u_shaped"
    W_SHAPED = "w_shaped"
