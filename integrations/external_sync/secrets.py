"""Connection credentials at rest: AES-GCM under a key the environment provides.

`KeyProvider` is the seam a KMS would fill: it names the key in use (stored next to the
ciphertext, so keys can rotate) and hands out keys by name. The default reads
`CRM_SYNC_CREDENTIALS_KEY` (base64 of 32 bytes) from the environment or `.crm/env`, as
`crm.settings` reads its secrets; `CRM_SYNC_CREDENTIALS_KEY_ID` names it (default `env-1`).
Without it the key is derived from TENANT_CONTEXT_KEY (id `derived-1`).
The associated data binds a ciphertext to its tenant, so a row copied to another tenant does
not decrypt.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Protocol
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm.errors import CRMError, CRMErrorCode
from crm.settings import default_home, get_settings

NONCE = 12


class KeyProvider(Protocol):
    """Where data keys come from (the environment here; a KMS could stand in)."""

    def current(self) -> tuple[str, bytes]: ...
    def key(self, key_id: str) -> bytes: ...


class _KeySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    crm_sync_credentials_key: SecretStr | None = None
    crm_sync_credentials_key_id: str = "env-1"


DERIVED_KEY_ID = "derived-1"
"""The id of the key derived from TENANT_CONTEXT_KEY when no explicit key is set."""


class EnvKeyProvider:
    """The key of `CRM_SYNC_CREDENTIALS_KEY`; without it, one derived (HKDF-SHA256) from
    TENANT_CONTEXT_KEY, the secret every API and worker process already holds (as the webhook
    secrets do); neither: refuses to work (never a built-in default)."""

    def __init__(self) -> None:
        s = _KeySettings(_env_file=default_home() / "env")
        self._id = s.crm_sync_credentials_key_id
        raw = s.crm_sync_credentials_key.get_secret_value() if s.crm_sync_credentials_key else None
        self._key = _decode(raw) if raw else None
        if self._key is None:
            base = get_settings().tenant_context_key
            if base is not None:
                self._id = DERIVED_KEY_ID
                hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"crm-sync-credentials")
                self._key = hkdf.derive(base.get_secret_value().encode())

    def current(self) -> tuple[str, bytes]:
        return self._id, self.key(self._id)

    def key(self, key_id: str) -> bytes:
        if self._key is None:
            raise CRMError(
                CRMErrorCode.INTEGRATION_SYNC_FAILED,
                "no key to encrypt sync credentials: set CRM_SYNC_CREDENTIALS_KEY (base64 of 32 bytes)"
                " or TENANT_CONTEXT_KEY",
                {"setting": "CRM_SYNC_CREDENTIALS_KEY"},
            )
        if key_id != self._id:
            raise CRMError(
                CRMErrorCode.INTEGRATION_SYNC_FAILED,
                f"credentials were encrypted with key {key_id!r}, which this process does not hold",
                {"key_id": key_id},
            )
        return self._key


def _decode(raw: str) -> bytes:
    key = base64.b64decode(raw)
    if len(key) != 32:
        raise ValueError("CRM_SYNC_CREDENTIALS_KEY must be base64 of 32 bytes")
    return key


def new_key() -> str:
    """A fresh key, as the setting takes it (`crm sync new-key`)."""
    return base64.b64encode(os.urandom(32)).decode()


def encrypt(
    credentials: dict[str, Any], tenant_id: UUID, keys: KeyProvider | None = None
) -> tuple[bytes, str]:
    """(nonce + ciphertext, key id) of the credentials as JSON."""
    key_id, key = (keys or EnvKeyProvider()).current()
    nonce = os.urandom(NONCE)
    sealed = AESGCM(key).encrypt(nonce, orjson.dumps(credentials), str(tenant_id).encode())
    return nonce + sealed, key_id


def decrypt(blob: bytes, key_id: str, tenant_id: UUID, keys: KeyProvider | None = None) -> dict[str, Any]:
    key = (keys or EnvKeyProvider()).key(key_id)
    try:
        plain = AESGCM(key).decrypt(bytes(blob[:NONCE]), bytes(blob[NONCE:]), str(tenant_id).encode())
    except InvalidTag:
        raise CRMError(
            CRMErrorCode.INTEGRATION_SYNC_FAILED,
            "the stored credentials do not decrypt with this key",
            {"key_id": key_id},
        ) from None
    out: dict[str, Any] = orjson.loads(plain)
    return out
