"""Merge point of the API's and the ML branch's revisions (no schema change).

Revision ID: 0102_api_merge_ml
Revises: 0101_api_rls, 0201_ml_tables
Create Date: 2026-11-23

0101_api_rls (issue 7) and 0201_ml_tables (issue 5) both follow 0003_sim_truth; this revision
joins them so that `upgrade head` has one head again.
"""

from __future__ import annotations

revision: str = "0102_api_merge_ml"
down_revision: tuple[str, ...] = ("0101_api_rls", "0201_ml_tables")
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
