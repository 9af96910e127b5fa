"""Webhook signing secrets at rest: under the tenant's data key (`crm.keys`, envelope encryption).

A stored secret reads `v2:dk<version>:<base64>`. Values written before data keys still open:
`v2:<key id>:<base64>` and `v1:<base64>` under WEBHOOK_SECRET_KEY (or the key derived from
TENANT_CONTEXT_KEY), until `crm keys rotate` moves them. Each ciphertext is bound to its tenant
and purpose (`crm.keys.columns`).
"""

from __future__ import annotations

import base64
import secrets
from uuid import UUID

from crm.keys import sealed
from crm.keys.columns import WEBHOOK_LEGACY
from crm.keys.keyring import keyring
from crm.secrets import EnvKeyProvider, KeyProvider

SECRET_PREFIX = "whsec_"
SETTING = WEBHOOK_LEGACY[0]


def key_provider() -> KeyProvider:
    """The key of values written before data keys."""
    return EnvKeyProvider(*WEBHOOK_LEGACY)


def _aad(tenant_id: UUID, purpose: str) -> bytes:
    return f"{tenant_id}:{purpose}".encode()


def encrypt(plain: str, tenant_id: UUID, purpose: str, url: str | None = None) -> str:
    """`url`: the database the value is stored in (its keys are there; default: this process's)."""
    return sealed.seal_text(tenant_id, plain.encode(), _aad(tenant_id, purpose), keyring(url))


def decrypt(
    stored: str, tenant_id: UUID, purpose: str, keys: KeyProvider | None = None, url: str | None = None
) -> str:
    """`keys`: the legacy key to open pre-data-key values with (default: the environment's);
    `url`: the database the value was read from."""
    legacy = keys or key_provider()
    return sealed.unseal_text(tenant_id, stored, _aad(tenant_id, purpose), legacy, keyring(url)).decode()


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
