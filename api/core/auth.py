"""Who is calling: JWT bearer tokens (users) and API keys (integrations).

Tokens are PyJWT, HS256 with `JWT_SECRET` or RS256 with `JWT_PUBLIC_KEY` (signing needs
`JWT_PRIVATE_KEY`), claims `sub` (user id), `tenant` (tenant id), `roles`, `exp`, `iat`,
`iss`, `aud`. API keys look like `crm_<prefix>_<secret>`; the database keeps the prefix and a
SHA-256 of the whole key (the key is 256 random bits, so a fast hash is as safe as a slow
one and keeps per-request verification cheap); user passwords use argon2 (crm.security).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt

from api.core.config import ApiSettings
from api.core.permissions import PERMISSIONS, own_only, permissions_for
from crm.enums import UserRole
from crm.errors import CRMError, CRMErrorCode

API_KEY_PREFIX = "crm_"


@dataclass(frozen=True)
class Principal:
    tenant_id: UUID
    actor_id: UUID
    actor_type: str  # user | api_key
    permissions: frozenset[str]
    roles: tuple[UserRole, ...] = ()
    own_only: bool = False
    user_id: UUID | None = None
    """The user (for a token; the key's creator for an API key): owner of own records."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def rate_key(self) -> str:
        return f"{self.tenant_id}:{self.actor_type}:{self.actor_id}"


def unauthenticated(message: str) -> CRMError:
    return CRMError(CRMErrorCode.UNAUTHENTICATED, message)


# --- JWT ------------------------------------------------------------------------------------


def _verify_key(settings: ApiSettings) -> tuple[Any, str]:
    core = settings.core
    if core.jwt_public_key is not None:
        return core.jwt_public_key.get_secret_value(), "RS256"
    if core.jwt_secret is not None:
        return core.jwt_secret.get_secret_value(), "HS256"
    raise CRMError(
        CRMErrorCode.UNAUTHENTICATED, "bearer tokens are not configured (set JWT_SECRET or JWT_PUBLIC_KEY)"
    )


def _signing_key(settings: ApiSettings) -> tuple[Any, str]:
    core = settings.core
    if core.jwt_private_key is not None:
        return core.jwt_private_key.get_secret_value(), "RS256"
    if core.jwt_secret is not None:
        return core.jwt_secret.get_secret_value(), "HS256"
    raise RuntimeError("cannot sign tokens: set JWT_SECRET (HS256) or JWT_PRIVATE_KEY (RS256)")


def mint_token(
    settings: ApiSettings, user_id: UUID, tenant_id: UUID, roles: list[str], ttl_s: int | None = None
) -> str:
    key, alg = _signing_key(settings)
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "tenant": str(tenant_id),
        "roles": [str(r) for r in roles],
        "iat": now,
        "exp": now + (ttl_s if ttl_s is not None else settings.jwt_ttl_s),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    return jwt.encode(claims, key, algorithm=alg)


def principal_from_token(settings: ApiSettings, token: str) -> Principal:
    key, alg = _verify_key(settings)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub", "tenant", "roles"]},
        )
    except jwt.ExpiredSignatureError:
        raise unauthenticated("token expired") from None
    except jwt.PyJWTError as exc:
        raise unauthenticated(f"invalid token: {exc}") from None
    try:
        user_id = UUID(str(claims["sub"]))
        tenant_id = UUID(str(claims["tenant"]))
        roles = [UserRole(r) for r in claims["roles"]]
    except (ValueError, TypeError):
        raise unauthenticated("invalid token claims") from None
    if not roles:
        raise unauthenticated("token carries no role")
    return Principal(
        tenant_id=tenant_id,
        actor_id=user_id,
        actor_type="user",
        permissions=permissions_for(roles),
        roles=tuple(roles),
        own_only=own_only(roles),
        user_id=user_id,
        extra={"exp": float(claims["exp"])},
    )


# --- API keys -------------------------------------------------------------------------------


def new_api_key() -> tuple[str, str, str]:
    """(full key shown once, prefix stored, hash stored)."""
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> str:
    return "sha256$" + hashlib.sha256(key.encode()).hexdigest()


def split_api_key(key: str) -> str:
    """The prefix of a well-formed key (raise 401 otherwise)."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] + "_" != API_KEY_PREFIX or len(parts[1]) != 12:
        raise unauthenticated("malformed API key")
    return parts[1]


def rotation(
    old: dict[str, Any], at: datetime, overlap_s: int, days: int | None
) -> tuple[datetime | None, datetime]:
    """(the successor's expiry, the old key's new expiry): the successor lives `days`, else as
    long as the old key was meant to; the old key ends after the overlap (or sooner, if it was
    going to anyway)."""
    if days is not None:
        successor = at + timedelta(days=days)
    elif old["expires_at"] is not None:
        successor = at + (old["expires_at"] - old["created_at"])
    else:
        successor = None
    old_end = at + timedelta(seconds=overlap_s)
    if old["expires_at"] is not None:
        old_end = min(old_end, old["expires_at"])
    return successor, old_end


def check_scopes(scopes: list[str]) -> list[str]:
    bad = [s for s in scopes if s not in PERMISSIONS]
    if bad:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR,
            f"unknown scope(s): {', '.join(bad)}",
            {"field": "scopes", "allowed": list(PERMISSIONS)},
        )
    return sorted(set(scopes))


def principal_from_key_row(key: str, row: dict[str, Any] | None) -> Principal:
    if row is None or not hmac.compare_digest(row["key_hash"], hash_api_key(key)):
        raise unauthenticated("unknown API key")
    if row["revoked_at"] is not None:
        raise unauthenticated("API key revoked")
    expires_at = row.get("expires_at")
    left = None if expires_at is None else (expires_at - datetime.now(UTC)).total_seconds()
    if left is not None and left <= 0:
        raise unauthenticated("API key expired")
    return Principal(
        tenant_id=row["tenant_id"],
        actor_id=row["id"],
        actor_type="api_key",
        permissions=frozenset(row["scopes"]),
        user_id=row["created_by"],
        extra={} if left is None else {"expires_in_s": left},
    )


class TokenCache:
    """Verified JWTs for `ttl_s` at most (and never past a few seconds before they expire):
    decoding and the check that the token's user and tenant are still active cost more than
    the look-up. Only tokens that passed both are stored; `trusted` False (the change listener
    is down, api.core.auth_events) makes every request verify again."""

    def __init__(self, ttl_s: float = 5.0, max_items: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self.trusted = True
        self._items: dict[str, tuple[float, Principal]] = {}

    def get(self, token: str) -> Principal | None:
        if not self.trusted:
            return None
        hit = self._items.get(token)
        if hit is None:
            return None
        if hit[0] <= time.time():
            self._items.pop(token, None)
            return None
        return hit[1]

    def put(self, token: str, principal: Principal) -> None:
        if len(self._items) >= self.max_items:
            self._items.clear()
        until = min(principal.extra.get("exp", 0) - 1, time.time() + self.ttl_s)
        self._items[token] = (until, principal)

    def forget(self, *, user_id: UUID | None = None, tenant_id: UUID | None = None) -> None:
        for k, (_, p) in list(self._items.items()):
            if p.actor_id == user_id or p.tenant_id == tenant_id:
                self._items.pop(k, None)

    def clear(self) -> None:
        self._items.clear()


class KeyCache:
    """Verified API keys for a few seconds (the look-up is a database round trip); a revoked
    key is dropped at once in every process (api.core.auth_events)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self.trusted = True
        self._items: dict[str, tuple[float, Principal]] = {}

    def get(self, key: str) -> Principal | None:
        if not self.trusted:
            return None
        hit = self._items.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, key: str, principal: Principal) -> None:
        if len(self._items) > 10_000:
            self._items.clear()
        until = time.monotonic() + self.ttl_s
        expires = principal.extra.get("expires_in_s")
        if expires is not None:
            until = min(until, time.monotonic() + expires)
        self._items[key] = (until, principal)

    def forget(self, key_id: UUID) -> None:
        for k, (_, p) in list(self._items.items()):
            if p.actor_id == key_id:
                self._items.pop(k, None)

    def forget_tenant(self, tenant_id: UUID) -> None:
        for k, (_, p) in list(self._items.items()):
            if p.tenant_id == tenant_id:
                self._items.pop(k, None)

    def clear(self) -> None:
        self._items.clear()
