"""A ticket's requester as the ticketing system names them, and finding them in the CRM: by the
ticket's customer or lead id, else by e-mail, else by phone. Queries take an open psycopg async
connection whose rows are dicts (the API's tenant transaction, or the enrichment worker's) and
filter by tenant themselves as well, so the worker's owner connection sees one tenant too."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from crm.events.payloads.tickets_enriched import MatchedBy, RequesterKind

Conn = AsyncConnection[Any]
Row = dict[str, Any]

MIN_PHONE_DIGITS = 7
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
        """From a ticket snapshot's payload (v1 or v2, as landed or on the wire)."""

        def uuid_or_none(key: str) -> UUID | None:
            value = payload.get(key)
            return None if value is None else UUID(str(value))

        ticket_id = uuid_or_none("ticket_id")
        assert ticket_id is not None
        return cls(
            ticket_id=ticket_id,
            customer_id=uuid_or_none("customer_id"),
            lead_id=uuid_or_none("lead_id"),
            email=payload.get("requester_email"),
            phone=payload.get("requester_phone"),
            name=payload.get("requester_name"),
            company=payload.get("requester_company"),
            subject=payload.get("subject"),
        )


@dataclass(frozen=True)
class Found:
    kind: RequesterKind
    matched_by: MatchedBy | None = None
    customer: Row | None = None
    lead: Row | None = None


UNKNOWN = Found(RequesterKind.UNKNOWN)


def phone_digits(phone: str | None) -> str | None:
    digits = re.sub(r"\D", "", phone or "")
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


async def fetchall(conn: Conn, sql: str, params: Any) -> list[Row]:
    cur = await conn.execute(sql, params)
    return list(await cur.fetchall())


async def fetchone(conn: Conn, sql: str, params: Any) -> Row | None:
    rows = await fetchall(conn, sql, params)
    return rows[0] if rows else None


_CUSTOMER = "SELECT * FROM crm.customers WHERE tenant_id = %s AND "
_LEAD = "SELECT * FROM crm.leads WHERE tenant_id = %s AND "
_BY_EMAIL = "lower(email) = lower(%s) ORDER BY created_at DESC LIMIT 1"
_BY_PHONE = "regexp_replace(coalesce(phone, ''), '\\D', '', 'g') = %s ORDER BY created_at DESC LIMIT 1"


async def _customer_of(conn: Conn, tenant: UUID, lead: Row, how: MatchedBy) -> Found:
    """A lead that became a customer is presented as that customer (with its lead id)."""
    if lead["customer_id"] is not None:
        customer = await fetchone(conn, _CUSTOMER + "id = %s", (tenant, lead["customer_id"]))
        if customer is not None:
            return Found(RequesterKind.CUSTOMER, how, customer, lead)
    return Found(RequesterKind.LEAD, how, None, lead)


async def find_requester(conn: Conn, tenant: UUID, t: Ticket) -> Found:
    """The requester's customer or lead, or UNKNOWN (never an error)."""
    if t.customer_id is not None:
        customer = await fetchone(conn, _CUSTOMER + "id = %s", (tenant, t.customer_id))
        if customer is not None:
            return Found(RequesterKind.CUSTOMER, MatchedBy.CUSTOMER_ID, customer)
    if t.lead_id is not None:
        lead = await fetchone(conn, _LEAD + "id = %s", (tenant, t.lead_id))
        if lead is not None:
            return await _customer_of(conn, tenant, lead, MatchedBy.LEAD_ID)
    lookups = [(MatchedBy.EMAIL, _BY_EMAIL, t.email.strip() if t.email else None)]
    lookups.append((MatchedBy.PHONE, _BY_PHONE, phone_digits(t.phone)))
    for how, where, value in lookups:
        if not value:
            continue
        customer = await fetchone(conn, _CUSTOMER + where, (tenant, value))
        if customer is not None:
            return Found(RequesterKind.CUSTOMER, how, customer)
        lead = await fetchone(conn, _LEAD + where, (tenant, value))
        if lead is not None:
            return await _customer_of(conn, tenant, lead, how)
    return UNKNOWN
