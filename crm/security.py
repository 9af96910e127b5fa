"""Password hashing shared by the API and the dashboards' sign-in, and the signed tenant
context of restricted database sessions.

Argon2id via argon2-cffi: one hasher, one format. A stored hash never leaves the database:
sign-in derives the hash of the given password under the account's parameters and salt
(`hash_with`) and the database compares (migration 1401)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.low_level import hash_secret

_hasher = PasswordHasher()

TENANT_SETTING = "app.tenant_id"
"""Per-transaction Postgres setting naming the tenant a restricted session (crm_api,
crm_reader) works for. Row-level security keys on `crm.current_tenant()`, which accepts it only
with `app.tenant_mac` signed for the session (migration 1401): set both with `SET_TENANT`."""
TENANT_MAC_SETTING = "app.tenant_mac"
TENANT_EXPR = "(SELECT crm.current_tenant())"
"""What a row-level security policy compares `tenant_id` with (never the raw setting)."""
SESSION_NONCE = "SELECT crm.session_nonce()"
"""The session's nonce (backend pid and start time), asked once per connection."""
SET_TENANT = f"SELECT set_config('{TENANT_SETTING}', %s, true), set_config('{TENANT_MAC_SETTING}', %s, true)"


class TenantContextNotConfigured(RuntimeError):
    """TENANT_CONTEXT_KEY is unset: no restricted session can be given a tenant."""


def context_keys(secret: str) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer padded keys of `secret` (what the database stores, so it
    computes the HMAC with its built-in sha256)."""
    key = hashlib.sha256(secret.encode()).digest().ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def tenant_mac(tenant_id: Any, nonce: str, secret: str | None = None) -> str:
    """The `app.tenant_mac` that makes `app.tenant_id` = `tenant_id` hold in the session whose
    `crm.session_nonce()` is `nonce`."""
    if secret is None:
        from crm.settings import get_settings

        configured = get_settings().tenant_context_key
        if configured is None:
            raise TenantContextNotConfigured("TENANT_CONTEXT_KEY is not set (crm up writes one to .crm/env)")
        secret = configured.get_secret_value()
    key = hashlib.sha256(secret.encode()).digest()
    return hmac.new(key, f"{tenant_id}:{nonce}".encode(), hashlib.sha256).hexdigest()


def tenant_params(tenant_id: Any, nonce: str) -> tuple[str, str]:
    """The two parameters of `SET_TENANT`."""
    return str(tenant_id), tenant_mac(tenant_id, nonce)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_with(settings: str, hash_len: int, password: str) -> str:
    """The argon2id hash of `password` under `settings` (`$argon2id$v=..$m=..,t=..,p=..$<salt>`,
    what `crm.signin_challenge` returns): the database compares it with the stored hash in
    `crm.signin_verify`, so no stored hash ever leaves the database."""
    try:
        _, kind, version, params, salt = settings.split("$")
        p = dict(kv.split("=", 1) for kv in params.split(","))
        raw_salt = base64.b64decode(salt + "=" * (-len(salt) % 4))
        if kind != "argon2id":
            raise ValueError(kind)
        return hash_secret(
            password.encode(),
            raw_salt,
            time_cost=int(p["t"]),
            memory_cost=int(p["m"]),
            parallelism=int(p["p"]),
            hash_len=hash_len,
            type=Type.ID,
            version=int(version.removeprefix("v=")),
        ).decode()
    except (ValueError, KeyError) as exc:
        raise ValueError(f"not argon2id settings: {settings!r}") from exc
