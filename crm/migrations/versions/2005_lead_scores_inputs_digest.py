"""ml.lead_scores keeps a digest of the feature row each score was computed from.

Revision ID: 2005_lead_scores_inputs_digest
Revises: 2004_tenant_data_keys
Create Date: 2026-12-06

An on-demand lead score (GET /leads/{id}/score) whose feature row has the stored score's digest,
under the model version that would answer now, is that stored score: the API answers with it
instead of computing it again (about 20-30 ms of CPU per lead). NULL for scores written before
this column: they are computed on demand as before.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "2005_lead_scores_inputs_digest"
down_revision: str | None = "2004_tenant_data_keys"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.add_column("lead_scores", sa.Column("inputs_digest", sa.BigInteger(), nullable=True), schema="ml")


def downgrade() -> None:
    op.drop_column("lead_scores", "inputs_digest", schema="ml")
