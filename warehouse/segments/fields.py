"""The columns of `analytics.dim_customers` a segment may filter on, and their kinds.

Only names listed here ever reach SQL, and only as identifiers quoted by us: a criteria tree
naming anything else is rejected before compilation. People's e-mail and names are stored
encrypted and the mart is pseudonymous, so a segment filters on the e-mail's domain, never on
an address or a name. Nothing here may come from the memberships
the recalculation writes (dim_customers does not read them): a segment filtering on segment
membership would feed its own output back into its input.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from crm.enums import CustomerStage, HealthTrend, RiskLevel

SOURCE_TABLE = "analytics.dim_customers"


class Kind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    TIMESTAMP = "timestamp"
    ENUM = "enum"
    TEXT_ARRAY = "text_array"


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    choices: tuple[str, ...] = ()
    description: str = ""


def _enum(name: str, values: type[StrEnum], description: str) -> Field:
    return Field(name, Kind.ENUM, tuple(v.value for v in values), description)


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("email_domain", Kind.TEXT, description="e-mail domain"),
        Field("company", Kind.TEXT, description="company name"),
        Field("industry", Kind.TEXT, description="industry"),
        Field("country", Kind.TEXT, description="country"),
        Field("tags", Kind.TEXT_ARRAY, description="tags"),
        _enum("lifecycle_stage", CustomerStage, "lifecycle stage"),
        _enum("health_trend", HealthTrend, "health trend over 30 days"),
        _enum("health_risk_level", RiskLevel, "health risk level (from the health score, not churn)"),
        Field("company_size", Kind.NUMBER, description="employees"),
        Field("mrr", Kind.NUMBER, description="monthly recurring revenue"),
        Field("arr", Kind.NUMBER, description="annual recurring revenue"),
        Field("total_revenue", Kind.NUMBER, description="revenue of all won deals"),
        Field("won_deals", Kind.NUMBER, description="deals won"),
        Field("open_deals", Kind.NUMBER, description="open deals"),
        Field("open_pipeline_value", Kind.NUMBER, description="value of open deals"),
        Field("tickets_total", Kind.NUMBER, description="tickets, all time"),
        Field("open_tickets", Kind.NUMBER, description="open tickets"),
        Field(
            "tickets_90d", Kind.NUMBER, description="support tickets in the last 90 days (billing excluded)"
        ),
        Field("avg_csat", Kind.NUMBER, description="mean CSAT 1-5"),
        Field("conversations_total", Kind.NUMBER, description="conversations, all time"),
        Field("logins_30d", Kind.NUMBER, description="logins in the last 30 days"),
        Field("feature_events_90d", Kind.NUMBER, description="feature uses in the last 90 days"),
        Field("active_users_90d", Kind.NUMBER, description="active end users in the last 90 days"),
        Field("days_since_last_usage", Kind.NUMBER, description="days since the last product usage"),
        Field("health_score", Kind.NUMBER, description="health score 0-100"),
        Field("became_customer_at", Kind.TIMESTAMP, description="became a customer"),
        Field("churned_at", Kind.TIMESTAMP, description="churned"),
        Field("created_at", Kind.TIMESTAMP, description="record created"),
        Field("last_won_at", Kind.TIMESTAMP, description="last deal won"),
        Field("last_ticket_at", Kind.TIMESTAMP, description="last ticket opened"),
        Field("last_conversation_at", Kind.TIMESTAMP, description="last conversation"),
    )
}
"""Whitelisted dim_customers columns, by name."""

REMOVED: dict[str, str] = {
    "email": "e-mail addresses are stored encrypted and cannot be filtered on; use email_domain",
    "full_name": "names are stored encrypted and cannot be filtered on",
}
"""Fields segments offered before people's e-mail and names were encrypted (the mart holds only
the e-mail's key and domain): a saved segment naming one is refused with the reason."""
