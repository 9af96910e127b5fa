"""Hardening: a signed tenant context, sign-in without hashes, dead letters, scoped idempotency
keys, expiring and rotating API keys, credential-change announcements.

Revision ID: 1401_api_hardening
Revises: 1301_lead_rescore_requests
Create Date: 2026-12-05

**Signed tenant context.** Row-level security keyed on `app.tenant_id` alone trusted whoever
set it: a session of `crm_api` or `crm_reader` could `set_config('app.tenant_id', <another
tenant>)` and read that tenant's rows. Every policy (and every view filtering on the setting)
now compares with `(SELECT crm.current_tenant())`, which returns the tenant only when
`app.tenant_mac` is HMAC-SHA256(key, '<tenant>:<session nonce>') for a key in
`crm_secret.tenant_context_keys`, and raises otherwise. The key comes from the environment
(`TENANT_CONTEXT_KEY`, synced by `crm db upgrade`, crm.migrate); the schema `crm_secret` is
readable by its owner alone. The nonce (`crm.session_nonce()`: backend pid and start time)
binds a MAC to one server session, so one seen in `pg_stat_activity` is no use to another.
The HMAC is computed with the built-in sha256() over the stored inner and outer padded keys (no
extension needed). The rewrite is generic: every policy and analytics view whose expression
reads the setting, whichever migration or dbt run made it.

**Sign-in without hashes.** `crm.user_for_login` and `crm.reader_signin_candidates` returned
argon2 hashes to the API's and the dashboards' roles. Now `crm.signin_challenge(email, tenant)`
returns only each candidate's argon2 parameters and salt (a made-up but stable one for an
unknown account), the client derives the hash of the password it was given, and
`crm.signin_verify(email, hashes, tenant)` returns the users whose stored hash is among them.
`crm_api` may no longer select `users.password_hash`; `crm_reader` reads nothing in `crm`.

**Outbox dead letters** (`dead_at`, `dead_reason`): a row the broker refuses for good (too
large, invalid) is set aside instead of being retried ahead of everyone else's.

**Idempotency keys** belong to their actor (user or API key): primary key (tenant, actor, key).

**API keys** get `expires_at` and `replaced_by` (rotation with an overlap window).

**Announcements**: revoking, expiring or rotating a key, deactivating a user or a tenant sends
`NOTIFY crm_auth_changes` from a trigger, so API processes drop cached credentials at commit.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

import secrets

from alembic import op

revision: str = "1401_api_hardening"
down_revision: str | None = "1301_lead_rescore_requests"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

OLD_EXPR = r"\(?NULLIF\(current_setting\('app\.tenant_id'::text, true\), ''::text\)\)?::uuid"
NEW_EXPR = "( SELECT crm.current_tenant() AS current_tenant)"
NEW_EXPR_RE = r"\( SELECT crm\.current_tenant\(\) AS current_tenant\)"
VIEW_EXPR_RE = r"crm\.current_tenant\(\)"
OLD_TEXT = "nullif(current_setting('app.tenant_id', true), '')::uuid"

SECRET_SCHEMA = """
CREATE SCHEMA crm_secret;
REVOKE ALL ON SCHEMA crm_secret FROM PUBLIC;
CREATE TABLE crm_secret.tenant_context_keys (
    id smallint PRIMARY KEY,
    ikey bytea NOT NULL CHECK (octet_length(ikey) = 64),
    okey bytea NOT NULL CHECK (octet_length(okey) = 64),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE crm_secret.signin_salt_key (
    id smallint PRIMARY KEY CHECK (id = 1),
    key bytea NOT NULL
);
"""

SESSION_NONCE = """
CREATE FUNCTION crm.session_nonce() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT pg_backend_pid()::text || ':' || (extract(epoch FROM a.backend_start) * 1000000)::bigint::text
  FROM pg_stat_get_activity(pg_backend_pid()) a
$$
"""

CURRENT_TENANT = """
CREATE FUNCTION crm.current_tenant() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
-- The tenant of this transaction when its setting is signed for this session, NULL when no
-- tenant is set; anything else is refused (a forged or replayed context is an error).
DECLARE
  t text := nullif(current_setting('app.tenant_id', true), '');
  mac text := nullif(current_setting('app.tenant_mac', true), '');
  msg bytea;
BEGIN
  IF t IS NULL THEN
    RETURN NULL;
  END IF;
  IF mac IS NOT NULL THEN
    msg := convert_to(t || ':' || crm.session_nonce(), 'UTF8');
    IF EXISTS (
      SELECT 1 FROM crm_secret.tenant_context_keys k
      WHERE encode(sha256(k.okey || sha256(k.ikey || msg)), 'hex') = mac
    ) THEN
      RETURN t::uuid;
    END IF;
  END IF;
  RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
    MESSAGE = 'app.tenant_id is not signed for this session',
    HINT = 'set app.tenant_mac to the HMAC of the tenant and crm.session_nonce() (crm.security)';
END $$
"""

SIGNIN_CHALLENGE = """
CREATE FUNCTION crm.signin_challenge(p_email text, p_tenant_slug text DEFAULT NULL)
RETURNS TABLE (settings text, hash_len int)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
-- The argon2 parameters and salt of each active account with this e-mail (of this tenant when
-- given), never the hash; one made-up but stable row when there is none, so the caller does
-- the same work and learns nothing.
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

SIGNIN_VERIFY = """
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

API_KEY_LOOKUP = """
CREATE FUNCTION crm.api_key_by_prefix(p_prefix text)
RETURNS TABLE (id uuid, tenant_id uuid, key_hash text, scopes text[], revoked_at timestamptz,
               created_by uuid, expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, crm AS $$
  SELECT k.id, k.tenant_id, k.key_hash, k.scopes, k.revoked_at, k.created_by, k.expires_at
  FROM crm.api_keys k JOIN crm.tenants t ON t.id = k.tenant_id
  WHERE k.key_prefix = p_prefix AND t.is_active
$$
"""

OLD_API_KEY_LOOKUP = """
CREATE FUNCTION crm.api_key_by_prefix(p_prefix text)
RETURNS TABLE (id uuid, tenant_id uuid, key_hash text, scopes text[], revoked_at timestamptz,
               created_by uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, crm AS $$
  SELECT k.id, k.tenant_id, k.key_hash, k.scopes, k.revoked_at, k.created_by
  FROM crm.api_keys k JOIN crm.tenants t ON t.id = k.tenant_id
  WHERE k.key_prefix = p_prefix AND t.is_active
$$
"""

OLD_USER_LOOKUP = """
CREATE FUNCTION crm.user_for_login(p_tenant_slug text, p_email text)
RETURNS TABLE (id uuid, tenant_id uuid, role crm.user_role, password_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, crm AS $$
  SELECT u.id, u.tenant_id, u.role, u.password_hash
  FROM crm.users u JOIN crm.tenants t ON t.id = u.tenant_id
  WHERE t.slug = p_tenant_slug AND lower(u.email) = lower(p_email) AND u.is_active AND t.is_active
$$
"""

OLD_READER_SIGNIN = """
CREATE FUNCTION crm.reader_signin_candidates(p_email text)
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

ANNOUNCE = """
CREATE FUNCTION crm.announce_auth_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
-- Delivered when the transaction commits: API processes drop what it names from their caches.
DECLARE kind text := CASE TG_TABLE_NAME WHEN 'api_keys' THEN 'api_key' WHEN 'users' THEN 'user' ELSE 'tenant' END;
BEGIN
  PERFORM pg_notify('crm_auth_changes', kind || ':' || OLD.id::text);
  RETURN NULL;
END $$;
CREATE TRIGGER announce_auth_change AFTER UPDATE OF revoked_at, expires_at, scopes, tenant_id OR DELETE
  ON crm.api_keys FOR EACH ROW EXECUTE FUNCTION crm.announce_auth_change();
CREATE TRIGGER announce_auth_change AFTER UPDATE OF is_active, role, tenant_id OR DELETE
  ON crm.users FOR EACH ROW EXECUTE FUNCTION crm.announce_auth_change();
CREATE TRIGGER announce_auth_change AFTER UPDATE OF is_active OR DELETE
  ON crm.tenants FOR EACH ROW EXECUTE FUNCTION crm.announce_auth_change();
"""


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _rewrite(policy_re: str, policy_to: str, view_re: str, view_to: str) -> str:
    """A DO block rewriting every policy and view whose expression matches the patterns."""
    return f"""
DO $rewrite$
DECLARE p record; v record; q text; c text; def text;
BEGIN
  FOR p IN SELECT schemaname, tablename, policyname, qual, with_check FROM pg_policies
           WHERE coalesce(qual, '') ~ {_lit(policy_re)} OR coalesce(with_check, '') ~ {_lit(policy_re)} LOOP
    q := regexp_replace(p.qual, {_lit(policy_re)}, {_lit(policy_to)}, 'g');
    c := regexp_replace(p.with_check, {_lit(policy_re)}, {_lit(policy_to)}, 'g');
    EXECUTE format('ALTER POLICY %I ON %I.%I', p.policyname, p.schemaname, p.tablename)
      || CASE WHEN q IS NOT NULL THEN ' USING (' || q || ')' ELSE '' END
      || CASE WHEN c IS NOT NULL THEN ' WITH CHECK (' || c || ')' ELSE '' END;
  END LOOP;
  FOR v IN SELECT schemaname, viewname, definition FROM pg_views
           WHERE schemaname IN ('analytics', 'crm', 'ml') AND definition ~ {_lit(view_re)} LOOP
    def := regexp_replace(v.definition, {_lit(view_re)}, {_lit(view_to)}, 'g');
    EXECUTE format('CREATE OR REPLACE VIEW %I.%I AS ', v.schemaname, v.viewname) || def;
  END LOOP;
END
$rewrite$
"""


def upgrade() -> None:
    op.execute(SECRET_SCHEMA)
    op.execute(
        f"INSERT INTO crm_secret.signin_salt_key (id, key) VALUES (1, '\\x{secrets.token_hex(32)}'::bytea)"
    )
    op.execute(SESSION_NONCE)
    op.execute(CURRENT_TENANT)
    for fn in ("session_nonce()", "current_tenant()"):
        op.execute(f"REVOKE ALL ON FUNCTION crm.{fn} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION crm.{fn} TO PUBLIC")
    op.execute(_rewrite(OLD_EXPR, NEW_EXPR, OLD_EXPR, "crm.current_tenant()"))

    # sign-in: no hash ever leaves the database
    op.execute("DROP FUNCTION crm.user_for_login(text, text)")
    op.execute("DROP FUNCTION crm.reader_signin_candidates(text)")
    for ddl, name in (
        (SIGNIN_CHALLENGE, "signin_challenge(text, text)"),
        (SIGNIN_VERIFY, "signin_verify(text, text[], text)"),
    ):
        op.execute(ddl)
        op.execute(f"REVOKE ALL ON FUNCTION crm.{name} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION crm.{name} TO crm_api, crm_reader")
    op.execute("REVOKE SELECT, INSERT, UPDATE, DELETE ON crm.users FROM crm_api")
    op.execute(
        "GRANT SELECT (id, tenant_id, email, full_name, role, is_active, created_at, updated_at)"
        " ON crm.users TO crm_api"
    )

    # outbox rows the broker refuses for good
    op.execute("ALTER TABLE crm.outbox ADD COLUMN dead_at timestamptz, ADD COLUMN dead_reason text")
    op.execute("DROP INDEX crm.ix_outbox_unsent")
    op.execute("CREATE INDEX ix_outbox_unsent ON crm.outbox (id) WHERE sent_at IS NULL AND dead_at IS NULL")
    op.execute("CREATE INDEX ix_outbox_dead ON crm.outbox (dead_at) WHERE dead_at IS NOT NULL")

    # idempotency keys per actor; earlier keys belong to no one (they only served retries)
    op.execute("ALTER TABLE crm.idempotency_keys ADD COLUMN actor_id uuid")
    op.execute("UPDATE crm.idempotency_keys SET actor_id = '00000000-0000-0000-0000-000000000000'")
    op.execute("ALTER TABLE crm.idempotency_keys ALTER COLUMN actor_id SET NOT NULL")
    op.execute("ALTER TABLE crm.idempotency_keys DROP CONSTRAINT pk_idempotency_keys")
    op.execute(
        "ALTER TABLE crm.idempotency_keys ADD CONSTRAINT pk_idempotency_keys PRIMARY KEY (tenant_id, actor_id, key)"
    )

    # API keys: expiry and rotation
    op.execute(
        "ALTER TABLE crm.api_keys ADD COLUMN expires_at timestamptz,"
        " ADD COLUMN replaced_by uuid CONSTRAINT fk_api_keys_replaced_by_api_keys"
        " REFERENCES crm.api_keys (id) ON DELETE SET NULL"
    )
    op.execute("DROP FUNCTION crm.api_key_by_prefix(text)")
    op.execute(API_KEY_LOOKUP)
    op.execute("REVOKE ALL ON FUNCTION crm.api_key_by_prefix(text) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION crm.api_key_by_prefix(text) TO crm_api")

    op.execute(ANNOUNCE)
    op.execute("REVOKE ALL ON FUNCTION crm.announce_auth_change() FROM PUBLIC")


def downgrade() -> None:
    for table in ("tenants", "users", "api_keys"):
        op.execute(f"DROP TRIGGER announce_auth_change ON crm.{table}")
    op.execute("DROP FUNCTION crm.announce_auth_change()")

    op.execute("DROP FUNCTION crm.api_key_by_prefix(text)")
    op.execute(OLD_API_KEY_LOOKUP)
    op.execute("REVOKE ALL ON FUNCTION crm.api_key_by_prefix(text) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION crm.api_key_by_prefix(text) TO crm_api")
    op.execute("ALTER TABLE crm.api_keys DROP COLUMN replaced_by, DROP COLUMN expires_at")

    op.execute("DELETE FROM crm.idempotency_keys")  # keys of several actors may now collide
    op.execute("ALTER TABLE crm.idempotency_keys DROP CONSTRAINT pk_idempotency_keys")
    op.execute("ALTER TABLE crm.idempotency_keys DROP COLUMN actor_id")
    op.execute(
        "ALTER TABLE crm.idempotency_keys ADD CONSTRAINT pk_idempotency_keys PRIMARY KEY (tenant_id, key)"
    )

    op.execute("DROP INDEX crm.ix_outbox_dead")
    op.execute("DROP INDEX crm.ix_outbox_unsent")
    op.execute("CREATE INDEX ix_outbox_unsent ON crm.outbox (id) WHERE sent_at IS NULL")
    op.execute("ALTER TABLE crm.outbox DROP COLUMN dead_reason, DROP COLUMN dead_at")

    op.execute("REVOKE SELECT ON crm.users FROM crm_api")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON crm.users TO crm_api")
    op.execute("DROP FUNCTION crm.signin_verify(text, text[], text)")
    op.execute("DROP FUNCTION crm.signin_challenge(text, text)")
    op.execute(OLD_USER_LOOKUP)
    op.execute(OLD_READER_SIGNIN)
    op.execute("REVOKE ALL ON FUNCTION crm.user_for_login(text, text) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION crm.user_for_login(text, text) TO crm_api")
    op.execute("REVOKE ALL ON FUNCTION crm.reader_signin_candidates(text) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION crm.reader_signin_candidates(text) TO crm_reader")

    op.execute(_rewrite(NEW_EXPR_RE, OLD_TEXT, VIEW_EXPR_RE, OLD_TEXT))
    op.execute("DROP FUNCTION crm.current_tenant()")
    op.execute("DROP FUNCTION crm.session_nonce()")
    op.execute("DROP SCHEMA crm_secret CASCADE")
