"""Settings of the deliverers, from the environment (WEBHOOK_*, SMTP_*, CAMPAIGN_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    max_attempts: int = Field(8, alias="WEBHOOK_MAX_ATTEMPTS", ge=1, le=30)
    """Attempts of one delivery (a webhook or an e-mail) before it is dead-lettered."""
    retry_base_s: float = Field(30.0, alias="WEBHOOK_RETRY_BASE_S", ge=0)
    """First retry delay; each next one doubles (jittered to 50-100%): 8 attempts span ~1 h."""
    retry_cap_s: float = Field(3600.0, alias="WEBHOOK_RETRY_CAP_S", ge=0)
    timeout_s: float = Field(10.0, alias="WEBHOOK_TIMEOUT_S", gt=0)
    batch: int = Field(500, alias="WEBHOOK_BATCH", ge=1, le=5000)
    """Deliveries claimed per round; their outcomes are written in one transaction."""
    concurrency: int = Field(32, alias="WEBHOOK_CONCURRENCY", ge=1, le=512)
    """Requests in flight at once (one connection pool shared by every receiver)."""
    plan_batch: int = Field(5000, alias="WEBHOOK_PLAN_BATCH", ge=1, le=100_000)
    """Outbox rows read per subscription and pass when planning deliveries."""
    lease_s: float = Field(120.0, alias="WEBHOOK_LEASE_S", gt=0)
    """A claimed delivery is retried after this long if its worker died mid-send."""
    smtp_host: str = Field("127.0.0.1", alias="SMTP_HOST")
    smtp_port: int = Field(25, alias="SMTP_PORT")
    mail_from: str = Field("campaigns@crm.localhost", alias="CAMPAIGN_MAIL_FROM")
    trigger_max_age_days: int = Field(7, alias="CAMPAIGN_TRIGGER_MAX_AGE_DAYS", ge=1)
    """Triggers older than this when first seen are not sent (a new deployment does not mail
    a campaign's whole history)."""


def get_webhook_settings() -> WebhookSettings:
    return WebhookSettings()
