"""Every column holding values encrypted under tenant data keys: what `crm keys` rotates.

A column's associated data is its tenant and purpose (`<tenant>:<purpose>`, or the tenant alone
where the values were first written that way), so a value copied to another tenant's row or to
another column does not decrypt. `legacy` names the `crm.secrets` key the column used before
data keys (`<setting>`, HKDF purpose): values still under it decrypt, and rotation moves them.
A new encrypted column is added here, and nowhere else, to be rotated and counted. People's
columns (`crm.keys.personal`), notes (`crm.keys.notes`) and inbound webhook requests
(`crm.keys.received`) may still hold values written before they were encrypted: rotation seals
those too, and fills the indexes beside them; so may staff's (`crm.keys.staff`), whose e-mail's
index is the deployment's sign-in index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm.keys import event_text, notes, personal, received, staff
from crm.keys.keyring import Keyring
from crm.secrets import EnvKeyProvider, KeyProvider


@dataclass(frozen=True)
class SealedColumn:
    table: str  # in schema crm
    column: str
    row_key: tuple[str, ...]  # identifies a row within its tenant
    purpose: str | None  # None: the associated data is the tenant id alone
    legacy: tuple[str, str]  # (setting, HKDF purpose) of the key used before data keys
    key_id_column: str | None = None  # bytes stored with their key id beside; None: `v2:` text
    plaintext: bool = False  # values written before the column was encrypted may be readable text
    indexes: tuple[str, ...] = ()  # columns beside derived from the value (`personal.index_values`)
    not_personal: str | None = None  # LIKE pattern of values that name no one, left as they are ("": empty)
    signin_index: bool = False  # `indexes` are the deployment's sign-in index (`staff`), not the tenant's

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"

    def aad(self, tenant_id: UUID | str) -> bytes:
        return (f"{tenant_id}:{self.purpose}" if self.purpose else str(tenant_id)).encode()

    def legacy_keys(self) -> KeyProvider:
        return EnvKeyProvider(*self.legacy)

    def index_values(self, tenant_id: UUID, value: str | None, ring: Keyring | None = None) -> dict[str, Any]:
        """The values of `indexes` for a readable value of the column."""
        if self.signin_index:
            return staff.index_values(self.column, value, ring)
        return personal.index_values(tenant_id, self.column, value, ring)


WEBHOOK_LEGACY = ("WEBHOOK_SECRET_KEY", "crm-webhook-secrets")
SYNC_LEGACY = ("CRM_SYNC_CREDENTIALS_KEY", "crm-sync-credentials")
WEBHOOK_SUBSCRIPTION = "webhook-subscription"
WEBHOOK_INBOUND = "webhook-inbound"

SUBSCRIPTION_SECRET = SealedColumn(
    "webhook_subscriptions", "secret_enc", ("id",), WEBHOOK_SUBSCRIPTION, WEBHOOK_LEGACY
)
SUBSCRIPTION_PREVIOUS_SECRET = SealedColumn(
    "webhook_subscriptions", "previous_secret_enc", ("id",), WEBHOOK_SUBSCRIPTION, WEBHOOK_LEGACY
)
INBOUND_SECRET = SealedColumn(
    "webhook_inbound_secrets", "secret_enc", ("tenant_id", "source"), WEBHOOK_INBOUND, WEBHOOK_LEGACY
)
SYNC_CREDENTIALS = SealedColumn(
    "sync_connections", "credentials_enc", ("id",), None, SYNC_LEGACY, key_id_column="key_id"
)


def _person(table: str, column: str) -> SealedColumn:
    return SealedColumn(
        table,
        column,
        ("id",),
        personal.purpose(column),
        personal.LEGACY,
        plaintext=True,
        indexes=personal.INDEXES.get(column, ()),
    )


PEOPLE: tuple[SealedColumn, ...] = (
    *(_person(table, column) for table, columns in personal.PERSONAL.items() for column in columns),
    SealedColumn(
        "ticket_leads",
        "requester_email",
        ("tenant_id", "ticket_id"),
        personal.purpose("email"),
        personal.LEGACY,
        plaintext=True,
    ),
    SealedColumn(
        "campaign_deliveries",
        "recipient",
        ("id",),
        personal.purpose("email"),
        personal.LEGACY,
        plaintext=True,
        not_personal="customer:%",
    ),
)
"""People's values: their own columns, and the e-mails copied to a ticket's link and a send."""

STAFF: tuple[SealedColumn, ...] = tuple(
    SealedColumn(
        staff.TABLE,
        column,
        ("id",),
        staff.purpose(column),
        personal.LEGACY,
        plaintext=True,
        indexes=staff.INDEXES.get(column, ()),
        signin_index=True,
    )
    for column in staff.FIELDS
)
"""Staff's e-mail (its sign-in index beside) and name (`crm.keys.staff`)."""

NOTES: tuple[SealedColumn, ...] = tuple(
    SealedColumn(table, notes.COLUMN, ("id",), notes.PURPOSE, notes.LEGACY, plaintext=True, not_personal="")
    for table in notes.TABLES
)
"""Activities' descriptions (`crm.keys.notes`); an empty one says nothing and stays empty."""

WEBHOOKS_RECEIVED = SealedColumn(
    received.TABLE, received.COLUMN, ("id",), received.PURPOSE, received.LEGACY, plaintext=True
)
"""Inbound webhook requests (`crm.keys.received`); one stored before is its JSON text."""

CONVERSATION_EVIDENCE = SealedColumn(
    "conversation_signals",
    "evidence",
    ("id",),
    event_text.EVIDENCE,
    event_text.LEGACY,
    plaintext=True,
    not_personal="[erased]",
)
"""A signal's quoted span of a conversation message (the message itself lands sealed)."""

COLUMNS: tuple[SealedColumn, ...] = (
    SUBSCRIPTION_SECRET,
    SUBSCRIPTION_PREVIOUS_SECRET,
    INBOUND_SECRET,
    SYNC_CREDENTIALS,
    *PEOPLE,
    *NOTES,
    WEBHOOKS_RECEIVED,
    *STAFF,
    CONVERSATION_EVIDENCE,
)
