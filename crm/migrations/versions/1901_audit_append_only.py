"""The audit log is append-only for every role, its owner included.

Revision ID: 1901_audit_append_only
Revises: 1801_raw_monthly_partitions
Create Date: 2026-12-06

`crm_api` already lacks UPDATE and DELETE on `crm.audit_log` (0101). Grants do not bind the
table's owner (the role migrations, jobs and the CLI connect as), so triggers do: a row-level
BEFORE UPDATE OR DELETE trigger and a statement-level BEFORE TRUNCATE trigger refuse the change
for everyone with SQLSTATE 42501 (insufficient_privilege); `crm.append_only()` is the one
guard function, for every append-only table. The one delete let through is a
tenant's own removal: `crm.tenants` rows cascade to their audit rows (ON DELETE CASCADE), and by
the time the cascade runs the tenant row is gone. Changing this takes DDL (dropping or disabling
the trigger), which a superuser or the owner can do and which the migration history shows.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "1901_audit_append_only"
down_revision: str | None = "1801_raw_monthly_partitions"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

APPEND_ONLY = """
CREATE FUNCTION crm.append_only() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM crm.tenants t WHERE t.id = OLD.tenant_id) THEN
    RETURN OLD;  -- the tenant itself was removed: its rows go with it
  END IF;
  RAISE EXCEPTION 'crm.% is append-only: % is refused for every role', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.execute(APPEND_ONLY)
    op.execute("REVOKE ALL ON FUNCTION crm.append_only() FROM PUBLIC")
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON crm.audit_log"
        " FOR EACH ROW EXECUTE FUNCTION crm.append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON crm.audit_log"
        " FOR EACH STATEMENT EXECUTE FUNCTION crm.append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_no_truncate ON crm.audit_log")
    op.execute("DROP TRIGGER audit_log_append_only ON crm.audit_log")
    op.execute("DROP FUNCTION crm.append_only()")
