"""API keys for integrations: created (the key is shown once), listed, rotated, revoked.
Admin only.

A key may expire (`expires_in_days`); rotating one makes its successor (same name and scopes,
the same lifetime) and lets the old key work for an overlap window (`overlap_s`), so an
integration can switch without a failed call. Revoking, expiring or rotating a key is announced
at commit (migration 1401's trigger), and every API process stops accepting it at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import Field

from api.core.auth import Principal, check_scopes, new_api_key, rotation
from api.core.db import Conn, fetchone
from api.core.writes import new_id, now, record_audit_only
from api.deps import Db, Paging, Requires
from api.routes._common import page_of, respond
from api.schemas.common import CONFLICT, ERRORS, NOT_FOUND, Body, Name, PageOut
from api.schemas.keys import ApiKeyCreated, ApiKeyOut, ApiKeyRotated
from crm.errors import CRMError, CRMErrorCode

router = APIRouter(prefix="/api-keys", tags=["api keys"], responses=ERRORS)
Admin = Annotated[Principal, Requires("api_keys:manage")]
PUBLIC = (
    "id, tenant_id, name, key_prefix, scopes, created_by, created_at, last_used_at, revoked_at,"
    " expires_at, replaced_by"
)
INSERT = (
    "INSERT INTO crm.api_keys (id, tenant_id, name, key_prefix, key_hash, scopes, created_by, created_at,"
    " expires_at) VALUES (%(id)s, %(tenant_id)s, %(name)s, %(key_prefix)s, %(key_hash)s, %(scopes)s,"
    " %(created_by)s, %(created_at)s, %(expires_at)s)"
)
Days = Annotated[
    int, Field(ge=1, le=3650, description="the key stops working this many days after it is made")
]


class ApiKeyCreate(Body):
    name: Name
    scopes: list[str] = Field(min_length=1, max_length=20, description="permissions, e.g. leads:write")
    expires_in_days: Days | None = Field(None, description="default: until revoked")


class ApiKeyRotate(Body):
    overlap_s: int = Field(
        3600, ge=0, le=30 * 86400, description="how long the old key keeps working next to the new one"
    )
    expires_in_days: Days | None = Field(None, description="default: the old key's lifetime, if it had one")


def new_key_row(
    p: Principal, name: str, scopes: list[str], expires_at: datetime | None
) -> tuple[str, dict[str, Any]]:
    """(the key, shown once; the row stored: its prefix and hash, never the key)."""
    key, prefix, digest = new_api_key()
    row = {
        "id": new_id(),
        "tenant_id": p.tenant_id,
        "name": name,
        "key_prefix": prefix,
        "key_hash": digest,
        "scopes": scopes,
        "created_by": p.user_id,
        "created_at": now(),
        "expires_at": expires_at,
    }
    return key, row


async def _insert(conn: Conn, p: Principal, row: dict[str, Any], action: str, extra: dict[str, Any]) -> dict:
    await conn.execute(INSERT, row)
    public = {k: v for k, v in row.items() if k != "key_hash"} | {
        "last_used_at": None,
        "revoked_at": None,
        "replaced_by": None,
    }
    await record_audit_only(
        conn, p, table="api_keys", action=action, entity_id=row["id"], before=None, after=public | extra
    )
    return public


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(body: ApiKeyCreate, p: Admin, db: Db):
    """Returns the key once (`key`); only its prefix and hash are stored."""
    scopes = check_scopes(body.scopes)
    at = now()
    expires = at + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    key, row = new_key_row(p, body.name, scopes, expires)
    async with db.tx(p.tenant_id) as conn:
        public = await _insert(conn, p, row, "created", {})
    return respond(public | {"key": key}, 201)


@router.get("", response_model=PageOut[ApiKeyOut])
async def list_api_keys(p: Admin, db: Db, page: Paging):
    async with db.tx(p.tenant_id) as conn:
        out = await page_of(conn, "api_keys", [], page)
    for item in out["items"]:
        item.pop("key_hash", None)
    return respond(out)


@router.post(
    "/{key_id}/rotate", status_code=201, response_model=ApiKeyRotated, responses={**NOT_FOUND, **CONFLICT}
)
async def rotate_api_key(key_id: UUID, body: ApiKeyRotate, p: Admin, db: Db, request: Request):
    """A successor of the key (returned once, like a new key); the old key keeps working for
    `overlap_s` seconds, then stops (409 for a key already revoked, expired or rotated)."""
    at = now()
    async with db.tx(p.tenant_id) as conn:
        old = await fetchone(conn, f"SELECT {PUBLIC} FROM crm.api_keys WHERE id = %s FOR UPDATE", (key_id,))
        if old is None:
            raise CRMError(CRMErrorCode.API_KEY_NOT_FOUND, f"API key {key_id} not found", {"id": str(key_id)})
        if (
            old["revoked_at"] is not None
            or old["replaced_by"] is not None
            or (old["expires_at"] is not None and old["expires_at"] <= at)
        ):
            state = "revoked" if old["revoked_at"] else "rotated" if old["replaced_by"] else "expired"
            raise CRMError(
                CRMErrorCode.INVALID_STATUS_TRANSITION,
                f"API key {key_id} is {state}: make a new key instead",
                {"id": str(key_id), "state": state},
            )
        successor_expires, old_expires = rotation(old, at, body.overlap_s, body.expires_in_days)
        key, row = new_key_row(p, old["name"], list(old["scopes"]), successor_expires)
        public = await _insert(conn, p, row, "created", {"rotated_from": str(key_id)})
        after = await fetchone(
            conn,
            f"UPDATE crm.api_keys SET expires_at = %s, replaced_by = %s WHERE id = %s RETURNING {PUBLIC}",
            (old_expires, row["id"], key_id),
        )
        await record_audit_only(
            conn, p, table="api_keys", action="rotated", entity_id=key_id, before=old, after=after
        )
    request.app.state.key_cache.forget(key_id)  # this process at once; the others at commit
    return respond(public | {"key": key, "replaces": after}, 201)


@router.delete("/{key_id}", response_model=ApiKeyOut, responses=NOT_FOUND)
async def revoke_api_key(key_id: UUID, p: Admin, db: Db, request: Request):
    """The key stops working in every API process when this commits."""
    async with db.tx(p.tenant_id) as conn:
        row = await fetchone(
            conn,
            f"UPDATE crm.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s RETURNING {PUBLIC}",
            (key_id,),
        )
        if row is None:
            raise CRMError(CRMErrorCode.API_KEY_NOT_FOUND, f"API key {key_id} not found", {"id": str(key_id)})
        await record_audit_only(
            conn, p, table="api_keys", action="revoked", entity_id=key_id, before=None, after=row
        )
    request.app.state.key_cache.forget(key_id)  # this process at once; the others at commit
    return respond(row)
