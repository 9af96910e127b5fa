"""The master key: wraps and unwraps tenant keys, and is all a KMS would have to implement.

A `MasterKeyProvider` offers what a cloud KMS offers (AWS KMS Encrypt/Decrypt, GCP KMS, Vault
transit): wrap a small key under the master key in use, naming it, and unwrap one given the
name it was wrapped under. The master key itself never leaves the provider and never reaches
the database. `context` is bound to the wrapping (a KMS's encryption context): a wrapped key
copied to another tenant's or version's row does not unwrap.

`EnvMasterKeyProvider` reads `CRM_MASTER_KEY` (base64 of 32 bytes) and `CRM_MASTER_KEY_ID`
(default `master-1`) from the environment or `.crm/env`, and during a master rotation the key
being replaced from `CRM_MASTER_KEY_PREVIOUS` / `CRM_MASTER_KEY_PREVIOUS_ID`. Without
`CRM_MASTER_KEY` the master key is derived from TENANT_CONTEXT_KEY (HKDF, id `derived-1`), as
the other keys of `crm.secrets`; the derived key also stays available for unwrapping once an
explicit key is set, so moving off it is one `crm keys rotate --master`. With neither setting
the provider refuses: there is no built-in default.
"""

from __future__ import annotations

from typing import Protocol

from crm.secrets import DERIVED_KEY_ID, KeyUnavailable, decode_key, derived_key, env_setting, seal, unseal

SETTING = "CRM_MASTER_KEY"
PREVIOUS = "CRM_MASTER_KEY_PREVIOUS"
DEFAULT_ID = "master-1"
DERIVATION_PURPOSE = "crm-master-key"


class MasterKeyProvider(Protocol):
    """Wraps and unwraps tenant keys (the environment here; a KMS could stand in)."""

    def current_id(self) -> str: ...
    def wrap(self, key: bytes, context: bytes) -> tuple[bytes, str]: ...
    def unwrap(self, wrapped: bytes, master_key_id: str, context: bytes) -> bytes: ...


class EnvMasterKeyProvider:
    """Master keys from the environment: the one in use, the one it replaces, the derived one."""

    def __init__(self, keys: dict[str, bytes] | None = None, current: str | None = None) -> None:
        """`keys`/`current` given: exactly these (tests, tools); else read the settings."""
        if keys is not None:
            self._keys, self._current = dict(keys), current
            return
        self._keys = {}
        self._current = None
        derived = derived_key(DERIVATION_PURPOSE)
        if derived is not None:
            self._keys[DERIVED_KEY_ID] = derived
            self._current = DERIVED_KEY_ID
        previous = env_setting(PREVIOUS)
        if previous:
            self._keys[env_setting(f"{PREVIOUS}_ID") or "previous"] = decode_key(previous, PREVIOUS)
        raw = env_setting(SETTING)
        if raw:
            self._current = env_setting(f"{SETTING}_ID") or DEFAULT_ID
            self._keys[self._current] = decode_key(raw, SETTING)

    def current_id(self) -> str:
        if self._current is None:
            raise KeyUnavailable(f"no master key: set {SETTING} (base64 of 32 bytes) or TENANT_CONTEXT_KEY")
        return self._current

    # as a `crm.secrets.KeyProvider`, so wrapping is that module's AES-GCM seal
    def current(self) -> tuple[str, bytes]:
        return self.current_id(), self._keys[self.current_id()]

    def key(self, key_id: str) -> bytes:
        master = self._keys.get(key_id)
        if master is None:
            raise KeyUnavailable(f"wrapped by master key {key_id!r}, which this process does not hold")
        return master

    def wrap(self, key: bytes, context: bytes) -> tuple[bytes, str]:
        return seal(key, context, self)

    def unwrap(self, wrapped: bytes, master_key_id: str, context: bytes) -> bytes:
        return unseal(wrapped, master_key_id, context, self)
