"""Values encrypted under the tenant's data key, in the two stored forms.

A value names the key that encrypted it: `dk<version>` for a tenant data key, anything else
for a key of `crm.secrets`' providers (values written before data keys existed, which still
decrypt). Bytes are stored as (nonce + ciphertext, key id) in two columns; text as
`v2:<key id>:<base64>` in one (`v1:<base64>`, older still, used the provider's current key).
The associated data (the caller's: tenant and purpose) binds a value to its row's tenant and
its column, on top of the key being the tenant's own.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from uuid import UUID

from crm import secrets
from crm.keys.keyring import DATA, Keyring, keyring
from crm.secrets import KeyProvider

PREFIX = "dk"
_DATA_KEY_ID = re.compile(rf"^{PREFIX}(\d+)$")


def key_id(version: int) -> str:
    return f"{PREFIX}{version}"


def version_of(key_id: str) -> int | None:
    """The data key version a key id names; None for a legacy key."""
    m = _DATA_KEY_ID.match(key_id)
    return int(m.group(1)) if m else None


def seal(
    tenant_id: UUID, plain: bytes, aad: bytes, ring: Keyring | None = None, version: int | None = None
) -> tuple[bytes, str]:
    """(nonce + ciphertext, key id) under the tenant's current data key (or `version`)."""
    ring = ring or keyring()
    if version is None:
        version, key = ring.current(tenant_id, DATA)
    else:
        key = ring.key(tenant_id, version, DATA)
    return seal_with(plain, aad, version, key)


def seal_with(plain: bytes, aad: bytes, version: int, key: bytes) -> tuple[bytes, str]:
    """(nonce + ciphertext, key id) under `key`, data key `version` (fetched by the caller)."""
    blob, _ = secrets.seal(plain, aad, _Fixed(key_id(version), key))
    return blob, key_id(version)


def unseal(
    tenant_id: UUID | None,
    blob: bytes,
    kid: str,
    aad: bytes,
    legacy: KeyProvider,
    ring: Keyring | None = None,
) -> bytes:
    """`tenant_id` None: a value under the deployment's data key."""
    version = version_of(kid)
    if version is None:
        return secrets.unseal(blob, kid, aad, legacy)
    key = (ring or keyring()).key(tenant_id, version, DATA)
    return secrets.unseal(blob, kid, aad, _Fixed(kid, key))


def seal_text(
    tenant_id: UUID, plain: bytes, aad: bytes, ring: Keyring | None = None, version: int | None = None
) -> str:
    return text_form(*seal(tenant_id, plain, aad, ring, version))


def text_sealer(tenant_id: UUID, ring: Keyring | None = None) -> Callable[[bytes, bytes], str]:
    """`seal_text` for many values of one tenant: the current key is looked up once (a row
    of several sealed columns, a bulk load)."""
    version, key = (ring or keyring()).current(tenant_id, DATA)
    keys = _Fixed(key_id(version), key)
    return lambda plain, aad: text_form(*secrets.seal(plain, aad, keys))


def text_form(blob: bytes, kid: str) -> str:
    return f"v2:{kid}:{base64.b64encode(blob).decode()}"


def text_key_id(stored: str) -> str | None:
    """The key id of a `v2:` text value (None for `v1:`, which used the provider's current key)."""
    form, _, rest = stored.partition(":")
    if form == "v2":
        return rest.partition(":")[0]
    if form == "v1":
        return None
    raise ValueError(f"unknown encrypted value format {form!r}")


def unseal_text(
    tenant_id: UUID, stored: str, aad: bytes, legacy: KeyProvider, ring: Keyring | None = None
) -> bytes:
    kid = text_key_id(stored)
    body = stored.split(":", 2)[2] if kid is not None else stored.partition(":")[2]
    return unseal(tenant_id, base64.b64decode(body), kid or legacy.current()[0], aad, legacy, ring)


class _Fixed:
    """One key under one id, as a `KeyProvider` (to reuse `crm.secrets`' seal and unseal)."""

    def __init__(self, kid: str, key: bytes) -> None:
        self._kid, self._key = kid, key

    def current(self) -> tuple[str, bytes]:
        return self._kid, self._key

    def key(self, key_id: str) -> bytes:
        return self._key
