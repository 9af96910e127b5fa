"""Connection credentials at rest, through `crm.secrets` (AES-GCM, a KMS-replaceable provider).

The key is `CRM_SYNC_CREDENTIALS_KEY` (base64 of 32 bytes; `CRM_SYNC_CREDENTIALS_KEY_ID` names
it, default `env-1`) from the environment or `.crm/env`, else one derived from
TENANT_CONTEXT_KEY (id `derived-1`). The key id is stored next to the ciphertext so keys can
rotate; the associated data binds a ciphertext to its tenant. Every failure is an
`INTEGRATION_SYNC_FAILED` error naming the setting or key.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson

from crm import secrets as sealed
from crm.errors import CRMError, CRMErrorCode
from crm.secrets import DERIVED_KEY_ID, KeyProvider, new_key

__all__ = ["DERIVED_KEY_ID", "KeyProvider", "decrypt", "encrypt", "new_key"]

SETTING = "CRM_SYNC_CREDENTIALS_KEY"


def _keys(keys: KeyProvider | None) -> KeyProvider:
    return keys or sealed.EnvKeyProvider(SETTING, "crm-sync-credentials")


def encrypt(
    credentials: dict[str, Any], tenant_id: UUID, keys: KeyProvider | None = None
) -> tuple[bytes, str]:
    """(nonce + ciphertext, key id) of the credentials as JSON."""
    try:
        return sealed.seal(orjson.dumps(credentials), str(tenant_id).encode(), _keys(keys))
    except sealed.KeyUnavailable as e:
        raise CRMError(CRMErrorCode.INTEGRATION_SYNC_FAILED, str(e), {"setting": SETTING}) from None


def decrypt(blob: bytes, key_id: str, tenant_id: UUID, keys: KeyProvider | None = None) -> dict[str, Any]:
    try:
        plain = sealed.unseal(blob, key_id, str(tenant_id).encode(), _keys(keys))
    except (sealed.KeyUnavailable, sealed.Undecryptable) as e:
        raise CRMError(CRMErrorCode.INTEGRATION_SYNC_FAILED, str(e), {"key_id": key_id}) from None
    out: dict[str, Any] = orjson.loads(plain)
    return out
