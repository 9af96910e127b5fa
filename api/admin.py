"""Operator tasks behind the `crm` CLI: dev tokens and API keys.

These run with DATABASE_URL (the owner), since they pick a user or a tenant before any
tenant context exists; they never bypass the API for CRM data writes."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import DictRow, dict_row

from api.core.auth import check_scopes, mint_token, new_api_key, rotation
from api.core.config import get_api_settings
from crm.db import libpq_url
from crm.errors import CRMError, CRMErrorCode
from crm.keys import staff


def _conn() -> psycopg.Connection[DictRow]:
    return psycopg.Connection[DictRow].connect(libpq_url(), autocommit=True, row_factory=dict_row)


def find_user(email: str | None = None, tenant: str | None = None, role: str | None = None) -> dict[str, Any]:
    """A user by e-mail (its sign-in index; and tenant slug when the e-mail is not unique), or
    the first active user with `role` (of the tenant, or of the first tenant); e-mail opened."""
    where: list[str] = ["u.is_active"]
    params: dict[str, Any] = {}
    if email:
        where.append(staff.email_match("u"))
        params |= staff.email_params(email)
    if tenant:
        where.append("t.slug = %(tenant)s")
        params["tenant"] = tenant
    if role:
        where.append("u.role = %(role)s")
        params["role"] = role
    with _conn() as conn:
        rows = conn.execute(
            "SELECT u.id, u.email, u.role::text AS role, u.tenant_id, t.slug FROM crm.users u"
            f" JOIN crm.tenants t ON t.id = u.tenant_id WHERE {' AND '.join(where)} ORDER BY t.created_at, t.slug,"
            " u.created_at, u.id LIMIT 2",
            params,
        ).fetchall()
    rows = [r | {"email": staff.open_value(r["tenant_id"], "email", r["email"])} for r in rows]
    if not rows:
        raise CRMError(CRMErrorCode.USER_NOT_FOUND, "no such active user", {"email": email, "tenant": tenant})
    if email and len(rows) > 1:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR, "e-mail exists in several tenants: add --tenant", {"email": email}
        )
    return rows[0]


def token_for(email: str | None, tenant: str | None, role: str | None, ttl_s: int | None) -> tuple[str, dict]:
    user = find_user(email, tenant, role)
    tok = mint_token(get_api_settings(), user["id"], user["tenant_id"], [user["role"]], ttl_s)
    return tok, user


def create_api_key(
    tenant: str, name: str, scopes: list[str], expires_in_days: int | None = None
) -> dict[str, Any]:
    scopes = check_scopes(scopes)
    key, prefix, digest = new_api_key()
    with _conn() as conn:
        t = conn.execute("SELECT id FROM crm.tenants WHERE slug = %s", (tenant,)).fetchone()
        if t is None:
            raise CRMError(CRMErrorCode.NOT_FOUND, f"tenant {tenant!r} not found", {"tenant": tenant})
        row = conn.execute(
            "INSERT INTO crm.api_keys (tenant_id, name, key_prefix, key_hash, scopes, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, now() + make_interval(days => %s))"
            " RETURNING id, tenant_id, name, key_prefix, scopes, created_at, expires_at",
            (t["id"], name, prefix, digest, scopes, expires_in_days),
        ).fetchone()
        assert row is not None  # INSERT ... RETURNING yields the row it inserted
        conn.execute(
            "INSERT INTO crm.audit_log (tenant_id, actor_type, action, entity, entity_id, after)"
            " VALUES (%s, 'system', 'created', 'api_keys', %s, jsonb_build_object('name', %s::text, 'scopes', %s::text[]))",
            (t["id"], row["id"], name, scopes),
        )
    return dict(row) | {"key": key}


def rotate_api_key(key_id: UUID, overlap_s: int, expires_in_days: int | None = None) -> dict[str, Any]:
    """The key's successor (same tenant, name and scopes; shown once) and the old key's new
    expiry: it keeps working for `overlap_s` seconds (the API's POST /api-keys/{id}/rotate)."""
    key, prefix, digest = new_api_key()
    with _conn() as conn, conn.transaction():
        old = conn.execute(
            "SELECT id, tenant_id, name, scopes, created_at, expires_at, revoked_at, replaced_by, now() AS at"
            " FROM crm.api_keys WHERE id = %s FOR UPDATE",
            (key_id,),
        ).fetchone()
        if old is None:
            raise CRMError(CRMErrorCode.API_KEY_NOT_FOUND, f"API key {key_id} not found", {"id": str(key_id)})
        if old["revoked_at"] or old["replaced_by"] or (old["expires_at"] and old["expires_at"] <= old["at"]):
            raise CRMError(
                CRMErrorCode.INVALID_STATUS_TRANSITION,
                f"API key {key_id} is no longer active",
                {"id": str(key_id)},
            )
        successor_expires, old_expires = rotation(old, old["at"], overlap_s, expires_in_days)
        new = conn.execute(
            "INSERT INTO crm.api_keys (tenant_id, name, key_prefix, key_hash, scopes, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id, tenant_id, name, key_prefix, scopes, created_at, expires_at",
            (old["tenant_id"], old["name"], prefix, digest, old["scopes"], successor_expires),
        ).fetchone()
        assert new is not None
        conn.execute(
            "UPDATE crm.api_keys SET expires_at = %s, replaced_by = %s WHERE id = %s",
            (old_expires, new["id"], key_id),
        )
        for action, entity_id in (("created", new["id"]), ("rotated", key_id)):
            conn.execute(
                "INSERT INTO crm.audit_log (tenant_id, actor_type, action, entity, entity_id, after)"
                " VALUES (%s, 'system', %s, 'api_keys', %s, jsonb_build_object('replaced_by', %s::text,"
                " 'old_expires_at', %s::timestamptz))",
                (old["tenant_id"], action, entity_id, str(new["id"]), old_expires),
            )
    return dict(new) | {"key": key, "replaces": key_id, "old_expires_at": old_expires}


def revoke_api_key(key_id: UUID) -> dict[str, Any]:
    with _conn() as conn:
        row = conn.execute(
            "UPDATE crm.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s"
            " RETURNING id, tenant_id, name, revoked_at",
            (key_id,),
        ).fetchone()
        if row is None:
            raise CRMError(CRMErrorCode.API_KEY_NOT_FOUND, f"API key {key_id} not found", {"id": str(key_id)})
        conn.execute(
            "INSERT INTO crm.audit_log (tenant_id, actor_type, action, entity, entity_id)"
            " VALUES (%s, 'system', 'revoked', 'api_keys', %s)",
            (row["tenant_id"], key_id),
        )
    return dict(row)


def list_api_keys(tenant: str | None) -> list[dict[str, Any]]:
    with _conn() as conn:
        return conn.execute(
            "SELECT k.id, t.slug AS tenant, k.name, k.key_prefix, k.scopes, k.created_at, k.last_used_at,"
            " k.revoked_at, k.expires_at, k.replaced_by"
            " FROM crm.api_keys k JOIN crm.tenants t ON t.id = k.tenant_id WHERE %s::text IS NULL OR t.slug = %s"
            " ORDER BY k.created_at",
            (tenant, tenant),
        ).fetchall()
