"""A ticket's requester as the ticketing system names them, and finding them in the CRM: by the
ticket's customer or lead id, else by e-mail, else by phone. Queries take an open psycopg async
connection whose rows are dicts (the API's tenant transaction, or the enrichment worker's) and
filter by tenant themselves as well, so the worker's owner connection sees one tenant too.

People's values are stored sealed (`crm.keys.personal`): the e-mail and the phone are matched by
their blind indexes (and by their text in rows written before encryption), and the rows found
come back readable, since what they are found for shows them to a person. A landed ticket's
requester values, company and subject are sealed (the lander seals them, `crm.keys.event_text`):
a `Ticket` read from `raw.tickets` is opened (`Ticket.opened`) before it is matched or shown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from crm.events.payloads.tickets_enriched import MatchedBy, RequesterKind
from crm.events.topics import Topic
from crm.keys import event_text, personal
from crm.keys.keyring import Keyring

Conn = AsyncConnection[Any]
Row = dict[str, Any]

MIN_PHONE_DIGITS = personal.MIN_PHONE_DIGITS
"""A phone number shorter than this (an extension, a typo) never matches anyone."""


@dataclass(frozen=True)
class Ticket:
    """What enrichment needs of a ticket: its id and whatever names its requester."""

    ticket_id: UUID
    customer_id: UUID | None = None
    lead_id: UUID | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    company: str | None = None
    subject: str | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Ticket:
        """From a ticket snapshot's payload (v1 or v2, as landed or on the wire; a landed one's
        requester values, company and subject stay sealed until `opened`)."""

        def uuid_or_none(key: str) -> UUID | None:
            value = payload.get(key)
            return None if value is None else UUID(str(value))

        ticket_id = uuid_or_none("ticket_id")
        assert ticket_id is not None
        return cls(
            ticket_id=ticket_id,
            customer_id=uuid_or_none("customer_id"),
            lead_id=uuid_or_none("lead_id"),
            **{k: payload.get(f) for k, f in _PAYLOAD_FIELDS.items()},
        )

    def opened(self, tenant: UUID, ring: Keyring | None = None) -> Ticket:
        """The ticket with its requester's values, company and subject readable (itself when
        none is sealed)."""
        values = {k: getattr(self, k) for k in _PAYLOAD_FIELDS}
        if not any(event_text.is_sealed(v) for v in values.values()):
            return self
        return replace(
            self,
            **{
                k: event_text.open_field(tenant, Topic.TICKETS, f, values[k], ring)
                for k, f in _PAYLOAD_FIELDS.items()
            },
        )


_PAYLOAD_FIELDS = {
    "email": "requester_email",
    "phone": "requester_phone",
    "name": "requester_name",
    "company": "requester_company",
    "subject": "subject",
}
"""`Ticket` attribute -> the landed payload's field it comes from (sealed by the lander)."""


@dataclass(frozen=True)
class Found:
    kind: RequesterKind
    matched_by: MatchedBy | None = None
    customer: Row | None = None
    lead: Row | None = None


UNKNOWN = Found(RequesterKind.UNKNOWN)


def phone_digits(phone: str | None) -> str | None:
    return personal.phone_digits(phone)


async def fetchall(conn: Conn, sql: str, params: Any) -> list[Row]:
    cur = await conn.execute(sql, params)
    return list(await cur.fetchall())


async def fetchone(conn: Conn, sql: str, params: Any) -> Row | None:
    rows = await fetchall(conn, sql, params)
    return rows[0] if rows else None


_CUSTOMER = "SELECT * FROM crm.customers WHERE tenant_id = %s AND "
_LEAD = "SELECT * FROM crm.leads WHERE tenant_id = %s AND "
_LATEST = " ORDER BY created_at DESC LIMIT 1"


def opened(tenant: UUID, table: str, row: Row, ring: Keyring | None = None) -> Row:
    """A stored customer or lead with its people's values readable."""
    return personal.open_row(tenant, table, row, ring)


def lookups(
    tenant: UUID, t: Ticket, ring: Keyring | None = None
) -> list[tuple[MatchedBy, str, dict[str, Any]]]:
    """(how, SQL condition, its named parameters) of the ticket's e-mail and phone, in the
    order they are tried; none for a value the ticket lacks (or a phone too short)."""
    out: list[tuple[MatchedBy, str, dict[str, Any]]] = []
    t = t.opened(tenant, ring)
    email = t.email.strip() if t.email else None
    if email:
        out.append((MatchedBy.EMAIL, personal.email_match(), personal.email_params(tenant, email, ring)))
    phone = t.phone if phone_digits(t.phone) else None
    if phone:
        out.append((MatchedBy.PHONE, personal.phone_match(), personal.phone_params(tenant, phone, ring)))
    return out


async def _customer_of(conn: Conn, tenant: UUID, lead: Row, how: MatchedBy, ring: Keyring | None) -> Found:
    """A lead that became a customer is presented as that customer (with its lead id)."""
    if lead["customer_id"] is not None:
        customer = await fetchone(conn, _CUSTOMER + "id = %s", (tenant, lead["customer_id"]))
        if customer is not None:
            return Found(RequesterKind.CUSTOMER, how, opened(tenant, "customers", customer, ring), lead)
    return Found(RequesterKind.LEAD, how, None, lead)


async def find_requester(conn: Conn, tenant: UUID, t: Ticket, ring: Keyring | None = None) -> Found:
    """The requester's customer or lead, or UNKNOWN (never an error). `ring`: the keys of the
    connection's database (default: this process's)."""
    t = t.opened(tenant, ring)
    if t.customer_id is not None:
        customer = await fetchone(conn, _CUSTOMER + "id = %s", (tenant, t.customer_id))
        if customer is not None:
            return Found(
                RequesterKind.CUSTOMER, MatchedBy.CUSTOMER_ID, opened(tenant, "customers", customer, ring)
            )
    if t.lead_id is not None:
        lead = await fetchone(conn, _LEAD + "id = %s", (tenant, t.lead_id))
        if lead is not None:
            return await _customer_of(
                conn, tenant, opened(tenant, "leads", lead, ring), MatchedBy.LEAD_ID, ring
            )
    for how, where, params in lookups(tenant, t, ring):
        named = params | {"tenant": tenant}
        customer = await fetchone(
            conn, f"SELECT * FROM crm.customers WHERE tenant_id = %(tenant)s AND {where}{_LATEST}", named
        )
        if customer is not None:
            return Found(RequesterKind.CUSTOMER, how, opened(tenant, "customers", customer, ring))
        lead = await fetchone(
            conn, f"SELECT * FROM crm.leads WHERE tenant_id = %(tenant)s AND {where}{_LATEST}", named
        )
        if lead is not None:
            return await _customer_of(conn, tenant, opened(tenant, "leads", lead, ring), how, ring)
    return UNKNOWN
