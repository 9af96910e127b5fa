"""Sign-in: tenant slug, e-mail and password for a JWT (argon2id hashes, crm.security)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from api.core.auth import mint_token
from api.core.db import fetchall, fetchone
from api.deps import Db
from api.schemas.common import Body, Email, ErrorOut, Name
from crm.errors import CRMError, CRMErrorCode
from crm.keys import staff
from crm.security import hash_with

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenRequest(Body):
    tenant: Name = Field(description="tenant slug")
    email: Email
    password: str = Field(min_length=1, max_length=500)


class TokenOut(Body):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


async def signed_in_user(db: Any, tenant: str, email: str, password: str) -> dict[str, Any] | None:
    """The user whose password this is, verified by the database (crm.signin_challenge gives
    the account's argon2 parameters and salt, made-up ones for an unknown account, so the work
    is the same; crm.signin_verify compares): no stored hash is ever read here. The account is
    found by the e-mail's sign-in index (crm.keys.staff); its e-mail and name come back sealed
    (a token names neither)."""
    found = await run_in_threadpool(staff.email_params, email)
    args = (found["email_bidx"], found["email"])
    async with db.raw() as conn:
        challenges = await fetchall(conn, "SELECT * FROM crm.signin_challenge(%s, %s, %s)", (*args, tenant))
        hashes = [
            await run_in_threadpool(hash_with, c["settings"], c["hash_len"], password) for c in challenges
        ]
        return await fetchone(
            conn, "SELECT * FROM crm.signin_verify(%s, %s, %s, %s)", (*args, hashes, tenant)
        )


@router.post(
    "/token",
    response_model=TokenOut,
    responses={
        401: {"model": ErrorOut, "description": "wrong tenant, e-mail or password"},
        429: {"model": ErrorOut, "description": "too many attempts for this account or client (Retry-After)"},
    },
)
async def token(body: TokenRequest, db: Db, request: Request):
    """Throttled per account and per client; an unknown account costs the same argon2 work as
    a known one, so neither the answer nor its time tells whether the account exists."""
    client = request.client.host if request.client else None
    await request.app.state.login_limiter.hit(body.tenant, body.email, client)
    row = await signed_in_user(db, body.tenant, body.email, body.password)
    if row is None:
        raise CRMError(CRMErrorCode.UNAUTHENTICATED, "wrong tenant, e-mail or password")
    settings = request.app.state.settings
    try:
        tok = mint_token(settings, row["user_id"], row["tenant_id"], [row["role"]])
    except RuntimeError as exc:
        raise CRMError(CRMErrorCode.UNAUTHENTICATED, str(exc)) from None
    return {"access_token": tok, "token_type": "bearer", "expires_in": settings.jwt_ttl_s}
