"""AES-GCM under keys from a provider a KMS could replace: the primitive of `crm.keys`.

New values are encrypted under the tenant's data key (`crm.keys`, envelope encryption); this
module keeps the AES-GCM seal/unseal both use, and the keys values were encrypted with before
data keys existed, so that those still open until `crm keys rotate` moves them. A `KeyProvider`
names the key in use (stored beside the ciphertext) and hands out keys by name.
`EnvKeyProvider` reads an explicit key (base64 of 32 bytes) from the environment or `.crm/env`;
without one it derives a key per purpose (HKDF-SHA256) from TENANT_CONTEXT_KEY, the secret every
API and worker process already holds; with neither it refuses (never a built-in default). The
associated data binds a ciphertext to its tenant and purpose, so a value copied to another
tenant's row, or to another column, does not decrypt.
"""

from __future__ import annotations

import base64
import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from dotenv import dotenv_values

from crm.settings import default_home, get_settings

NONCE = 12
DERIVED_KEY_ID = "derived-1"
"""The id of a key derived from TENANT_CONTEXT_KEY (no explicit key set)."""


class KeyUnavailable(RuntimeError):
    """No key to encrypt with, or not the key a value was encrypted with."""


class Undecryptable(ValueError):
    """The ciphertext does not open with this key and associated data (tampered, or moved)."""


class KeyProvider(Protocol):
    """Where keys come from (the environment here; a KMS could stand in)."""

    def current(self) -> tuple[str, bytes]: ...
    def key(self, key_id: str) -> bytes: ...


def env_setting(name: str) -> str | None:
    """The environment's value, else `.crm/env`'s (as `crm.settings` reads its secrets)."""
    value = os.environ.get(name)
    if value:
        return value
    path = default_home() / "env"
    return (dotenv_values(path).get(name) or None) if path.exists() else None


def decode_key(raw: str, setting: str) -> bytes:
    key = base64.b64decode(raw)
    if len(key) != 32:
        raise KeyUnavailable(f"{setting} must be base64 of 32 bytes")
    return key


def derived_key(purpose: str) -> bytes | None:
    """A key for `purpose` derived (HKDF-SHA256) from TENANT_CONTEXT_KEY; None without it."""
    base = get_settings().tenant_context_key
    if base is None:
        return None
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return hkdf.derive(base.get_secret_value().encode())


def new_key() -> str:
    """A fresh key in the form the settings take."""
    return base64.b64encode(os.urandom(32)).decode()


class EnvKeyProvider:
    """The key of setting `setting` (its id from `<setting>_ID`, default `env-1`); else one
    derived from TENANT_CONTEXT_KEY for `purpose`."""

    def __init__(self, setting: str, purpose: str) -> None:
        self.setting = setting
        raw = env_setting(setting)
        self._id = env_setting(f"{setting}_ID") or "env-1"
        self._key = decode_key(raw, setting) if raw else None
        if self._key is None:
            self._key = derived_key(purpose)
            if self._key is not None:
                self._id = DERIVED_KEY_ID

    def current(self) -> tuple[str, bytes]:
        return self._id, self.key(self._id)

    def key(self, key_id: str) -> bytes:
        if self._key is None:
            raise KeyUnavailable(f"no key: set {self.setting} (base64 of 32 bytes) or TENANT_CONTEXT_KEY")
        if key_id != self._id:
            raise KeyUnavailable(f"encrypted with key {key_id!r}, which this process does not hold")
        return self._key


def seal(plain: bytes, aad: bytes, keys: KeyProvider) -> tuple[bytes, str]:
    """(nonce + ciphertext, key id)."""
    key_id, key = keys.current()
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plain, aad), key_id


def unseal(blob: bytes, key_id: str, aad: bytes, keys: KeyProvider) -> bytes:
    try:
        return AESGCM(keys.key(key_id)).decrypt(bytes(blob[:NONCE]), bytes(blob[NONCE:]), aad)
    except InvalidTag:
        raise Undecryptable(f"the stored value does not decrypt with key {key_id!r}") from None
