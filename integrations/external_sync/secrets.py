"""Connection credentials at rest: under the tenant's data key (`crm.keys`, envelope encryption).

Stored as (nonce + ciphertext, key id): `dk<version>` names the tenant's data key version.
Credentials written before data keys (key id `env-1`, `derived-1`, ...) still open with
`CRM_SYNC_CREDENTIALS_KEY` (or the key derived from TENANT_CONTEXT_KEY) until `crm keys rotate`
moves them. The associated data binds a ciphertext to its tenant. Every failure is an
`INTEGRATION_SYNC_FAILED` error naming the setting or key.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson

from crm import secrets as legacy_keys
from crm.errors import CRMError, CRMErrorCode
from crm.keys import sealed
from crm.keys.columns import SYNC_CREDENTIALS, SYNC_LEGACY
from crm.keys.keyring import keyring
from crm.secrets import DERIVED_KEY_ID, KeyProvider, new_key

__all__ = ["DERIVED_KEY_ID", "KeyProvider", "decrypt", "encrypt", "new_key"]

SETTING = SYNC_LEGACY[0]
FAILURES = (legacy_keys.KeyUnavailable, legacy_keys.Undecryptable)


def encrypt(
    credentials: dict[str, Any], tenant_id: UUID, keys: KeyProvider | None = None, url: str | None = None
) -> tuple[bytes, str]:
    """(nonce + ciphertext, key id) of the credentials as JSON, under the data key of `url`'s
    database (where they are stored; default: this process's). `keys` is accepted for callers
    of the pre-data-key form and ignored: new values are always under the data key."""
    try:
        return sealed.seal(
            tenant_id, orjson.dumps(credentials), SYNC_CREDENTIALS.aad(tenant_id), keyring(url)
        )
    except legacy_keys.KeyUnavailable as e:
        raise CRMError(CRMErrorCode.INTEGRATION_SYNC_FAILED, str(e), {"setting": "CRM_MASTER_KEY"}) from None


def decrypt(
    blob: bytes, key_id: str, tenant_id: UUID, keys: KeyProvider | None = None, url: str | None = None
) -> dict[str, Any]:
    """`keys`: the legacy key to open pre-data-key values with (default: the environment's);
    `url`: the database the credentials were read from."""
    legacy = keys or SYNC_CREDENTIALS.legacy_keys()
    try:
        plain = sealed.unseal(tenant_id, blob, key_id, SYNC_CREDENTIALS.aad(tenant_id), legacy, keyring(url))
    except FAILURES as e:
        raise CRMError(CRMErrorCode.INTEGRATION_SYNC_FAILED, str(e), {"key_id": key_id}) from None
    out: dict[str, Any] = orjson.loads(plain)
    return out
