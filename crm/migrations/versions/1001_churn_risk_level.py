"""Churn predictions: `risk_level` becomes `churn_risk_level`.

Revision ID: 1001_churn_risk_level
Revises: 0901_segment_membership_key
Create Date: 2026-12-04

`ml.churn_predictions.risk_level` held the churn model's probability banded (`crm.bands`
CHURN_RISK_MIN_PROBABILITY), while `analytics.fct_customer_health.risk_level` holds the health
score banded: two different risks under one name. The churn column takes the name the
warehouse already gives it (`fct_customer_risk.churn_risk_level`); its check constraint and
its (tenant_id, level) index follow, under the names the naming convention gives them.
Values and rows are unchanged.

Hand-written: do not import crm.schema here (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "1001_churn_risk_level"
down_revision: str | None = "0901_segment_membership_key"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

T = "churn_predictions"


def _rename(old: str, new: str) -> None:
    op.alter_column(T, old, new_column_name=new, schema="ml")
    op.execute(f"ALTER TABLE ml.{T} RENAME CONSTRAINT ck_{T}_{old} TO ck_{T}_{new}")
    op.execute(f"ALTER INDEX ml.ix_{T}_tenant_id_{old} RENAME TO ix_{T}_tenant_id_{new}")


def upgrade() -> None:
    _rename("risk_level", "churn_risk_level")


def downgrade() -> None:
    _rename("churn_risk_level", "risk_level")
