"""The original bytes of events the lander could not land (`raw.dead_letters`) or not yet
(`raw.parked_events`), encrypted under the deployment's data key.

Those bytes are whatever a sender sent: a whole event, people's values and free text included,
in plaintext. A dead letter's tenant may be unknown (bytes that do not parse) and a parked
event's tenant does not exist yet, so neither can be sealed under a tenant's key: they are
sealed under the deployment's own `data` key (`crm.deployment_keys`, wrapped by the master key
like every key), which the lander reads and, for its first version, adds. The stored bytes are
nonce + AES-GCM ciphertext, with the key id (`dk<version>`) in `raw_key_id` beside them; the
associated data names the purpose and the record's topic, so bytes moved to another topic do
not open. A row with no key id holds bytes stored before they were sealed, read as they are.
"""

from __future__ import annotations

from crm.keys import sealed
from crm.keys.keyring import DATA, Keyring, keyring
from crm.secrets import EnvKeyProvider

PURPOSE = "undelivered-event"
LEGACY = ("CRM_UNDELIVERED_LEGACY_KEY", "crm-undelivered")
"""No key: bytes stored before they were sealed are plaintext, never under a legacy key."""
_NO_LEGACY = EnvKeyProvider(*LEGACY)


def aad(topic: str) -> bytes:
    return f"deployment:{PURPOSE}:{topic}".encode()


def current_key(ring: Keyring | None = None) -> tuple[int, bytes]:
    """The deployment's current data key (its first version made on first use): what a caller
    that must not wait on the database in its loop fetches beforehand, in a thread."""
    return (ring or keyring()).current(None, DATA)


def seal(raw: bytes, topic: str, key: tuple[int, bytes]) -> tuple[bytes, str]:
    """(nonce + ciphertext, key id) of `raw` under `key` (a `current_key`)."""
    version, data_key = key
    return sealed.seal_with(raw, aad(topic), version, data_key)


def unseal(stored: bytes, key_id: str | None, topic: str, ring: Keyring | None = None) -> bytes:
    """The original bytes (bytes stored before sealing, with no key id, as they are)."""
    if key_id is None:
        return stored
    return sealed.unseal(None, stored, key_id, aad(topic), _NO_LEGACY, ring)
