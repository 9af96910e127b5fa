"""Values sealed deterministically under the tenant's data key: equal values, equal text.

Where a value is stored inside a document that is compared as a whole (a landed event: a
redelivery with the same content must be recognised as the same, see `streaming.landing`), the
randomized form (`crm.keys.sealed`) cannot be used: every resend would differ. This form is
AES-GCM-SIV (RFC 8452) with one fixed nonce, under a key derived (HKDF-SHA256, info `INFO`) from
the tenant's data key of a version, with the caller's associated data (tenant and purpose). The
cipher is built to survive a repeated nonce: its synthetic IV is a MAC of the associated data
and the plaintext, so a repeat reveals only that two plaintexts are equal (RFC 8452, section 9),
which is the point here: the same plaintext, tenant, purpose and key version always give the
same text, and the text still opens only for that tenant and purpose. (AES-SIV, RFC 5297, would
do the same at about twice the cost per value.)

Stored as `d2:dk<version>:<base64>` text, so a reader tells it from the randomized `v2:` form.
What it reveals: which stored values are equal, within one tenant, one purpose and one key
version (as a blind index does), and nothing else. A value sealed under an older version stays
under it (nothing re-seals documents) and opens as long as that version is stored, which is for
good (`crm keys rotate` keeps every version).
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crm.keys.keyring import DATA, Keyring, keyring
from crm.keys.sealed import key_id
from crm.secrets import Undecryptable

FORM = "d2"
PREFIX = f"{FORM}:dk"
"""What every deterministic value starts with (`d2:dk<version>:`)."""
INFO = b"crm-deterministic-seal"
"""The HKDF info of the derived key: one purpose, so the data key itself never keys this cipher."""
NONCE = bytes(12)
"""The one nonce: determinism is the purpose (see above)."""
_TEXT = re.compile(rf"^{FORM}:dk(\d+):(.*)$", re.DOTALL)

_ciphers: dict[bytes, AESGCMSIV] = {}
_lock = threading.Lock()


def cipher(data_key: bytes) -> AESGCMSIV:
    """The cipher of a data key (its key derived once per data key and process)."""
    found = _ciphers.get(data_key)
    if found is None:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO)
        found = AESGCMSIV(hkdf.derive(data_key))
        with _lock:
            if len(_ciphers) > 100_000:  # tenants x versions: never in practice
                _ciphers.clear()
            _ciphers[data_key] = found
    return found


def is_deterministic(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def text_sealer(version: int, data_key: bytes) -> Callable[[bytes, bytes], str]:
    """Seal many values under one key version (a batch of events of one tenant)."""
    siv, head = cipher(data_key), f"{FORM}:{key_id(version)}:"
    return lambda plain, aad: head + base64.b64encode(siv.encrypt(NONCE, plain, aad)).decode()


def seal_text(
    tenant_id: UUID, plain: bytes, aad: bytes, ring: Keyring | None = None, version: int | None = None
) -> str:
    """`plain` sealed under the tenant's current data key (or `version`)."""
    ring = ring or keyring()
    if version is None:
        version, key = ring.current(tenant_id, DATA)
    else:
        key = ring.key(tenant_id, version, DATA)
    return text_sealer(version, key)(plain, aad)


def all_forms(tenant_id: UUID, plain: bytes, aad: bytes, ring: Keyring | None = None) -> list[str]:
    """`plain` sealed under every stored data key version: what to look for to find it."""
    ring = ring or keyring()
    ring.current(tenant_id, DATA)  # makes the first key if there is none
    return [seal_text(tenant_id, plain, aad, ring, v) for v in ring.versions(tenant_id, DATA)]


def unseal_text(tenant_id: UUID, stored: str, aad: bytes, ring: Keyring | None = None) -> bytes:
    m = _TEXT.match(stored)
    if m is None:
        raise ValueError("not a deterministically sealed value")
    key = (ring or keyring()).key(tenant_id, int(m.group(1)), DATA)
    try:
        return cipher(key).decrypt(NONCE, base64.b64decode(m.group(2)), aad)
    except InvalidTag:
        raise Undecryptable(f"the stored value does not decrypt with key dk{m.group(1)}") from None
