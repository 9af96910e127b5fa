"""Segment criteria: the field `risk_level` becomes `health_risk_level`.

Revision ID: 1002_segment_health_risk
Revises: 1001_churn_risk_level
Create Date: 2026-12-04

The customer mart's health-score band is now `health_risk_level` (the churn model's band is
`churn_risk_level`), and the segment criteria fields follow it. Stored criteria that filter on
the old name are rewritten, so segments keep recalculating. (`segment_count` is no longer a
criteria field: a segment filtering on it fails its next recalculation, keeps its members and
is marked stale with the reason, as any invalid criteria are.)

Hand-written: do not import crm.schema here (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "1002_segment_health_risk"
down_revision: str | None = "1001_churn_risk_level"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _rename_field(old: str, new: str) -> None:
    # jsonb prints a key and its value as `"field": "<name>"`, whatever the input's spacing
    op.execute(
        f"""UPDATE crm.customer_segments
            SET criteria = replace(criteria::text, '"field": "{old}"', '"field": "{new}"')::jsonb
            WHERE criteria::text LIKE '%"field": "{old}"%'"""
    )


def upgrade() -> None:
    _rename_field("risk_level", "health_risk_level")


def downgrade() -> None:
    _rename_field("health_risk_level", "risk_level")
