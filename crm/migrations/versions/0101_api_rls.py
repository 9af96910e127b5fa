"""Row-level security on every crm table, and the API's database role.

Revision ID: 0101_api_rls
Revises: 0201_ml_tables
Create Date: 2026-11-23

Tenant isolation in the database (RULES.md, cross-area contract): every crm table gets RLS
keyed on the per-transaction setting `app.tenant_id`. The restricted roles (`crm_api`,
`crm_reader`) see and write only the rows of the tenant their transaction names; with the
setting unset they see nothing. The roles that legitimately work across tenants (dbt
`crm_transform`, the simulator `crm_sim`, the lander reading `tenants`) get an explicit
all-rows policy. Table owners (the migration user) bypass RLS, so the API connects as
`crm_api`, which owns nothing and becomes a LOGIN role here.

Two SECURITY DEFINER functions answer the only questions asked before a tenant is known:
which API key has this prefix, and which user signs in with this tenant slug and e-mail.

`crm_api` may append to `audit_log` but not change or delete its rows.

Roles are cluster-wide, so the downgrade leaves `crm_api` a LOGIN role (other databases on
the server may use it) and removes everything else this revision made in this database.

Chained after 0201_ml_tables so the history stays linear.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

import os

from alembic import op

revision: str = "0101_api_rls"
down_revision: str | None = "0201_ml_tables"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TENANT_TABLES = (
    "users",
    "customers",
    "leads",
    "lead_activities",
    "sales_pipelines",
    "deals",
    "deal_activities",
    "products",
    "deal_products",
    "customer_segments",
    "customer_segment_memberships",
    "marketing_campaigns",
    "audit_log",
    "outbox",
    "api_keys",
    "idempotency_keys",
)
TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"
RESTRICTED = "crm_api, crm_reader"
ALL_ROWS = "crm_transform, crm_sim, crm_lander"

API_KEY_LOOKUP = """
CREATE FUNCTION crm.api_key_by_prefix(p_prefix text)
RETURNS TABLE (id uuid, tenant_id uuid, key_hash text, scopes text[], revoked_at timestamptz,
               created_by uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, crm AS $$
  SELECT k.id, k.tenant_id, k.key_hash, k.scopes, k.revoked_at, k.created_by
  FROM crm.api_keys k JOIN crm.tenants t ON t.id = k.tenant_id
  WHERE k.key_prefix = p_prefix AND t.is_active
$$
"""

USER_LOOKUP = """
CREATE FUNCTION crm.user_for_login(p_tenant_slug text, p_email text)
RETURNS TABLE (id uuid, tenant_id uuid, role crm.user_role, password_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, crm AS $$
  SELECT u.id, u.tenant_id, u.role, u.password_hash
  FROM crm.users u JOIN crm.tenants t ON t.id = u.tenant_id
  WHERE t.slug = p_tenant_slug AND lower(u.email) = lower(p_email) AND u.is_active AND t.is_active
$$
"""

REQUIRE_ROW = """
CREATE FUNCTION crm.require_row(p_table text, p_id uuid, p_field text)
RETURNS void LANGUAGE plpgsql STABLE SECURITY INVOKER AS $$
-- Foreign keys are checked as the table owner, i.e. across tenants: the API calls this first
-- so that a reference must name a row the caller's tenant can see (RLS applies: INVOKER).
DECLARE found boolean;
BEGIN
  IF p_id IS NULL THEN RETURN; END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM crm.%I WHERE id = $1)', p_table) INTO found USING p_id;
  IF NOT found THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
      MESSAGE = format('%s %s does not exist', p_field, p_id),
      DETAIL = p_field, HINT = p_table;
  END IF;
END $$
"""


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute("ALTER ROLE crm_api LOGIN")
    password = os.environ.get("CRM_API_DB_PASSWORD")
    if password:
        op.execute(f"ALTER ROLE crm_api PASSWORD {_quote(password)}")

    op.execute("ALTER TABLE crm.tenants ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON crm.tenants TO {RESTRICTED} USING (id = {TENANT})")
    op.execute(f"CREATE POLICY all_rows ON crm.tenants TO {ALL_ROWS} USING (true) WITH CHECK (true)")
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE crm.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON crm.{table} TO {RESTRICTED} "
            f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
        )
        op.execute(f"CREATE POLICY all_rows ON crm.{table} TO {ALL_ROWS} USING (true) WITH CHECK (true)")

    # append-only for the API
    op.execute("REVOKE UPDATE, DELETE ON crm.audit_log FROM crm_api")

    for ddl, name in (
        (API_KEY_LOOKUP, "api_key_by_prefix(text)"),
        (USER_LOOKUP, "user_for_login(text, text)"),
        (REQUIRE_ROW, "require_row(text, uuid, text)"),
    ):
        op.execute(ddl)
        op.execute(f"REVOKE ALL ON FUNCTION crm.{name} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION crm.{name} TO crm_api")

    # reads of the warehouse marts (their SELECT grants come from dbt's post-hook)
    op.execute("GRANT USAGE ON SCHEMA analytics TO crm_api")


def downgrade() -> None:
    op.execute("REVOKE USAGE ON SCHEMA analytics FROM crm_api")
    for name in ("require_row(text, uuid, text)", "user_for_login(text, text)", "api_key_by_prefix(text)"):
        op.execute(f"DROP FUNCTION crm.{name}")
    op.execute("GRANT UPDATE, DELETE ON crm.audit_log TO crm_api")
    for table in ("tenants", *TENANT_TABLES):
        op.execute(f"DROP POLICY all_rows ON crm.{table}")
        op.execute(f"DROP POLICY tenant_isolation ON crm.{table}")
        op.execute(f"ALTER TABLE crm.{table} DISABLE ROW LEVEL SECURITY")
