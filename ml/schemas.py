"""Input schemas of the models: which columns a feature frame carries and what they mean.

Feature frames are Polars DataFrames, one row per entity, as the warehouse's ML marts
(`analytics.ml_features__leads`, `analytics.ml_features__customers[_current]`) deliver them:
the marts emit these names and no outcome or leak column, so a frame is its mart as it is
(`ml.marts`). Columns not listed here are used too when numeric (as numbers) or text (as
categories), unless they are ids, labels, snapshot bookkeeping or known leaks
(`NEVER_FEATURES`: the one list of what is never an input). Labels use the names below, in
manager language for the explanations.
"""

from __future__ import annotations

import re

LEAD_KEYS = ("tenant_id", "lead_id", "created_at")
LEAD_LABEL = "converted_90d"
"""1 when the lead converted within 90 days of creation, 0 when not (and at least 90 days old),
null when younger than 90 days and still open."""

LEAD_FEATURES: dict[str, tuple[str, str]] = {
    # column: (LeadScoringContext group, manager label)
    "job_title": ("demographic", "Job title"),
    "industry": ("demographic", "Industry"),
    "country": ("demographic", "Country"),
    "lead_source": ("demographic", "Lead source"),
    "email_opens": ("behavioral", "E-mail opens"),
    "email_clicks": ("behavioral", "E-mail clicks"),
    "website_visits": ("behavioral", "Website visits"),
    "page_views": ("behavioral", "Pages viewed per visit"),
    "form_submissions": ("behavioral", "Forms submitted"),
    "content_downloads": ("behavioral", "Content downloads"),
    "emails_sent": ("engagement", "E-mails sent by sales"),
    "calls_made": ("engagement", "Calls made"),
    "calls_answered": ("engagement", "Calls answered"),
    "call_duration_seconds": ("engagement", "Typical call length"),
    "response_time_minutes": ("engagement", "Typical response time"),
    "meetings_scheduled": ("engagement", "Meetings scheduled"),
    "meetings_completed": ("engagement", "Meetings held"),
    "meeting_acceptance_rate": ("engagement", "Meeting show-up rate"),
    "email_replies": ("engagement", "E-mail replies"),
    "notes_added": ("engagement", "Notes logged"),
    "employee_count": ("firmographic", "Company size"),
    "annual_revenue": ("firmographic", "Company revenue"),
    "funding_stage": ("firmographic", "Funding stage"),
}

CUSTOMER_KEYS = ("tenant_id", "customer_id")
CUSTOMER_LABEL = "churned_90d"
"""1 when the customer churned within 90 days after the feature cut, else 0 (null: unknown)."""

CUSTOMER_CATEGORIES = ("usage", "support", "engagement", "financial")
"""HealthFactor categories; a customer feature column belongs to the category its name starts
with (`usage_sessions_30d` -> usage) or, failing that, the one `CUSTOMER_CATEGORY_HINTS` names."""

CUSTOMER_CATEGORY_HINTS: dict[str, str] = {
    # first match wins: billing tickets are a financial signal, not a support one
    "billing": "financial",
    "payment": "financial",
    "downgrade": "financial",
    "invoice": "financial",
    "mrr": "financial",
    "revenue": "financial",
    "won_": "financial",
    "deal": "financial",
    "pipeline": "financial",
    "usage": "usage",
    "session": "usage",
    "feature": "usage",
    "login": "usage",
    "distinct_users": "usage",
    "active_days": "usage",
    "ticket": "support",
    "csat": "support",
    "resolution": "support",
    "first_response": "support",
    "priority": "support",
    "conversation": "engagement",
    "message": "engagement",
    "reply": "engagement",
    "outreach": "engagement",
    "sentiment": "engagement",
    "web_": "engagement",
}

CHURN_DUPLICATES: dict[str, str] = {
    "logins_90d": "sessions_90d",
    "feature_events_90d": "feature_quantity_90d",
    "distinct_users_90d": "sessions_90d",
}
"""Customer columns the churn model leaves out: each nearly repeats another (kept) column, so
it would add no signal, only fill a churner's top factors with the same signal twice."""

NEVER_FEATURES = frozenset(
    {
        "tenant_id",
        "lead_id",
        "customer_id",
        "deal_id",
        "created_at",
        "updated_at",
        "as_of",
        "snapshot_at",
        "is_active_at_snapshot",
        "converted_90d",
        "churned_90d",
        "converted",
        "converted_at",
        "churned",
        "churned_at",
        "status",
        "lifecycle_stage",
        "stage",
        "score",
        "email",
        "first_name",
        "last_name",
        "phone",
        "email_key",
        "email_domain",
        "lead_label",
        "customer_label",
        "company",
        "name",
        "assigned_user_id",
        "proposals_sent",
        "contracts_sent",
        "days_since_last_activity",
        "last_activity_at",
        "custom_properties",
    }
)
"""Ids, labels, snapshot bookkeeping (the customer marts' `snapshot_at`, and
`is_active_at_snapshot`: the rows the churn model trains on and scores), outcome-driven fields
(status, proposal/contract counts follow the outcome), personal data and what stands for a person
(the e-mail's blind index and domain, the marts' display labels: one value per person or company,
no signal), and the raw JSON of custom properties (its keys become inputs of their own:
`ml.custom`): never model inputs."""


def humanize(column: str) -> str:
    """`usage_sessions_30d` -> `Usage sessions (30d)`: a readable default label."""
    text = re.sub(r"_(\d+)d$", r" (\1d)", column)
    text = text.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def lead_label(column: str) -> str:
    return LEAD_FEATURES.get(column, ("", humanize(column)))[1]


def customer_category(column: str) -> str:
    """The HealthFactor category of a customer feature column."""
    for cat in CUSTOMER_CATEGORIES:
        if column.startswith(cat + "_"):
            return cat
    for hint, cat in CUSTOMER_CATEGORY_HINTS.items():
        if hint in column:
            return cat
    return "engagement"
