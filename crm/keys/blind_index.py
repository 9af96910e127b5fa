"""Blind indexes: equality lookups on encrypted values through a keyed HMAC.

`blind_index(tenant, "email", value)` is HMAC-SHA256 under the tenant's own index key (kind
`index` in `crm.tenant_data_keys`, random, wrapped by the master key like a data key) over the
field name and the normalised value. It is stored beside the ciphertext and looked up by
equality; without the index key it reveals only which rows share a value, within one tenant
and field. The index key is not a data key and not derived from one: rotating data keys (`crm
keys rotate`) leaves every index value as it is, and a master rotation re-wraps the same key.

Rotating the index key itself is a re-index: add index version n+1, recompute each row's index
from its decrypted value under it (in batches, as a data key rotation), and while that runs
look up with every version (`lookup_values`); then drop version n. A value carries its version
(`bi<version>:`) so both can live in one column meanwhile.

What must be found before a tenant is known (a staff e-mail at sign-in) is indexed under the
deployment's `signin-index` key instead (`deployment_index`, `deployment_lookup_values`): one
index across tenants, so it reveals which staff accounts of the deployment share an address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable
from uuid import UUID

from crm.keys.keyring import INDEX, SIGNIN_INDEX, Keyring, keyring

PREFIX = "bi"


def normalise_email(value: str) -> str:
    """What makes two e-mails the same address here: Unicode NFKC, surrounding whitespace
    dropped, lower case (mailbox names are case-insensitive in practice; `lower`, not
    `casefold`, so that `ß` and `ss` stay two addresses)."""
    return unicodedata.normalize("NFKC", value).strip().lower()


def normalise_text(value: str) -> str:
    """Any other field: NFKC, surrounding whitespace dropped, inner runs collapsed, lower case."""
    return " ".join(unicodedata.normalize("NFKC", value).split()).lower()


def normalise_phone(value: str) -> str:
    """A phone number's digits alone (spaces, dashes, brackets and a leading + dropped)."""
    return re.sub(r"\D", "", value)


NORMALISERS: dict[str, Callable[[str], str]] = {"email": normalise_email, "phone": normalise_phone}


def _mac(key: bytes, version: int, field: str, value: str) -> str:
    normal = NORMALISERS.get(field, normalise_text)(value)
    digest = hmac.new(key, f"{field}\x00{normal}".encode(), hashlib.sha256).hexdigest()
    return f"{PREFIX}{version}:{digest}"


def blind_index(tenant_id: UUID, field: str, value: str, ring: Keyring | None = None) -> str:
    """The value to store for `value` of `field` under the tenant's current index key."""
    version, key = (ring or keyring()).current(tenant_id, INDEX)
    return _mac(key, version, field, value)


def keyed_digest(tenant_id: UUID, purpose: str, data: bytes, ring: Keyring | None = None) -> str:
    """A digest of `data` (a whole record, not a normalised value) under the tenant's current
    index key: tells a changed record from an unchanged one without letting anyone who reads
    it confirm a guess of its content, as a plain SHA-256 would."""
    version, key = (ring or keyring()).current(tenant_id, INDEX)
    return f"{PREFIX}{version}:{_digest(key, purpose, data)}"


def digest_matches(
    tenant_id: UUID, purpose: str, data: bytes, stored: str, ring: Keyring | None = None
) -> bool:
    """Whether `stored` is the digest of `data`: under the index key version it names, or a
    plain SHA-256 (digests written before they were keyed)."""
    m = re.match(rf"^{PREFIX}(\d+):([0-9a-f]{{64}})$", stored)
    if m is None:
        return hmac.compare_digest(stored, hashlib.sha256(data).hexdigest())
    key = (ring or keyring()).key(tenant_id, int(m.group(1)), INDEX)
    return hmac.compare_digest(m.group(2), _digest(key, purpose, data))


def _digest(key: bytes, purpose: str, data: bytes) -> str:
    return hmac.new(key, purpose.encode() + b"\x00" + data, hashlib.sha256).hexdigest()


def lookup_values(tenant_id: UUID, field: str, value: str, ring: Keyring | None = None) -> list[str]:
    """What to match (`= ANY(...)`) for `value`: its index under every stored index version."""
    ring = ring or keyring()
    ring.current(tenant_id, INDEX)  # makes the first index key if there is none
    return [_mac(ring.key(tenant_id, v, INDEX), v, field, value) for v in ring.versions(tenant_id, INDEX)]


def deployment_index(field: str, value: str, ring: Keyring | None = None) -> str:
    """The value to store for `value` of `field` under the deployment's current sign-in index key
    (its first version is made here if none is stored: the owner's writers)."""
    version, key = (ring or keyring()).current(None, SIGNIN_INDEX)
    return _mac(key, version, field, value)


def deployment_lookup_values(field: str, value: str, ring: Keyring | None = None) -> list[str]:
    """What to match for `value` under every stored version of the sign-in index key (none
    stored: nothing to match; a restricted role never makes the first)."""
    ring = ring or keyring()
    return [_mac(ring.key(None, v, SIGNIN_INDEX), v, field, value) for v in ring.versions(None, SIGNIN_INDEX)]
