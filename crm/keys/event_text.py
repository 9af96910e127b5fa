"""What people wrote in landed events (`raw.*` payloads), sealed by the lander, opened by readers.

A ticket's subject, body, requester company and CSAT comment, a conversation's subject, message
text and author, and an activity's description, e-mail subject and note are free text: anything a
person typed, names and addresses included. The lander stores them sealed deterministically
(`crm.keys.deterministic`, `d2:dk<n>:`) under the tenant's data key, because a landed event is
compared as a whole: a redelivery must land as the same text (a duplicate), a changed value as
other text (a conflict). A ticket's requester (`crm.keys.personal.REQUESTER`) is sealed by the
same step under the people's associated data.

`FIELDS` maps each topic's sealed payload fields to their purpose: the associated data is
`<tenant>:<purpose>`, so a value moved to another field or tenant does not open. An empty text
says nothing and is left as it is; so is a value already sealed (`v2:`/`d2:`: the write API seals
what it writes before it is published). Equal texts of one field and tenant land as equal text,
which is what such a form reveals. Readers open a payload (`open_payload`) or one field
(`open_field`) of either form; a value landed before sealing reads as it is.

Nothing re-seals landed documents: a value stays under the key version it landed with and opens
as long as that version is stored (for good: `crm keys rotate` keeps every version).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeGuard
from uuid import UUID

from crm.events.topics import Topic
from crm.keys import deterministic, notes, personal, sealed
from crm.keys.keyring import Keyring
from crm.secrets import EnvKeyProvider

ACTIVITY: dict[str, str] = {
    "description": notes.PURPOSE,
    "note": notes.PURPOSE,
    "subject": "activity-subject",
}
"""An activity's note, as the write API seals it (`crm.keys.notes`: one purpose for the
description and the note that copies it), and an e-mail activity's subject."""

FIELDS: dict[str, dict[str, str]] = {
    Topic.TICKETS: {
        "subject": "ticket-subject",
        "body": "ticket-body",
        "requester_company": "ticket-requester-company",
        "comment": "ticket-comment",
        **{f: personal.purpose(column) for f, column in personal.REQUESTER.items()},
    },
    Topic.CONVERSATIONS: {
        "subject": "conversation-subject",
        "text": "conversation-text",
        "author": "conversation-author",
    },
    Topic.LEAD_ACTIVITIES: ACTIVITY,
    Topic.DEAL_ACTIVITIES: ACTIVITY,
}
"""Per topic, the payload fields the lander seals and the purpose of each."""

EVIDENCE = "conversation-evidence"
"""The purpose of a conversation signal's quoted evidence (`crm.conversation_signals.evidence`,
sealed randomised: a span of a message's text)."""
LEGACY = ("CRM_EVENT_TEXT_LEGACY_KEY", "crm-event-text")
"""No key: text written before it was sealed was readable, never `v1:` values."""
_NO_LEGACY = EnvKeyProvider(*LEGACY)
_SEALED = (personal.SEALED_PREFIX, deterministic.PREFIX)

Sealer = Callable[[Mapping[str, Any]], dict[str, Any] | None]


def aad(tenant_id: UUID | str, purpose: str) -> bytes:
    return f"{tenant_id}:{purpose}".encode()


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(_SEALED)


def needs_sealing(value: Any) -> TypeGuard[str]:
    """A text the lander seals: not empty, not sealed already."""
    return isinstance(value, str) and value != "" and not value.startswith(_SEALED)


def sealer(topic: str, tenant_id: UUID, version: int, data_key: bytes) -> Sealer:
    """For a tenant's payloads of `topic` (their field dicts): a copy with its free text sealed
    deterministically under data key `version`, or None when there is nothing to seal."""
    seal = deterministic.text_sealer(version, data_key)
    aads = {f: aad(tenant_id, purpose) for f, purpose in FIELDS[topic].items()}

    def sealed_payload(fields: Mapping[str, Any]) -> dict[str, Any] | None:
        out: dict[str, Any] | None = None
        for f, fixed in aads.items():
            value = fields.get(f)
            if needs_sealing(value):
                if out is None:
                    out = dict(fields)
                out[f] = seal(value.encode(), fixed)
        return out

    return sealed_payload


def open_text(tenant_id: UUID, purpose: str, value: Any, ring: Keyring | None = None) -> Any:
    """The readable text of a value sealed under `purpose`, of either form (anything else, a
    text landed before sealing or None, comes back as it is)."""
    if not isinstance(value, str):
        return value
    if value.startswith(deterministic.PREFIX):
        return deterministic.unseal_text(tenant_id, value, aad(tenant_id, purpose), ring).decode()
    if value.startswith(personal.SEALED_PREFIX):
        return sealed.unseal_text(tenant_id, value, aad(tenant_id, purpose), _NO_LEGACY, ring).decode()
    return value


def open_field(tenant_id: UUID, topic: str, field: str, value: Any, ring: Keyring | None = None) -> Any:
    """One payload field of `topic` readable."""
    return open_text(tenant_id, FIELDS[topic][field], value, ring)


def open_payload(
    tenant_id: UUID, topic: str, payload: Mapping[str, Any], ring: Keyring | None = None
) -> dict[str, Any]:
    """A copy of a landed payload of `topic` with its sealed fields readable."""
    out = dict(payload)
    for f, purpose in FIELDS.get(topic, {}).items():
        if is_sealed(out.get(f)):
            out[f] = open_text(tenant_id, purpose, out[f], ring)
    return out


def seal_evidence(tenant_id: UUID, ring: Keyring | None = None) -> Callable[[str], str]:
    """Seal many signals' evidence of one tenant (randomised `v2:`, under its current key)."""
    seal, fixed = sealed.text_sealer(tenant_id, ring), aad(tenant_id, EVIDENCE)
    return lambda text: seal(text.encode(), fixed)


def open_evidence(tenant_id: UUID, value: Any, ring: Keyring | None = None) -> Any:
    return open_text(tenant_id, EVIDENCE, value, ring)
