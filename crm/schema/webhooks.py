"""Webhooks out (per-tenant subscriptions and their deliveries) and in (received, verified requests); campaign deliveries.

Secrets are stored only as AES-GCM ciphertext under the tenant's data key (`integrations.webhooks.crypto`, over `crm.keys`). The event
source is `crm.outbox`: each consumer (a subscription, the campaign sender) keeps a cursor
on its id in `webhook_cursors` (migration 1601 explains why it is safe).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from crm.schema.base import (
    CRM,
    bigserial_pk,
    created_at,
    fk,
    metadata,
    tenant_fk,
    updated_at,
    uuid_pk,
    version,
)

DELIVERY_STATUSES = ("pending", "delivered", "dead")
"""A delivery waits (first try or a retry), arrived (2xx), or gave up after its attempts."""

CAMPAIGN_DELIVERY_STATUSES = ("pending", "sent", "dead", "skipped")
CHANNELS = ("email", "webhook")


def _ts(name: str) -> Column:
    return Column(name, DateTime(timezone=True), nullable=True)


webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    uuid_pk(),
    tenant_fk(),
    Column("url", Text, nullable=False),
    Column("event_types", ARRAY(Text), nullable=False),  # exact types or `crm.deal.*` / `*`
    Column("description", Text),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("secret_enc", Text, nullable=False),
    # rotation: the replaced secret keeps signing next to the new one until it expires
    Column("previous_secret_enc", Text),
    _ts("previous_secret_expires_at"),
    created_at(),
    updated_at(),
    version(),
    Index(None, "tenant_id"),
    schema=CRM,
)

webhook_cursors = Table(
    "webhook_cursors",
    metadata,
    # how far a consumer of crm.outbox has read: every row with id <= settled_id is planned;
    # rows up to pending_id become settled once every transaction older than pending_xmax ended
    tenant_fk(),
    Column("consumer", Text, nullable=False),  # a subscription id, or "campaigns"
    Column("settled_id", BigInteger, nullable=False),
    Column("pending_id", BigInteger),
    Column("pending_xmax", BigInteger),
    updated_at(),
    PrimaryKeyConstraint("tenant_id", "consumer"),
    schema=CRM,
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    uuid_pk(),
    tenant_fk(),
    fk("subscription_id", "webhook_subscriptions.id", nullable=False, ondelete="CASCADE"),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False),  # the event envelope, the request body
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    _ts("delivered_at"),
    _ts("dead_at"),
    Column("replays", Integer, nullable=False, server_default=text("0")),
    created_at(),
    CheckConstraint(f"status IN {DELIVERY_STATUSES!r}", name="status"),
    UniqueConstraint("subscription_id", "event_id"),
    Index(None, "tenant_id", "created_at"),
    Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    schema=CRM,
)

webhook_delivery_attempts = Table(
    "webhook_delivery_attempts",
    metadata,
    bigserial_pk(),
    tenant_fk(),
    Column(
        "delivery_id",
        UUID(as_uuid=True),
        ForeignKey(f"{CRM}.webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempt", Integer, nullable=False),
    created_at("attempted_at"),
    Column("status_code", Integer),
    Column("latency_ms", Integer, nullable=False),
    Column("error", Text),
    Index(None, "delivery_id"),
    schema=CRM,
)

webhook_inbound_secrets = Table(
    "webhook_inbound_secrets",
    metadata,
    tenant_fk(),
    Column("source", Text, nullable=False),  # "hubspot" or a Standard Webhooks sender's name
    Column("secret_enc", Text, nullable=False),
    created_at(),
    updated_at(),
    PrimaryKeyConstraint("tenant_id", "source"),
    schema=CRM,
)

webhooks_received = Table(
    "webhooks_received",
    metadata,
    uuid_pk(),
    tenant_fk(),
    Column("source", Text, nullable=False),
    Column("sender_id", Text, nullable=False),  # webhook-id, or HubSpot's eventId
    Column("event_type", Text),
    Column("object_type", Text),  # contact, company, deal... (HubSpot)
    Column("object_id", Text),
    Column("payload", Text, nullable=False),  # sanitised JSON, sealed (`crm.keys.received`)
    created_at("received_at"),
    _ts("processed_at"),  # set by whoever acts on it (the external sync)
    UniqueConstraint("tenant_id", "source", "sender_id"),
    Index(
        "ix_webhooks_received_unprocessed",
        "tenant_id",
        "source",
        postgresql_where=text("processed_at IS NULL"),
    ),
    schema=CRM,
)

campaign_deliveries = Table(
    "campaign_deliveries",
    metadata,
    uuid_pk(),
    tenant_fk(),
    fk("campaign_id", "marketing_campaigns.id", nullable=False, ondelete="CASCADE"),
    Column("trigger_id", UUID(as_uuid=True), nullable=False),  # the crm.campaign.triggered event
    Column("customer_id", UUID(as_uuid=True)),
    Column("recipient", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("last_error", Text),
    _ts("sent_at"),
    created_at(),
    updated_at(),
    CheckConstraint(f"status IN {CAMPAIGN_DELIVERY_STATUSES!r}", name="status"),
    CheckConstraint(f"channel IN {CHANNELS!r}", name="channel"),
    UniqueConstraint("campaign_id", "trigger_id", "recipient"),
    Index("ix_campaign_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    schema=CRM,
)

TABLES = (
    webhook_subscriptions,
    webhook_cursors,
    webhook_deliveries,
    webhook_delivery_attempts,
    webhook_inbound_secrets,
    webhooks_received,
    campaign_deliveries,
)

MUTABLE_TABLES = (webhook_subscriptions, webhook_cursors, webhook_inbound_secrets, campaign_deliveries)
"""Tables with `updated_at` kept by the `set_updated_at` trigger (migration 1601)."""

__all__ = ["MUTABLE_TABLES", "metadata", *(t.name for t in TABLES)]
