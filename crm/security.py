"""Password hashing shared by the API (users, API keys) and the dashboards' sign-in.

Argon2id via argon2-cffi: one hasher, one format, so a hash written by one component
verifies in the other."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

TENANT_SETTING = "app.tenant_id"
"""Per-transaction Postgres setting that row-level security policies key on:
`select set_config('app.tenant_id', :tenant, true)` at the start of each transaction."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
