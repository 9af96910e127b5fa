"""The dashboards open the names and e-mails of the people a page shows, in their tenant only.

Revision ID: 2009_reader_opens_people
Revises: 2008_personal_columns_sealed
Create Date: 2026-12-07

The marts are pseudonymous (an e-mail's blind index and domain, never a person's e-mail or
name): dbt cannot decrypt, and the sealed values mean nothing to it. A page that must name a
person (a lead's page, the leads a rep works, a customer's contact) reads the sealed values
from the operational store and opens them under the tenant's data key, recording each read in
`crm.access_log` (`app/data/people.py`). For that, and for nothing more, `crm_reader` gets:

- SELECT on the columns of `crm.leads` and `crm.customers` that identify a row and hold the
  sealed e-mail and names (`id`, `tenant_id`, `email`, `first_name`, `last_name`): column
  privileges, not the table, so the rest of the operational rows stay the marts' to show. The
  tables' row-level security (0101, keyed on the signed tenant since 1401) already admits the
  reader to its tenant's rows only.
- SELECT on the columns of `crm.tenant_data_keys` a keyring reads (`tenant_id`, `kind`,
  `version`, `wrapped_key`, `master_key_id`), limited by row-level security to the `data`
  keys of the tenant its transaction is signed for (the index keys make blind indexes, which
  the dashboards never compute). A wrapped key opens nothing without the master key, which the
  dashboards' process must hold, as the API's does. No INSERT: the reader never makes a key.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "2009_reader_opens_people"
down_revision: str | None = "2008_personal_columns_sealed"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TENANT = "( SELECT crm.current_tenant() AS current_tenant)"
PEOPLE = ("leads", "customers")
COLUMNS = "id, tenant_id, email, first_name, last_name"
KEY_COLUMNS = "tenant_id, kind, version, wrapped_key, master_key_id"


def upgrade() -> None:
    for table in PEOPLE:
        op.execute(f"GRANT SELECT ({COLUMNS}) ON crm.{table} TO crm_reader")
    op.execute(
        f"CREATE POLICY reader_data_keys ON crm.tenant_data_keys FOR SELECT TO crm_reader "
        f"USING (tenant_id = {TENANT} AND kind = 'data')"
    )
    op.execute(f"GRANT SELECT ({KEY_COLUMNS}) ON crm.tenant_data_keys TO crm_reader")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ({KEY_COLUMNS}) ON crm.tenant_data_keys FROM crm_reader")
    op.execute("DROP POLICY reader_data_keys ON crm.tenant_data_keys")
    for table in PEOPLE:
        op.execute(f"REVOKE SELECT ({COLUMNS}) ON crm.{table} FROM crm_reader")
