"""The lander seals a ticket requester's contact under the tenant's data key.

Revision ID: 2010_lander_seals_requesters
Revises: 2009_reader_opens_people
Create Date: 2026-12-09

A v2 ticket event names its requester (e-mail, phone, name); the lander stores those values
sealed (deterministically, so a redelivered event lands as the same text) under the tenant's
data key, and so reads, and for a tenant without one yet adds, its data key. For that, and for
nothing more, `crm_lander` gets SELECT and INSERT on `crm.tenant_data_keys`, limited by row-level
security to the `data` keys of the tenant its keyring's transaction is signed for (the keyring
signs each as the API's does). No index keys (the lander computes no blind index), no UPDATE or
DELETE (rotation runs as the owner). A wrapped key opens nothing without the master key, which
the lander's process must hold.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "2010_lander_seals_requesters"
down_revision: str | None = "2009_reader_opens_people"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TENANT = "( SELECT crm.current_tenant() AS current_tenant)"
OWN_DATA_KEYS = f"tenant_id = {TENANT} AND kind = 'data'"


def upgrade() -> None:
    op.execute(
        f"CREATE POLICY lander_data_keys ON crm.tenant_data_keys TO crm_lander "
        f"USING ({OWN_DATA_KEYS}) WITH CHECK ({OWN_DATA_KEYS})"
    )
    op.execute("GRANT SELECT, INSERT ON crm.tenant_data_keys TO crm_lander")


def downgrade() -> None:
    op.execute("REVOKE SELECT, INSERT ON crm.tenant_data_keys FROM crm_lander")
    op.execute("DROP POLICY lander_data_keys ON crm.tenant_data_keys")
