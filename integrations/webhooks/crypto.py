"""Webhook signing secrets at rest, through `crm.secrets` (AES-GCM, a KMS-replaceable provider).

The key is WEBHOOK_SECRET_KEY (base64 of 32 bytes) when set, otherwise one derived from
TENANT_CONTEXT_KEY. A stored secret reads `v2:<key id>:<base64>`; `v1:<base64>` (written before
keys had ids) opens with the key in use. Each ciphertext is bound to its tenant and purpose.
"""

from __future__ import annotations

import base64
import secrets
from uuid import UUID

from crm import secrets as sealed
from crm.secrets import KeyProvider

SECRET_PREFIX = "whsec_"
SETTING = "WEBHOOK_SECRET_KEY"


def key_provider() -> KeyProvider:
    return sealed.EnvKeyProvider(SETTING, "crm-webhook-secrets")


def _aad(tenant_id: UUID, purpose: str) -> bytes:
    return f"{tenant_id}:{purpose}".encode()


def encrypt(plain: str, tenant_id: UUID, purpose: str, keys: KeyProvider | None = None) -> str:
    blob, key_id = sealed.seal(plain.encode(), _aad(tenant_id, purpose), keys or key_provider())
    return f"v2:{key_id}:{base64.b64encode(blob).decode()}"


def decrypt(stored: str, tenant_id: UUID, purpose: str, keys: KeyProvider | None = None) -> str:
    keys = keys or key_provider()
    version, _, rest = stored.partition(":")
    if version == "v2":
        key_id, _, body = rest.partition(":")
    elif version == "v1":
        key_id, body = keys.current()[0], rest
    else:
        raise ValueError(f"unknown secret format {version!r}")
    return sealed.unseal(base64.b64decode(body), key_id, _aad(tenant_id, purpose), keys).decode()


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
