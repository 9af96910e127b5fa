"""Dashboards: `crm_reader` becomes a LOGIN role, and sign-in goes through one function.

Revision ID: 0301_reader_login
Revises: 0101_api_rls
Create Date: 2026-11-23

The Streamlit dashboards connect as `crm_reader`, a non-owner role, so the row-level security
policies keyed on `app.tenant_id` apply to every query they run. The reader gets no access to
`crm.users`: sign-in calls `crm.reader_signin_candidates(email)`, a SECURITY DEFINER function
that returns the active users with that e-mail (one per tenant at most) and their argon2id
hash, which the app verifies with `crm.security.verify_password`. It cannot list users.

`CRM_READER_DB_PASSWORD`, when set in the migrator's environment, becomes the role's password
(production); the embedded Postgres uses trust auth on loopback.

Roles are cluster-wide: the downgrade drops the function and the grant but leaves the role's
LOGIN attribute (other databases on the same server may be using it).
"""

from __future__ import annotations

import os

from alembic import op

revision: str = "0301_reader_login"
down_revision: str | None = "0101_api_rls"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

SIGNIN_FUNCTION = """
CREATE OR REPLACE FUNCTION crm.reader_signin_candidates(p_email text)
RETURNS TABLE (
    user_id uuid, tenant_id uuid, tenant_slug text, tenant_name text,
    email text, full_name text, role text, password_hash text
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.id, u.tenant_id, t.slug, t.name, u.email, u.full_name, u.role::text, u.password_hash
    FROM crm.users u
    JOIN crm.tenants t ON t.id = u.tenant_id
    WHERE lower(u.email) = lower(p_email)
      AND u.is_active AND t.is_active
      AND u.password_hash IS NOT NULL
    ORDER BY t.slug
    LIMIT 10
$$
"""


def upgrade() -> None:
    op.execute("ALTER ROLE crm_reader LOGIN")
    password = os.environ.get("CRM_READER_DB_PASSWORD")
    if password:
        quoted = password.replace("'", "''")
        op.execute(f"ALTER ROLE crm_reader PASSWORD '{quoted}'")
    op.execute("GRANT USAGE ON SCHEMA crm TO crm_reader")
    op.execute(SIGNIN_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION crm.reader_signin_candidates(text) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION crm.reader_signin_candidates(text) TO crm_reader")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS crm.reader_signin_candidates(text)")
    op.execute("REVOKE USAGE ON SCHEMA crm FROM crm_reader")
