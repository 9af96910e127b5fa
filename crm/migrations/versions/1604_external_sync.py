"""External CRM sync: connections (encrypted credentials), cursors, runs, the retry queue.

Revision ID: 1604_external_sync
Revises: 1603_conversations
Create Date: 2026-12-05

`crm.sync_connections` holds a tenant's link to a HubSpot or Salesforce account: credentials as
AES-GCM ciphertext only, the inbound cursor (vendor modification time per object) and the
outbound one (an id of `crm.audit_log`). `crm.sync_runs` is the log of runs (counts, cursors
before and after, failures); `crm.sync_retry_queue` the records that failed, with attempts and
the next attempt's time; `crm.sync_pushes` the vendor's modification time of each push, so the
next inbound read knows its own echo.

Row-level security as on every crm table. The API creates connections and queues runs for its
tenant; the sync itself runs as the owner.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1604_external_sync"
down_revision: str | None = "1603_conversations"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TENANT = "( SELECT crm.current_tenant() AS current_tenant)"
RESTRICTED = "crm_api, crm_reader"
ALL_ROWS = "crm_transform, crm_sim, crm_lander, crm_ml"
TABLES = ("sync_connections", "sync_runs", "sync_retry_queue", "sync_pushes")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["crm.tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
    )


def _connection_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["connection_id"],
        ["crm.sync_connections.id"],
        name=op.f(f"fk_{table}_connection_id_sync_connections"),
        ondelete="CASCADE",
    )


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)


def _opt_ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def _json(name: str) -> sa.Column:
    return sa.Column(
        name, postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
    )


def _id() -> sa.Column:
    return sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "sync_connections",
        _id(),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=True),
        sa.Column("credentials_enc", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        _json("settings"),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), server_default=sa.text("15"), nullable=False),
        _json("inbound_cursor"),
        sa.Column("outbound_cursor", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        _opt_ts("last_run_at"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint(
            "provider IN ('hubspot', 'salesforce')", name=op.f("ck_sync_connections_provider")
        ),
        _tenant_fk("sync_connections"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_connections")),
        sa.UniqueConstraint(
            "tenant_id", "provider", "name", name=op.f("uq_sync_connections_tenant_id_provider_name")
        ),
        schema="crm",
    )
    op.create_table(
        "sync_runs",
        _id(),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("connection_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), server_default=sa.text("'both'"), nullable=False),
        sa.Column("trigger", sa.Text(), server_default=sa.text("'manual'"), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'queued'"), nullable=False),
        _ts("requested_at"),
        _opt_ts("started_at"),
        _opt_ts("finished_at"),
        _json("counts"),
        _json("cursor_before"),
        _json("cursor_after"),
        _json("failures"),
        sa.Column("import_run_id", sa.UUID(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed')", name=op.f("ck_sync_runs_status")
        ),
        sa.CheckConstraint(
            "direction IN ('both', 'inbound', 'outbound')", name=op.f("ck_sync_runs_direction")
        ),
        _tenant_fk("sync_runs"),
        _connection_fk("sync_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
        schema="crm",
    )
    op.create_index(
        op.f("ix_sync_runs_tenant_id_requested_at"), "sync_runs", ["tenant_id", "requested_at"], schema="crm"
    )
    op.create_index(
        "ix_sync_runs_queued",
        "sync_runs",
        ["requested_at"],
        schema="crm",
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_table(
        "sync_retry_queue",
        _id(),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("connection_id", sa.UUID(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("object", sa.Text(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _ts("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_run_id", sa.UUID(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint("status IN ('pending', 'done', 'dead')", name=op.f("ck_sync_retry_queue_status")),
        _tenant_fk("sync_retry_queue"),
        _connection_fk("sync_retry_queue"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_retry_queue")),
        sa.UniqueConstraint(
            "connection_id",
            "direction",
            "object",
            "record_id",
            name=op.f("uq_sync_retry_queue_connection_id_direction_object_record_id"),
        ),
        schema="crm",
    )
    op.create_index(
        "ix_sync_retry_queue_due",
        "sync_retry_queue",
        ["connection_id", "next_attempt_at"],
        schema="crm",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "sync_pushes",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("connection_id", sa.UUID(), nullable=False),
        sa.Column("object", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("vendor_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audit_id", sa.BigInteger(), nullable=False),
        _tenant_fk("sync_pushes"),
        _connection_fk("sync_pushes"),
        sa.PrimaryKeyConstraint("connection_id", "object", "external_id", name=op.f("pk_sync_pushes")),
        schema="crm",
    )
    for table in TABLES:
        op.execute(f"ALTER TABLE crm.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON crm.{table} TO {RESTRICTED} "
            f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
        )
        op.execute(f"CREATE POLICY all_rows ON crm.{table} TO {ALL_ROWS} USING (true) WITH CHECK (true)")
    # the API creates connections and queues runs; runs, the queue and pushes are the sync's
    op.execute("REVOKE DELETE ON crm.sync_connections FROM crm_api")
    op.execute("REVOKE UPDATE, DELETE ON crm.sync_runs FROM crm_api")
    for table in ("sync_retry_queue", "sync_pushes"):
        op.execute(f"REVOKE INSERT, UPDATE, DELETE ON crm.{table} FROM crm_api")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table, schema="crm")
