"""Secrets at rest: AES-GCM with a key from a provider, so a KMS can replace the environment.

The key is WEBHOOK_SECRET_KEY (32 bytes, base64) when set; otherwise it is derived (HKDF-SHA256)
from TENANT_CONTEXT_KEY, the secret every API and worker process already holds. Each
ciphertext is bound to its tenant and purpose (the AES-GCM associated data), so a value copied
to another tenant's row does not decrypt.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crm.settings import get_settings

VERSION = "v1"
SECRET_PREFIX = "whsec_"


class SecretKeyMissing(RuntimeError):
    """Neither WEBHOOK_SECRET_KEY nor TENANT_CONTEXT_KEY is configured."""


def environment_key() -> bytes:
    """The default key provider: WEBHOOK_SECRET_KEY, else a key derived from TENANT_CONTEXT_KEY."""
    explicit = os.environ.get("WEBHOOK_SECRET_KEY")
    if explicit:
        key = base64.b64decode(explicit)
        if len(key) != 32:
            raise SecretKeyMissing("WEBHOOK_SECRET_KEY must be 32 bytes, base64-encoded")
        return key
    base = get_settings().tenant_context_key
    if base is None:
        raise SecretKeyMissing("set WEBHOOK_SECRET_KEY (or TENANT_CONTEXT_KEY) to store webhook secrets")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"crm-webhook-secrets")
    return hkdf.derive(base.get_secret_value().encode())


KeyProvider = Callable[[], bytes]
key_provider: KeyProvider = environment_key
"""Replace (e.g. with a KMS data-key fetch) to keep the key out of the environment."""


def _aad(tenant_id: UUID, purpose: str) -> bytes:
    return f"{tenant_id}:{purpose}".encode()


def encrypt(plain: str, tenant_id: UUID, purpose: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key_provider()).encrypt(nonce, plain.encode(), _aad(tenant_id, purpose))
    return f"{VERSION}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(stored: str, tenant_id: UUID, purpose: str) -> str:
    version, _, body = stored.partition(":")
    if version != VERSION:
        raise ValueError(f"unknown secret format {version!r}")
    raw = base64.b64decode(body)
    return AESGCM(key_provider()).decrypt(raw[:12], raw[12:], _aad(tenant_id, purpose)).decode()


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
