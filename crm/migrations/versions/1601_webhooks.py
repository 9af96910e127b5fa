"""Webhooks out (subscriptions, deliveries) and in (received requests), campaign deliveries.

Revision ID: 1601_webhooks
Revises: 1501_imports
Create Date: 2026-12-05

`crm.webhook_subscriptions` holds each tenant's endpoints (URL, event types, the signing
secret as AES-GCM ciphertext, a replaced secret during its overlap window);
`crm.webhook_deliveries` one row per (subscription, event) with its state and retry clock,
`crm.webhook_delivery_attempts` every attempt (status code, latency, error).
`crm.webhook_cursors` is how far each consumer of `crm.outbox` has planned (a subscription, or
the campaign sender). `crm.webhook_inbound_secrets` and `crm.webhooks_received` are the
receiving side: verified requests, sanitised, once per sender id. `crm.campaign_deliveries`
records each send of a triggered campaign, once per (campaign, trigger, recipient).

Row-level security as on every crm table. The API manages subscriptions and inbound secrets,
reads deliveries and asks for replays, and stores received webhooks; the deliverer runs as the
owner.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1601_webhooks"
down_revision: str | None = "1501_imports"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TENANT = "( SELECT crm.current_tenant() AS current_tenant)"
RESTRICTED = "crm_api, crm_reader"
ALL_ROWS = "crm_transform, crm_sim, crm_lander, crm_ml"
TABLES = (
    "webhook_subscriptions",
    "webhook_cursors",
    "webhook_deliveries",
    "webhook_delivery_attempts",
    "webhook_inbound_secrets",
    "webhooks_received",
    "campaign_deliveries",
)
UPDATED_AT = ("webhook_subscriptions", "webhook_cursors", "webhook_inbound_secrets", "campaign_deliveries")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["crm.tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
    )


def _now(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def _id() -> sa.Column:
    return sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False)


def _jsonb(name: str) -> sa.Column:
    return sa.Column(name, postgresql.JSONB(astext_type=sa.Text()), nullable=False)


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        _id(),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("previous_secret_enc", sa.Text(), nullable=True),
        _ts("previous_secret_expires_at"),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        _tenant_fk("webhook_subscriptions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
        schema="crm",
    )
    op.create_index(
        op.f("ix_webhook_subscriptions_tenant_id"), "webhook_subscriptions", ["tenant_id"], schema="crm"
    )
    op.create_table(
        "webhook_cursors",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("settled_id", sa.BigInteger(), nullable=False),
        sa.Column("pending_id", sa.BigInteger(), nullable=True),
        sa.Column("pending_xmax", sa.BigInteger(), nullable=True),
        _now("updated_at"),
        _tenant_fk("webhook_cursors"),
        sa.PrimaryKeyConstraint("tenant_id", "consumer", name=op.f("pk_webhook_cursors")),
        schema="crm",
    )
    op.create_table(
        "webhook_deliveries",
        _id(),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        _jsonb("payload"),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _now("next_attempt_at"),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("delivered_at"),
        _ts("dead_at"),
        sa.Column("replays", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _now("created_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')", name=op.f("ck_webhook_deliveries_status")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["crm.webhook_subscriptions.id"],
            name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        _tenant_fk("webhook_deliveries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "subscription_id", "event_id", name=op.f("uq_webhook_deliveries_subscription_id_event_id")
        ),
        schema="crm",
    )
    op.create_index(
        op.f("ix_webhook_deliveries_tenant_id_created_at"),
        "webhook_deliveries",
        ["tenant_id", "created_at"],
        schema="crm",
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        schema="crm",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "webhook_delivery_attempts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("delivery_id", sa.UUID(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        _now("attempted_at"),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["crm.webhook_deliveries.id"],
            name=op.f("fk_webhook_delivery_attempts_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        _tenant_fk("webhook_delivery_attempts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery_attempts")),
        schema="crm",
    )
    op.create_index(
        op.f("ix_webhook_delivery_attempts_delivery_id"),
        "webhook_delivery_attempts",
        ["delivery_id"],
        schema="crm",
    )
    op.create_table(
        "webhook_inbound_secrets",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        _tenant_fk("webhook_inbound_secrets"),
        sa.PrimaryKeyConstraint("tenant_id", "source", name=op.f("pk_webhook_inbound_secrets")),
        schema="crm",
    )
    op.create_table(
        "webhooks_received",
        _id(),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sender_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=True),
        sa.Column("object_type", sa.Text(), nullable=True),
        sa.Column("object_id", sa.Text(), nullable=True),
        _jsonb("payload"),
        _now("received_at"),
        _ts("processed_at"),
        _tenant_fk("webhooks_received"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks_received")),
        sa.UniqueConstraint(
            "tenant_id", "source", "sender_id", name=op.f("uq_webhooks_received_tenant_id_source_sender_id")
        ),
        schema="crm",
    )
    op.create_index(
        "ix_webhooks_received_unprocessed",
        "webhooks_received",
        ["tenant_id", "source"],
        schema="crm",
        postgresql_where=sa.text("processed_at IS NULL"),
    )
    op.create_table(
        "campaign_deliveries",
        _id(),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("trigger_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _now("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("sent_at"),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'dead', 'skipped')", name=op.f("ck_campaign_deliveries_status")
        ),
        sa.CheckConstraint("channel IN ('email', 'webhook')", name=op.f("ck_campaign_deliveries_channel")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["crm.marketing_campaigns.id"],
            name=op.f("fk_campaign_deliveries_campaign_id_marketing_campaigns"),
            ondelete="CASCADE",
        ),
        _tenant_fk("campaign_deliveries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_deliveries")),
        sa.UniqueConstraint(
            "campaign_id",
            "trigger_id",
            "recipient",
            name=op.f("uq_campaign_deliveries_campaign_id_trigger_id_recipient"),
        ),
        schema="crm",
    )
    op.create_index(
        "ix_campaign_deliveries_due",
        "campaign_deliveries",
        ["next_attempt_at"],
        schema="crm",
        postgresql_where=sa.text("status = 'pending'"),
    )
    for table in TABLES:
        op.execute(f"ALTER TABLE crm.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON crm.{table} TO {RESTRICTED} "
            f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
        )
        op.execute(f"CREATE POLICY all_rows ON crm.{table} TO {ALL_ROWS} USING (true) WITH CHECK (true)")
    for table in UPDATED_AT:
        op.execute(
            f"CREATE TRIGGER set_updated_at BEFORE UPDATE ON crm.{table} "
            "FOR EACH ROW EXECUTE FUNCTION crm.set_updated_at()"
        )
    # the deliverer and the campaign sender (the owner) write these; the API reads them
    for table in ("webhook_delivery_attempts", "campaign_deliveries"):
        op.execute(f"REVOKE INSERT, UPDATE, DELETE ON crm.{table} FROM crm_api")
    # the API asks for replays (UPDATE) but never creates or removes deliveries
    op.execute("REVOKE INSERT, DELETE ON crm.webhook_deliveries FROM crm_api")
    # received webhooks are appended by the API, acted on by the owner
    op.execute("REVOKE UPDATE, DELETE ON crm.webhooks_received FROM crm_api")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table, schema="crm")
