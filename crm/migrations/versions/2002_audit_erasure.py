"""Erasure of a person's data, the audit log's one narrow exception included.

Revision ID: 2002_audit_erasure
Revises: 2001_retention
Create Date: 2026-12-07

`crm erase --person` pseudonymises a person's records: personal values become the marker
'[erased]', ids, amounts and stages stay. JSON documents (event payloads, outbox rows, webhook
deliveries, audit before/after) are redacted by `crm.redact_pii(doc, terms)`: the value of every
personal key (`crm.personal_keys()`, compared lower-case with anything but letters removed) and,
with `terms`, every string containing one of them (the e-mail quoted in free text) becomes the
marker.

`crm.audit_log` stays append-only (1901) with one exception: `crm.erase_audit_pii(tenant, ids,
report)`, SECURITY DEFINER and the owner's alone, sets a transaction-local flag and rewrites the
given rows' before/after with `crm.redact_pii`. `crm.append_only()` lets an UPDATE of an audit
row through only under that flag and only when every column but before/after is unchanged and
before/after differ from the old ones only where a personal key's value became the marker
(`crm.only_personal_erased`); a plain UPDATE, any other change and every DELETE stay refused.
The function records its own 'person_erased' audit row with the report's counts.

Hand-written: no imports from crm.schema (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "2002_audit_erasure"
down_revision: str | None = "2001_retention"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

PERSONAL_KEYS = (
    "email",
    "firstname",
    "lastname",
    "fullname",
    "phone",
    "mobilephone",
    "requester",
    "requesteremail",
    "recipient",
    "address",
    "street",
    "mailingstreet",
    "city",
    "postalcode",
    "zip",
    "body",
    "text",
    "subject",
    "comment",
    "evidence",
    "description",
    "note",
    "notes",
)

FUNCTIONS = f"""
CREATE FUNCTION crm.personal_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY[{", ".join(repr(k) for k in PERSONAL_KEYS)}]::text[] $$;

CREATE FUNCTION crm.is_personal_key(k text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT lower(regexp_replace(k, '[^a-zA-Z]', '', 'g')) = ANY (crm.personal_keys())
$$;

CREATE FUNCTION crm.redact_pii(j jsonb, terms text[] DEFAULT '{{}}') RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  CASE jsonb_typeof(j)
  WHEN 'object' THEN
    RETURN (SELECT coalesce(jsonb_object_agg(key, CASE
              WHEN crm.is_personal_key(key) AND jsonb_typeof(value) <> 'null' THEN to_jsonb('[erased]'::text)
              ELSE crm.redact_pii(value, terms) END), '{{}}'::jsonb)
            FROM jsonb_each(j));
  WHEN 'array' THEN
    RETURN (SELECT coalesce(jsonb_agg(crm.redact_pii(value, terms) ORDER BY n), '[]'::jsonb)
            FROM jsonb_array_elements(j) WITH ORDINALITY AS e(value, n));
  WHEN 'string' THEN
    IF EXISTS (SELECT 1 FROM unnest(terms) t WHERE t <> '' AND strpos(lower(j #>> '{{}}'), lower(t)) > 0) THEN
      RETURN to_jsonb('[erased]'::text);
    END IF;
    RETURN j;
  ELSE
    RETURN j;
  END CASE;
END
$$;

CREATE FUNCTION crm.only_personal_erased(o jsonb, n jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  k text;
  i integer;
BEGIN
  IF o IS NULL OR n IS NULL THEN
    RETURN o IS NULL AND n IS NULL;
  END IF;
  IF jsonb_typeof(o) <> jsonb_typeof(n) THEN
    RETURN false;
  END IF;
  IF jsonb_typeof(o) = 'object' THEN
    IF (SELECT array_agg(x ORDER BY x) FROM jsonb_object_keys(o) x)
       IS DISTINCT FROM (SELECT array_agg(x ORDER BY x) FROM jsonb_object_keys(n) x) THEN
      RETURN false;
    END IF;
    FOR k IN SELECT jsonb_object_keys(o) LOOP
      CONTINUE WHEN o -> k = n -> k;
      CONTINUE WHEN crm.is_personal_key(k) AND n -> k = to_jsonb('[erased]'::text);
      IF NOT crm.only_personal_erased(o -> k, n -> k) THEN
        RETURN false;
      END IF;
    END LOOP;
    RETURN true;
  ELSIF jsonb_typeof(o) = 'array' THEN
    IF jsonb_array_length(o) <> jsonb_array_length(n) THEN
      RETURN false;
    END IF;
    FOR i IN 0 .. jsonb_array_length(o) - 1 LOOP
      IF NOT crm.only_personal_erased(o -> i, n -> i) THEN
        RETURN false;
      END IF;
    END LOOP;
    RETURN true;
  END IF;
  RETURN o = n;
END
$$;
"""

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION crm.append_only() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM crm.tenants t WHERE t.id = OLD.tenant_id) THEN
    RETURN OLD;  -- the tenant itself was removed: its rows go with it
  END IF;
  IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_log'
     AND current_setting('crm.audit_erasure', true) = 'on' THEN
    IF to_jsonb(NEW) - 'before' - 'after' = to_jsonb(OLD) - 'before' - 'after'
       AND crm.only_personal_erased(to_jsonb(OLD) -> 'before', to_jsonb(NEW) -> 'before')
       AND crm.only_personal_erased(to_jsonb(OLD) -> 'after', to_jsonb(NEW) -> 'after') THEN
      RETURN NEW;  -- crm.erase_audit_pii: personal values replaced by the marker, nothing else
    END IF;
    RAISE EXCEPTION 'crm.audit_log: an erasure may only replace personal values with the marker'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RAISE EXCEPTION 'crm.% is append-only: % is refused for every role', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""

APPEND_ONLY_1901 = """
CREATE OR REPLACE FUNCTION crm.append_only() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM crm.tenants t WHERE t.id = OLD.tenant_id) THEN
    RETURN OLD;  -- the tenant itself was removed: its rows go with it
  END IF;
  RAISE EXCEPTION 'crm.% is append-only: % is refused for every role', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""

ERASE_AUDIT_PII = """
CREATE FUNCTION crm.erase_audit_pii(p_tenant uuid, p_ids bigint[], p_report jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  n integer;
BEGIN
  PERFORM set_config('crm.audit_erasure', 'on', true);
  UPDATE crm.audit_log
     SET before = crm.redact_pii(before), after = crm.redact_pii(after)
   WHERE tenant_id = p_tenant AND id = ANY (p_ids)
     AND (before IS DISTINCT FROM crm.redact_pii(before) OR after IS DISTINCT FROM crm.redact_pii(after));
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('crm.audit_erasure', 'off', true);
  INSERT INTO crm.audit_log (tenant_id, actor_type, action, entity, after)
  VALUES (p_tenant, 'system', 'person_erased', 'persons',
          coalesce(p_report, '{}'::jsonb) || jsonb_build_object('crm.audit_log', n));
  RETURN n;
END
$$
"""

SIGNATURES = (
    "crm.erase_audit_pii(uuid, bigint[], jsonb)",
    "crm.only_personal_erased(jsonb, jsonb)",
    "crm.redact_pii(jsonb, text[])",
    "crm.is_personal_key(text)",
    "crm.personal_keys()",
)


def upgrade() -> None:
    op.execute(FUNCTIONS)
    op.execute(APPEND_ONLY)
    op.execute(ERASE_AUDIT_PII)
    op.execute("REVOKE ALL ON FUNCTION crm.erase_audit_pii(uuid, bigint[], jsonb) FROM PUBLIC")


def downgrade() -> None:
    op.execute(APPEND_ONLY_1901)
    for signature in SIGNATURES:
        op.execute(f"DROP FUNCTION {signature}")
