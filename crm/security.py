"""Password hashing shared by the API (users, API keys) and the dashboards' sign-in.

Argon2id via argon2-cffi: one hasher, one format, so a hash written by one component
verifies in the other."""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

TENANT_SETTING = "app.tenant_id"
"""Per-transaction Postgres setting that row-level security policies key on:
`select set_config('app.tenant_id', :tenant, true)` at the start of each transaction."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches. Without a hash (no such account) the same argon2 work is
    done against a dummy hash, so the time taken does not tell whether the account exists."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))
