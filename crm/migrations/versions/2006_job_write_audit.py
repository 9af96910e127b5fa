"""The ML jobs' role may append their own `job.write` audit rows, and nothing else.

Revision ID: 2006_job_write_audit
Revises: 2005_lead_scores_inputs_digest
Create Date: 2026-12-06

Every bulk write of a job (scores, forecasts, segment memberships) records one `job.write`
row per tenant in `crm.audit_log`, in the write's transaction (`crm.audit.record_job_write`).
Jobs connect as the owner by default; a deployment running the ML jobs as `crm_ml` needs
INSERT on the log, limited by a policy to system rows of that action. `crm_ml` still cannot
read, change or delete the log (the append-only triggers of 1901 refuse the last two to
every role).

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "2006_job_write_audit"
down_revision: str | None = "2005_lead_scores_inputs_digest"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.execute("GRANT INSERT ON crm.audit_log TO crm_ml")
    op.execute("GRANT USAGE ON SEQUENCE crm.audit_log_id_seq TO crm_ml")
    op.execute(
        "CREATE POLICY job_writes ON crm.audit_log FOR INSERT TO crm_ml"
        " WITH CHECK (actor_type = 'system' AND action = 'job.write' AND actor_id IS NULL)"
    )


def downgrade() -> None:
    op.execute("DROP POLICY job_writes ON crm.audit_log")
    op.execute("REVOKE USAGE ON SEQUENCE crm.audit_log_id_seq FROM crm_ml")
    op.execute("REVOKE INSERT ON crm.audit_log FROM crm_ml")
