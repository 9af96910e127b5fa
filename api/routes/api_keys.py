"""API keys for integrations: created (the key is shown once), listed, revoked. Admin only."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import Field

from api.core.auth import Principal, check_scopes, new_api_key
from api.core.auth_events import NOTIFY, message
from api.core.db import fetchone
from api.core.writes import new_id, now, record_audit_only
from api.deps import Db, Paging, Requires
from api.routes._common import page_of, respond
from api.schemas.common import ERRORS, NOT_FOUND, Body, Name, PageOut
from api.schemas.keys import ApiKeyCreated, ApiKeyOut
from crm.errors import CRMError, CRMErrorCode

router = APIRouter(prefix="/api-keys", tags=["api keys"], responses=ERRORS)
Admin = Annotated[Principal, Requires("api_keys:manage")]
PUBLIC = "id, tenant_id, name, key_prefix, scopes, created_by, created_at, last_used_at, revoked_at"


class ApiKeyCreate(Body):
    name: Name
    scopes: list[str] = Field(min_length=1, max_length=20, description="permissions, e.g. leads:write")


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(body: ApiKeyCreate, p: Admin, db: Db):
    """Returns the key once (`key`); only its prefix and hash are stored."""
    scopes = check_scopes(body.scopes)
    key, prefix, digest = new_api_key()
    key_id = new_id()
    row = {
        "id": key_id,
        "tenant_id": p.tenant_id,
        "name": body.name,
        "key_prefix": prefix,
        "key_hash": digest,
        "scopes": scopes,
        "created_by": p.user_id,
        "created_at": now(),
    }
    async with db.tx(p.tenant_id) as conn:
        await conn.execute(
            "INSERT INTO crm.api_keys (id, tenant_id, name, key_prefix, key_hash, scopes, created_by, created_at)"
            " VALUES (%(id)s, %(tenant_id)s, %(name)s, %(key_prefix)s, %(key_hash)s, %(scopes)s, %(created_by)s,"
            " %(created_at)s)",
            row,
        )
        public = {k: v for k, v in row.items() if k != "key_hash"} | {
            "last_used_at": None,
            "revoked_at": None,
        }
        await record_audit_only(
            conn, p, table="api_keys", action="created", entity_id=key_id, before=None, after=public
        )
    return respond(public | {"key": key}, 201)


@router.get("", response_model=PageOut[ApiKeyOut])
async def list_api_keys(p: Admin, db: Db, page: Paging):
    async with db.tx(p.tenant_id) as conn:
        out = await page_of(conn, "api_keys", [], page)
    for item in out["items"]:
        item.pop("key_hash", None)
    return respond(out)


@router.delete("/{key_id}", response_model=ApiKeyOut, responses=NOT_FOUND)
async def revoke_api_key(key_id: UUID, p: Admin, db: Db, request: Request):
    async with db.tx(p.tenant_id) as conn:
        row = await fetchone(
            conn,
            f"UPDATE crm.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s"
            f" RETURNING {PUBLIC}",
            (key_id,),
        )
        if row is None:
            raise CRMError(CRMErrorCode.API_KEY_NOT_FOUND, f"API key {key_id} not found", {"id": str(key_id)})
        await record_audit_only(
            conn, p, table="api_keys", action="revoked", entity_id=key_id, before=None, after=row
        )
        await conn.execute(NOTIFY, (message("api_key", key_id),))  # every process, at commit
    request.app.state.key_cache.forget(key_id)
    return respond(row)
