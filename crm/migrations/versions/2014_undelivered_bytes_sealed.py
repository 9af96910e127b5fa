"""The original bytes of dead letters and parked events are stored encrypted.

Revision ID: 2014_undelivered_bytes_sealed
Revises: 2012_webhooks_received_sealed
Create Date: 2026-12-11

`raw.dead_letters.raw_bytes` and `raw.parked_events.raw_bytes` held what a sender sent, people's
values and free text included, in plaintext. They are now sealed under the deployment's `data`
key (`crm.keys.undelivered`: a dead letter's tenant may be unknown, a parked event's does not
exist yet), with the key id in a new `raw_key_id` column; a row without one holds bytes stored
before, read as they are.

Privileges: `crm_lander`, their only writer, reads the deployment's `data` keys and may add one
(its first version, on first use), limited by row-level security to that kind: never the
sign-in index keys, no UPDATE or DELETE. The other restricted roles still have no privilege on
`crm.deployment_keys` but what 2011 granted.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "2014_undelivered_bytes_sealed"
down_revision: str | None = "2012_webhooks_received_sealed"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

KEY_COLUMNS = "kind, version, wrapped_key, master_key_id"
TABLES = ("dead_letters", "parked_events")


def _kinds(kinds: str) -> None:
    op.execute("ALTER TABLE crm.deployment_keys DROP CONSTRAINT ck_deployment_keys_kind")
    op.execute(
        f"ALTER TABLE crm.deployment_keys ADD CONSTRAINT ck_deployment_keys_kind CHECK (kind IN ({kinds}))"
    )


def upgrade() -> None:
    _kinds("'signin-index', 'data'")
    op.execute(
        "CREATE POLICY lander_deployment_data_keys ON crm.deployment_keys TO crm_lander"
        " USING (kind = 'data') WITH CHECK (kind = 'data')"
    )
    op.execute(f"GRANT SELECT ({KEY_COLUMNS}), INSERT ({KEY_COLUMNS}) ON crm.deployment_keys TO crm_lander")
    for table in TABLES:
        op.execute(f"ALTER TABLE raw.{table} ADD COLUMN raw_key_id text")


def downgrade() -> None:
    for table in TABLES:
        op.execute(
            f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM raw.{table} WHERE raw_key_id IS NOT NULL) THEN"
            f" RAISE EXCEPTION 'raw.{table} holds sealed bytes: open them before downgrading'; END IF; END $$"
        )
        op.execute(f"ALTER TABLE raw.{table} DROP COLUMN raw_key_id")
    op.execute(
        f"REVOKE SELECT ({KEY_COLUMNS}), INSERT ({KEY_COLUMNS}) ON crm.deployment_keys FROM crm_lander"
    )
    op.execute("DROP POLICY lander_deployment_data_keys ON crm.deployment_keys")
    op.execute("DELETE FROM crm.deployment_keys WHERE kind = 'data'")
    _kinds("'signin-index'")
