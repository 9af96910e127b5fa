"""Staff e-mails and names are stored encrypted; sign-in finds an e-mail by a deployment-wide index.

Revision ID: 2011_staff_sealed_signin_index
Revises: 2010_lander_seals_requesters
Create Date: 2026-12-10

`crm.users.email` and `full_name` now hold values sealed under the user's tenant data key
(`crm.keys.staff`). Sign-in must find an e-mail before its tenant is known (the dashboards ask
for an e-mail alone), so the index beside it cannot be a tenant's: `email_bidx` is an HMAC under
a key of the deployment's, kept in `crm.deployment_keys` (kind `signin-index`, versioned, random,
stored only wrapped by the master key as tenant keys are). A user's e-mail is unique per tenant
by that index (sealed text differs on every write, so the constraint on `(tenant_id, email)`
held nothing); an index on `email_bidx` alone serves the sign-in across tenants.

`crm.signin_challenge` and `crm.signin_verify` take the index values of the e-mail typed (one
per stored key version) and the e-mail itself, which matches only rows written before
encryption (no index yet; `crm keys rotate` seals them) and seeds the made-up salt of an unknown
account, as before. `signin_verify` returns the sealed e-mail and name: the caller opens them
under the tenant it now knows. Neither returns a hash.

Privileges: `crm_api` and `crm_reader` read the `signin-index` keys (SELECT on the columns a
keyring reads, row-level security limiting them to that kind), to compute the lookup; neither
adds, changes or removes one (the first key is made by the owner's writers: the seed, the demo,
rotation). No other role has any privilege on the table. `crm_reader` also gets SELECT on
`crm.users (id, tenant_id, full_name)`: the dashboards open an owner's name through their
guarded, recorded path; row-level security (0101) admits the signed tenant's users only.

Downgrade restores the plaintext functions and constraint and drops the index and keys; it
refuses while any user's e-mail or name is sealed (open them first).

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "2011_staff_sealed_signin_index"
down_revision: str | None = "2010_lander_seals_requesters"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

NO_ACCESS = "crm_api, crm_reader, crm_sim, crm_transform, crm_lander, crm_ml"
KEY_COLUMNS = "kind, version, wrapped_key, master_key_id"
READER_USER_COLUMNS = "id, tenant_id, full_name"

MATCH = (
    "(u.email_bidx = ANY(p_email_bidx)"
    " OR (u.email_bidx IS NULL AND u.email NOT LIKE 'v2:%' AND lower(u.email) = lower(p_email)))"
)

SIGNIN_CHALLENGE = f"""
CREATE FUNCTION crm.signin_challenge(p_email_bidx text[], p_email text, p_tenant_slug text DEFAULT NULL)
RETURNS TABLE (settings text, hash_len int)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
-- The argon2 parameters and salt of each active account with this e-mail (by its sign-in index,
-- or by its text where written before encryption; of this tenant when given), never the hash;
-- one made-up but stable row when there is none, so the caller does the same work and learns nothing.
BEGIN
  RETURN QUERY
    SELECT substring(u.password_hash FROM '^(\\$argon2id\\$v=[0-9]+\\$[^$]+\\$[^$]+)\\$'),
           (length(split_part(u.password_hash, '$', 6)) * 3) / 4
    FROM crm.users u JOIN crm.tenants t ON t.id = u.tenant_id
    WHERE {MATCH} AND (p_tenant_slug IS NULL OR t.slug = p_tenant_slug)
      AND u.is_active AND t.is_active AND u.password_hash LIKE '$argon2id$%'
    ORDER BY t.slug
    LIMIT 10;
  IF NOT FOUND THEN
    RETURN QUERY
      SELECT coalesce(
               (SELECT substring(u.password_hash FROM '^(\\$argon2id\\$v=[0-9]+\\$[^$]+\\$)')
                FROM crm.users u WHERE u.password_hash LIKE '$argon2id$%' ORDER BY u.created_at DESC LIMIT 1),
               '$argon2id$v=19$m=65536,t=3,p=4$')
             || rtrim(encode(substring(sha256(k.key || convert_to(lower(p_email) || ':' || coalesce(p_tenant_slug, ''), 'UTF8')) FROM 1 FOR 16), 'base64'), '='),
             32
      FROM crm_secret.signin_salt_key k;
  END IF;
END $$
"""

SIGNIN_VERIFY = f"""
CREATE FUNCTION crm.signin_verify(
    p_email_bidx text[], p_email text, p_hashes text[], p_tenant_slug text DEFAULT NULL)
RETURNS TABLE (user_id uuid, tenant_id uuid, tenant_slug text, tenant_name text, email text,
               full_name text, role text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  -- e-mail and name as stored (sealed under the tenant's data key): the caller opens them
  SELECT u.id, u.tenant_id, t.slug, t.name, u.email, u.full_name, u.role::text
  FROM crm.users u JOIN crm.tenants t ON t.id = u.tenant_id
  WHERE {MATCH} AND (p_tenant_slug IS NULL OR t.slug = p_tenant_slug)
    AND u.is_active AND t.is_active AND u.password_hash = ANY(p_hashes)
  ORDER BY t.slug
$$
"""

OLD_SIGNIN_CHALLENGE = """
CREATE FUNCTION crm.signin_challenge(p_email text, p_tenant_slug text DEFAULT NULL)
RETURNS TABLE (settings text, hash_len int)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  RETURN QUERY
    SELECT substring(u.password_hash FROM '^(\\$argon2id\\$v=[0-9]+\\$[^$]+\\$[^$]+)\\$'),
           (length(split_part(u.password_hash, '$', 6)) * 3) / 4
    FROM crm.users u JOIN crm.tenants t ON t.id = u.tenant_id
    WHERE lower(u.email) = lower(p_email) AND (p_tenant_slug IS NULL OR t.slug = p_tenant_slug)
      AND u.is_active AND t.is_active AND u.password_hash LIKE '$argon2id$%'
    ORDER BY t.slug
    LIMIT 10;
  IF NOT FOUND THEN
    RETURN QUERY
      SELECT coalesce(
               (SELECT substring(u.password_hash FROM '^(\\$argon2id\\$v=[0-9]+\\$[^$]+\\$)')
                FROM crm.users u WHERE u.password_hash LIKE '$argon2id$%' ORDER BY u.created_at DESC LIMIT 1),
               '$argon2id$v=19$m=65536,t=3,p=4$')
             || rtrim(encode(substring(sha256(k.key || convert_to(lower(p_email) || ':' || coalesce(p_tenant_slug, ''), 'UTF8')) FROM 1 FOR 16), 'base64'), '='),
             32
      FROM crm_secret.signin_salt_key k;
  END IF;
END $$
"""

OLD_SIGNIN_VERIFY = """
CREATE FUNCTION crm.signin_verify(p_email text, p_hashes text[], p_tenant_slug text DEFAULT NULL)
RETURNS TABLE (user_id uuid, tenant_id uuid, tenant_slug text, tenant_name text, email text,
               full_name text, role text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT u.id, u.tenant_id, t.slug, t.name, u.email, u.full_name, u.role::text
  FROM crm.users u JOIN crm.tenants t ON t.id = u.tenant_id
  WHERE lower(u.email) = lower(p_email) AND (p_tenant_slug IS NULL OR t.slug = p_tenant_slug)
    AND u.is_active AND t.is_active AND u.password_hash = ANY(p_hashes)
  ORDER BY t.slug
$$
"""

NEW_FUNCTIONS = (
    (SIGNIN_CHALLENGE, "signin_challenge(text[], text, text)"),
    (SIGNIN_VERIFY, "signin_verify(text[], text, text[], text)"),
)
OLD_FUNCTIONS = (
    (OLD_SIGNIN_CHALLENGE, "signin_challenge(text, text)"),
    (OLD_SIGNIN_VERIFY, "signin_verify(text, text[], text)"),
)


def _functions(drop: tuple[tuple[str, str], ...], create: tuple[tuple[str, str], ...]) -> None:
    for _, name in drop:
        op.execute(f"DROP FUNCTION crm.{name}")
    for ddl, name in create:
        op.execute(ddl)
        op.execute(f"REVOKE ALL ON FUNCTION crm.{name} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION crm.{name} TO crm_api, crm_reader")


def upgrade() -> None:
    op.create_table(
        "deployment_keys",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("master_key_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('signin-index')", name=op.f("ck_deployment_keys_kind")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_deployment_keys_version_positive")),
        sa.PrimaryKeyConstraint("kind", "version", name=op.f("pk_deployment_keys")),
        schema="crm",
    )
    op.execute("ALTER TABLE crm.deployment_keys ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY signin_index_keys ON crm.deployment_keys FOR SELECT TO crm_api, crm_reader"
        " USING (kind = 'signin-index')"
    )
    op.execute(f"REVOKE ALL ON crm.deployment_keys FROM {NO_ACCESS}")
    op.execute(f"GRANT SELECT ({KEY_COLUMNS}) ON crm.deployment_keys TO crm_api, crm_reader")

    op.execute("ALTER TABLE crm.users ADD COLUMN email_bidx text")
    op.execute("ALTER TABLE crm.users DROP CONSTRAINT uq_users_tenant_id_email")
    op.execute(
        "ALTER TABLE crm.users ADD CONSTRAINT uq_users_tenant_id_email_bidx UNIQUE (tenant_id, email_bidx)"
    )
    op.execute("CREATE INDEX ix_users_email_bidx ON crm.users (email_bidx)")
    _functions(OLD_FUNCTIONS, NEW_FUNCTIONS)
    op.execute(f"GRANT SELECT ({READER_USER_COLUMNS}) ON crm.users TO crm_reader")


def downgrade() -> None:
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM crm.users WHERE email LIKE 'v2:%' OR full_name LIKE 'v2:%') THEN"
        " RAISE EXCEPTION 'users'' e-mails or names are sealed: open them before downgrading'; END IF; END $$"
    )
    op.execute(f"REVOKE SELECT ({READER_USER_COLUMNS}) ON crm.users FROM crm_reader")
    _functions(NEW_FUNCTIONS, OLD_FUNCTIONS)
    op.execute("DROP INDEX crm.ix_users_email_bidx")
    op.execute("ALTER TABLE crm.users DROP CONSTRAINT uq_users_tenant_id_email_bidx")
    op.execute("ALTER TABLE crm.users ADD CONSTRAINT uq_users_tenant_id_email UNIQUE (tenant_id, email)")
    op.execute("ALTER TABLE crm.users DROP COLUMN email_bidx")
    op.drop_table("deployment_keys", schema="crm")
