"""Dashboards: an index on `ml.churn_predictions` for the churn-risk list.

Revision ID: 0801_dashboard_ml_indexes
Revises: 0401_raw_primary_key_only
Create Date: 2026-11-24

The Customers page lists a tenant's customers by churn probability, highest first, 100 at a
time. With only (tenant_id, risk_level) indexed, Postgres reads every prediction of the tenant
(wide rows: factors as JSON) and sorts them: about 450 ms for the largest tenant at scale L
(75k customers). (tenant_id, churn_probability desc, customer_id) is the list's order: it reads
the first 100 entries. No column changes: the ML jobs write the table as before.
"""

from __future__ import annotations

from alembic import op

revision: str = "0801_dashboard_ml_indexes"
down_revision: str | None = "0401_raw_primary_key_only"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_churn_predictions_tenant_id_probability "
        "ON ml.churn_predictions (tenant_id, churn_probability DESC, customer_id)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ml.ix_churn_predictions_tenant_id_probability")
