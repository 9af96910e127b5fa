"""The notes people write: a lead's or deal's activity `description` (`crm.lead_activities`,
`crm.deal_activities`), encrypted under the tenant's data key.

Free text names people and what was said to them, so it is stored sealed like people's values:
`v2:dk<version>:<base64>` text, its associated data `<tenant>:activity-description` (one purpose
for both tables, so an activity's text reads the same wherever it is copied). Every writer
seals it when the row is built (`crm.changes.activity_rows`): the stored row, its audit images
and its contract event carry the sealed text, and a field of the event defaulted from the
description (a note's `note`, a document's `title`) carries it sealed too. What shows a note to
someone (the API's answers, webhook requests, a ticket's enrichment, pushes to a synced CRM)
opens it. An empty description stays empty: it says nothing. A description written before the
column was encrypted reads as it is, until `crm keys rotate` seals it. A landed activity event
may hold the description sealed deterministically (`d2:`, by the lander): it opens here too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from crm.keys import deterministic, sealed
from crm.keys.keyring import Keyring
from crm.secrets import EnvKeyProvider

TABLES: tuple[str, ...] = ("lead_activities", "deal_activities")
"""Tables of `crm` holding notes, each in its `COLUMN`."""
COLUMN = "description"
PURPOSE = "activity-description"
COPIES: tuple[str, ...] = (COLUMN, "note", "title")
"""The fields of an activity event that may hold the description (`crm.events.activities`)."""
TITLE_BYTES = 330
"""A title defaulted from a sealed note is its first this many bytes: sealed, at most the 500
characters the contract allows."""
LEGACY = ("CRM_NOTES_LEGACY_KEY", "crm-notes")
"""No key: notes before encryption were readable text, never `v1:` values."""
_NO_LEGACY = EnvKeyProvider(*LEGACY)
_SEALED = f"v2:{sealed.PREFIX}"

Sealer = Callable[[str], str]


def aad(tenant_id: UUID | str) -> bytes:
    return f"{tenant_id}:{PURPOSE}".encode()


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith(_SEALED) or deterministic.is_deterministic(value))


def sealer(tenant_id: UUID, ring: Keyring | None = None) -> Sealer:
    """Seals a tenant's notes under its current data key, looked up once (a row, a batch);
    an empty text is returned as it is. Every other text is sealed, even one that looks sealed:
    a note is what someone typed."""
    seal = sealed.text_sealer(tenant_id, ring)
    fixed = aad(tenant_id)

    def sealed_note(text: str) -> str:
        return seal(text.encode(), fixed) if text else text

    return sealed_note


def open_note(tenant_id: UUID | str, value: Any, ring: Keyring | None = None) -> Any:
    """The readable note, of either sealed form (text written before encryption, an empty
    one, or None, comes back as it is)."""
    if not isinstance(value, str) or not is_sealed(value):
        return value
    tid = UUID(str(tenant_id))
    if deterministic.is_deterministic(value):
        return deterministic.unseal_text(tid, value, aad(tid), ring).decode()
    return sealed.unseal_text(tid, value, aad(tid), _NO_LEGACY, ring).decode()


def opened_row(tenant_id: UUID | str, row: Mapping[str, Any], ring: Keyring | None = None) -> dict[str, Any]:
    """A copy of an activity row (or its image) with its description readable."""
    out = dict(row)
    if COLUMN in out:
        out[COLUMN] = open_note(tenant_id, out[COLUMN], ring)
    return out


def opened_payload(
    tenant_id: UUID | str, payload: Mapping[str, Any], ring: Keyring | None = None
) -> dict[str, Any]:
    """A copy of an activity event's payload with the description and its copies readable."""
    out = dict(payload)
    for name in COPIES:
        if name in out:
            out[name] = open_note(tenant_id, out[name], ring)
    return out


def title_of(description: str, seal: Sealer | None, sealed_description: str | None = None) -> str:
    """A title defaulted from the description: its first 500 characters, or sealed, its first
    `TITLE_BYTES` bytes (`sealed_description` itself when that is the whole of it)."""
    if seal is None:
        return description[:500]
    head = description.encode()[:TITLE_BYTES].decode(errors="ignore")
    return sealed_description if head == description and sealed_description is not None else seal(head)
