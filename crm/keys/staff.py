"""Staff's e-mail and full name (`crm.users`), sealed under their tenant's data key, and the
e-mail's sign-in index under the deployment's key.

A stored value is `v2:dk<version>:<base64>` text, its associated data `<tenant>:staff-<column>`:
purposes of their own, not the people's (`person-*`), so a user's value copied to a lead or a
customer does not open there, and the other way round; staff are not people of the tenant's
records (no conversion, export or erasure moves values between the two).

Sign-in finds an e-mail before its tenant is known (the dashboards ask for an e-mail alone), so
`email_bidx` is the deployment's blind index (`blind_index.deployment_index`, key kind
`signin-index`), not a tenant's: it reveals which accounts of the deployment share an address,
which sign-in must know anyway. Uniqueness of a user's e-mail within a tenant is by it.

A value not in the sealed form was written before encryption: it reads as it is, is matched by
its text (`email_match`) and `crm keys rotate` seals it and fills its index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from crm.keys import personal, sealed
from crm.keys.blind_index import deployment_index, deployment_lookup_values, normalise_email
from crm.keys.keyring import Keyring
from crm.secrets import EnvKeyProvider

TABLE = "users"
FIELDS: tuple[str, ...] = ("email", "full_name")
EMAIL_INDEX = "email_bidx"
INDEXES: dict[str, tuple[str, ...]] = {"email": (EMAIL_INDEX,)}
INDEX_FIELD = "email"
"""The blind index's field name (normalised as an e-mail)."""
_NO_LEGACY = EnvKeyProvider(*personal.LEGACY)
"""No key: staff values before encryption were readable text, as people's were."""


def purpose(column: str) -> str:
    return f"staff-{column}"


def aad(tenant_id: UUID | str, column: str) -> bytes:
    return f"{tenant_id}:{purpose(column)}".encode()


def index_values(column: str, value: str | None, ring: Keyring | None = None) -> dict[str, Any]:
    """The values of `INDEXES[column]` for a readable value (None for none)."""
    if column != "email":
        return {}
    return {EMAIL_INDEX: deployment_index(INDEX_FIELD, value, ring) if value is not None else None}


def seal_row(tenant_id: UUID, row: Mapping[str, Any], ring: Keyring | None = None) -> dict[str, Any]:
    """A copy of a user's row ready to store: e-mail and name sealed, and where it holds a
    readable e-mail, that address's sign-in index beside it."""
    out = dict(row)
    if "email" in out and not personal.is_sealed(out["email"]):
        out |= index_values("email", out["email"], ring)
    todo = [c for c in FIELDS if out.get(c) is not None and not personal.is_sealed(out[c])]
    if todo:
        seal = sealed.text_sealer(tenant_id, ring)
        for col in todo:
            out[col] = seal(out[col].encode(), aad(tenant_id, col))
    return out


def open_value(tenant_id: UUID | str, column: str, value: Any, ring: Keyring | None = None) -> Any:
    """The readable value (one written before encryption, or None, comes back as it is)."""
    if not personal.is_sealed(value):
        return value
    return sealed.unseal_text(UUID(str(tenant_id)), value, aad(tenant_id, column), _NO_LEGACY, ring).decode()


def open_row(tenant_id: UUID | str, row: Mapping[str, Any], ring: Keyring | None = None) -> dict[str, Any]:
    """A copy of `row` with the user's e-mail and name readable."""
    out = dict(row)
    for col in FIELDS:
        if col in out:
            out[col] = open_value(tenant_id, col, out[col], ring)
    return out


def email_lookup(email: str, ring: Keyring | None = None) -> list[str]:
    """The index values to match for `email`: one per stored sign-in index version."""
    return deployment_lookup_values(INDEX_FIELD, email, ring)


def email_match(alias: str = "") -> str:
    """SQL matching a user by e-mail, given `%(email_bidx)s` and `%(email)s` (`email_params`):
    by index, or by its text where written before encryption and not swept yet."""
    return personal.email_match(alias)


def email_params(email: str, ring: Keyring | None = None) -> dict[str, Any]:
    """The parameters `email_match` and the sign-in functions name."""
    return {"email_bidx": email_lookup(email, ring), "email": normalise_email(email)}
