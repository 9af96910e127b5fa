"""People's personal values (leads' and customers' e-mail, names, phone), encrypted in their own
columns under the tenant's data key, and found by e-mail through a blind index.

A stored value is `v2:dk<version>:<base64>` text, its associated data `<tenant>:person-<column>`:
the same field of a lead and a customer share it, so converting a lead copies its values as
they are, while a value moved to another tenant or another field does not open. Every writer
seals a row before it is stored (`seal_row`); its audit and outbox images, and so `raw.*`, the
marts and Kafka, carry the sealed values. What shows a person to someone (the API's answers,
webhook deliveries, e-mail sends, the dashboards' guarded path, exports to a synced CRM)
opens them (`open_row`).

Beside the e-mail a row stores `email_bidx` (the tenant's blind index of the address: lookups,
dedupe, uniqueness) and `email_domain` (the part after `@`, lower case, kept readable: segments
and the marts group by company domain; on its own it names no person); beside the phone,
`phone_bidx` (the index of its digits, for numbers of at least `MIN_PHONE_DIGITS`: a ticket's
requester is matched by phone).

A value that is not in the sealed form is a value written before the columns were encrypted:
it reads as it is, and `crm keys rotate` seals it (and its row's index) like any value not
under the current key. Lookups by e-mail also match such rows by their text (`email_match`).

A ticket event's requester (`REQUESTER`: e-mail, phone, name, as the ticketing system sends
them) is sealed by the lander in the deterministic form (`crm.keys.deterministic`, `d2:dk<n>:`)
under the same associated data as the people's columns (`<tenant>:person-<field>`), with the
event's other free text (`crm.keys.event_text`): a redelivered event must land as the same text.
It reveals which landed tickets share a requester value within one tenant and field, as a blind
index does. `open_value` opens both forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from crm.keys import deterministic, sealed
from crm.keys.blind_index import blind_index, lookup_values, normalise_email, normalise_phone
from crm.keys.keyring import Keyring
from crm.secrets import EnvKeyProvider

FIELDS: tuple[str, ...] = ("email", "first_name", "last_name", "phone")
PERSONAL: dict[str, tuple[str, ...]] = {"leads": FIELDS, "customers": FIELDS}
"""Tables of `crm` holding people, and their encrypted columns."""
EMAIL_INDEX = "email_bidx"
EMAIL_DOMAIN = "email_domain"
PHONE_INDEX = "phone_bidx"
MIN_PHONE_DIGITS = 7
"""A phone number shorter than this (an extension, a typo) is not indexed and never matches."""
SEALED_PREFIX = f"v2:{sealed.PREFIX}"
INDEXES: dict[str, tuple[str, ...]] = {"email": (EMAIL_INDEX, EMAIL_DOMAIN), "phone": (PHONE_INDEX,)}
"""The columns beside a personal column that derive from its value (`index_values`)."""
DERIVED: tuple[str, ...] = tuple(c for columns in INDEXES.values() for c in columns)
LOOKUP_KEYS: tuple[str, ...] = (EMAIL_INDEX, PHONE_INDEX)
"""The blind indexes: the server's keys to find a person, never answered or sent."""

REQUESTER: dict[str, str] = {"requester_email": "email", "requester_phone": "phone", "requester_name": "name"}
"""A ticket event's requester fields (schema v2) and the people's field each is sealed as."""

LEGACY = ("CRM_PERSONAL_LEGACY_KEY", "crm-personal")
"""No key: people's values before encryption were readable text, never `v1:` values."""
_NO_LEGACY = EnvKeyProvider(*LEGACY)


def purpose(column: str) -> str:
    return f"person-{column}"


def aad(tenant_id: UUID | str, column: str) -> bytes:
    return f"{tenant_id}:{purpose(column)}".encode()


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def seal_value(tenant_id: UUID, column: str, value: str | None, ring: Keyring | None = None) -> str | None:
    """`value` sealed for `column` of the tenant's people (None stays None; sealed stays as is)."""
    if value is None or is_sealed(value):
        return value
    return sealed.seal_text(tenant_id, value.encode(), aad(tenant_id, column), ring)


def open_value(tenant_id: UUID, column: str, value: Any, ring: Keyring | None = None) -> Any:
    """The readable value, of either sealed form (a value written before encryption, or None,
    comes back as it is)."""
    if not is_sealed(value):
        if deterministic.is_deterministic(value):
            return deterministic.unseal_text(tenant_id, value, aad(tenant_id, column), ring).decode()
        return value
    return sealed.unseal_text(tenant_id, value, aad(tenant_id, column), _NO_LEGACY, ring).decode()


def seal_equal(tenant_id: UUID, column: str, value: str, ring: Keyring | None = None) -> str:
    """`value` sealed deterministically for `column` under the tenant's current data key."""
    return deterministic.seal_text(tenant_id, value.encode(), aad(tenant_id, column), ring)


def equal_forms(tenant_id: UUID, column: str, value: str, ring: Keyring | None = None) -> list[str]:
    """The deterministic forms of `value` under every data key version of the tenant: what a
    document holding it sealed contains (erasure finds a person's landed tickets by them)."""
    return deterministic.all_forms(tenant_id, value.encode(), aad(tenant_id, column), ring)


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return normalise_email(email).rpartition("@")[2] or None


def email_columns(tenant_id: UUID, email: str | None, ring: Keyring | None = None) -> dict[str, Any]:
    """`email_bidx` and `email_domain` for a readable address (None for none)."""
    if email is None:
        return {EMAIL_INDEX: None, EMAIL_DOMAIN: None}
    return {EMAIL_INDEX: blind_index(tenant_id, "email", email, ring), EMAIL_DOMAIN: email_domain(email)}


def phone_digits(phone: str | None) -> str | None:
    """The digits a phone number is matched by; None when too short to name anyone."""
    digits = normalise_phone(phone or "")
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


def phone_index(tenant_id: UUID, phone: str | None, ring: Keyring | None = None) -> str | None:
    digits = phone_digits(phone)
    return blind_index(tenant_id, "phone", digits, ring) if digits else None


def phone_lookup(tenant_id: UUID, phone: str, ring: Keyring | None = None) -> list[str]:
    """The index values to match for a phone number (`phone_bidx = ANY(...)`); [] if too short."""
    digits = phone_digits(phone)
    return lookup_values(tenant_id, "phone", digits, ring) if digits else []


def seal_row(
    tenant_id: UUID, table: str, row: Mapping[str, Any], ring: Keyring | None = None
) -> dict[str, Any]:
    """A copy of `row` ready to store: its personal values sealed, and where it holds a readable
    e-mail, that address's index and domain beside it."""
    out = dict(row)
    for col in INDEXES:
        if col in out and not is_sealed(out[col]):
            out |= index_values(tenant_id, col, out[col], ring)
    todo = [c for c in PERSONAL[table] if out.get(c) is not None and not is_sealed(out[c])]
    if todo:
        seal = sealed.text_sealer(tenant_id, ring)
        for col in todo:
            out[col] = seal(out[col].encode(), aad(tenant_id, col))
    return out


def open_row(
    tenant_id: UUID, table: str, row: Mapping[str, Any], ring: Keyring | None = None
) -> dict[str, Any]:
    """A copy of `row` with its personal values readable."""
    out = dict(row)
    for col in PERSONAL[table]:
        if col in out:
            out[col] = open_value(tenant_id, col, out[col], ring)
    return out


def email_lookup(tenant_id: UUID, email: str, ring: Keyring | None = None) -> list[str]:
    """The index values to match for `email` (`email_bidx = ANY(...)`): one per index version."""
    return lookup_values(tenant_id, "email", email, ring)


def email_match(alias: str = "") -> str:
    """SQL matching a row by e-mail, given `%(email_bidx)s` (`email_lookup`) and `%(email)s`:
    by index, or by its text where it was written before encryption and not swept yet."""
    p = f"{alias}." if alias else ""
    return (
        f"({p}{EMAIL_INDEX} = ANY(%(email_bidx)s)"
        f" OR ({p}{EMAIL_INDEX} IS NULL AND {p}email NOT LIKE 'v2:%%' AND lower({p}email) = lower(%(email)s)))"
    )


def email_params(tenant_id: UUID, email: str, ring: Keyring | None = None) -> dict[str, Any]:
    """The parameters `email_match` names."""
    return {"email_bidx": email_lookup(tenant_id, email, ring), "email": normalise_email(email)}


def phone_match(alias: str = "") -> str:
    """SQL matching a row by phone, given `%(phone_bidx)s` and `%(phone)s` (`phone_params`)."""
    p = f"{alias}." if alias else ""
    return (
        f"({p}{PHONE_INDEX} = ANY(%(phone_bidx)s) OR ({p}{PHONE_INDEX} IS NULL AND {p}phone NOT LIKE 'v2:%%'"
        f" AND regexp_replace(coalesce({p}phone, ''), '\\D', '', 'g') = %(phone)s))"
    )


def phone_params(tenant_id: UUID, phone: str, ring: Keyring | None = None) -> dict[str, Any]:
    """The parameters `phone_match` names (matching nothing for a number too short)."""
    return {"phone_bidx": phone_lookup(tenant_id, phone, ring), "phone": phone_digits(phone) or "-"}


def index_values(
    tenant_id: UUID, column: str, value: str | None, ring: Keyring | None = None
) -> dict[str, Any]:
    """The values of `INDEXES[column]` for a readable value of `column` (None for none)."""
    if column == "email":
        return email_columns(tenant_id, value, ring)
    if column == "phone":
        return {PHONE_INDEX: phone_index(tenant_id, value, ring)}
    return {}
