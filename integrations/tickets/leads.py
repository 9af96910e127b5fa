"""createLeadFromTicket: a lead for a ticket's requester the CRM does not know yet.

Deduplicated before anything is written: a ticket already linked answers its link again; a
requester whose e-mail is a customer's or a lead's is linked to that record; one whose e-mail
domain is the domain of a customer's or lead's e-mail is linked to that company's record
(never for free-mail domains). Only then is a lead created, with source `ticket`. Every
outcome stores the ticket's link (`crm.ticket_leads`, one per ticket) and is audited: a new
lead through `crm.changes.change_rows` (audit_log + crm.lead.created), a link to an existing
lead as its NOTE_ADDED activity (published on lead-activities) and an audit row.

The writer (the API route) takes the returned rows into its own tenant transaction; this
module only reads and plans, under advisory locks on the ticket and the e-mail, so concurrent
requests for one ticket or one requester make one lead.

People's values are stored sealed (`crm.keys.personal`): the rows to insert carry them sealed
(the new lead's e-mail, names and phone, the link's `requester_email`, and so their audit
images and events), a requester is matched by the e-mail's blind index and a company by the
readable `email_domain` (rows written before encryption by their text), and the outcome's lead
is readable, for the caller's answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from crm.changes import Actor, activity_rows, change_rows, jsonable, now
from crm.enums import LeadActivityType, LeadStatus
from crm.errors import CRMError, CRMErrorCode
from crm.keys import personal
from crm.keys.keyring import Keyring
from integrations.tickets.requester import Conn, Row, Ticket, fetchone, opened

LEAD_SOURCE = "ticket"

FREE_MAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "gmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hey.com",
        "hotmail.co.uk",
        "hotmail.com",
        "hotmail.fr",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "outlook.com",
        "pm.me",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "web.de",
        "yahoo.co.uk",
        "yahoo.com",
        "yahoo.fr",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
    }
)
"""Mailbox providers anyone can sign up with: their domain names no company."""


class Link(StrEnum):
    CREATED = "CREATED"
    EMAIL = "EMAIL"
    DOMAIN = "DOMAIN"


_BY = {Link.EMAIL: "e-mail address", Link.DOMAIN: "company domain"}
"""How a ticket's note names the match."""


@dataclass
class Outcome:
    link: Link
    lead: Row | None
    """The lead created or linked, its people's values readable (`rows` holds it sealed)."""
    customer_id: UUID | None
    created: bool
    """True only when this call made the lead (201); a repeat or a match is 200."""
    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """What the caller inserts in its transaction, in order (none for a repeat)."""


def company_domain(email: str | None) -> str | None:
    """The e-mail's domain when it can name a company (None for free-mail and bad addresses)."""
    domain = personal.email_domain(email)
    return None if not domain or domain in FREE_MAIL_DOMAINS else domain


def _split_name(name: str | None) -> tuple[str | None, str | None]:
    parts = (name or "").split()
    if not parts:
        return None, None
    return parts[0], " ".join(parts[1:]) or None


async def _lock(conn: Conn, *keys: str) -> None:
    for key in sorted(keys):
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


async def _existing_link(conn: Conn, tenant: UUID, ticket_id: UUID, ring: Keyring | None) -> Outcome | None:
    link = await fetchone(
        conn, "SELECT * FROM crm.ticket_leads WHERE tenant_id = %s AND ticket_id = %s", (tenant, ticket_id)
    )
    if link is None:
        return None
    lead = None
    if link["lead_id"] is not None:
        lead = await fetchone(conn, "SELECT * FROM crm.leads WHERE id = %s", (link["lead_id"],))
    return Outcome(
        Link(link["link"]), opened(tenant, "leads", lead, ring) if lead else None, link["customer_id"], False
    )


BY_DOMAIN = (
    f"({personal.EMAIL_DOMAIN} = %(domain)s OR ({personal.EMAIL_DOMAIN} IS NULL AND email NOT LIKE 'v2:%%'"
    " AND lower(split_part(email, '@', 2)) = %(domain)s))"
)
"""A row by its e-mail's domain: the readable `email_domain`, or the text of an e-mail written
before encryption."""


async def _match(
    conn: Conn, tenant: UUID, email: str, ring: Keyring | None
) -> tuple[Link, Row | None, UUID | None] | None:
    """An existing customer or lead by e-mail, else by company domain (customers first)."""
    domain = company_domain(email)
    wheres = [(Link.EMAIL, personal.email_match(), personal.email_params(tenant, email, ring))]
    if domain is not None:
        wheres.append((Link.DOMAIN, BY_DOMAIN, {"domain": domain}))
    for link, where, params in wheres:
        named = params | {"tenant": tenant}
        customer = await fetchone(
            conn,
            f"SELECT id FROM crm.customers WHERE tenant_id = %(tenant)s AND {where} ORDER BY created_at LIMIT 1",
            named,
        )
        if customer is not None:
            return link, None, customer["id"]
        lead = await fetchone(
            conn,
            f"SELECT * FROM crm.leads WHERE tenant_id = %(tenant)s AND {where} ORDER BY created_at LIMIT 1",
            named,
        )
        if lead is not None:
            return link, opened(tenant, "leads", lead, ring), lead["customer_id"]
    return None


def _link_row(
    actor: Actor,
    ticket: Ticket,
    link: Link,
    lead: Row | None,
    customer_id: UUID | None,
    at: datetime,
    ring: Keyring | None,
) -> dict:
    """The ticket's link, its requester's e-mail sealed as a person's e-mail is."""
    return {
        "tenant_id": actor.tenant_id,
        "ticket_id": ticket.ticket_id,
        "lead_id": lead["id"] if lead else None,
        "customer_id": customer_id,
        "link": link.value,
        "requester_email": personal.seal_value(actor.tenant_id, "email", ticket.email, ring),
        "created_by": actor.actor_id if actor.actor_type == "user" else None,
        "created_at": at,
    }


def _audit_link(actor: Actor, row: dict[str, Any], request_id: str | None, at: datetime) -> tuple[str, dict]:
    return (
        "audit_log",
        {
            "tenant_id": actor.tenant_id,
            "actor_id": actor.actor_id,
            "actor_type": actor.actor_type,
            "action": "linked",
            "entity": "ticket_leads",
            "entity_id": row["lead_id"] or row["customer_id"],
            "before": None,
            "after": jsonable(row),
            "request_id": request_id,
            "occurred_at": at,
        },
    )


def new_lead_row(actor: Actor, ticket: Ticket, email: str, owner: UUID | None, at: datetime) -> Row:
    """The requester's lead, readable (`personal.seal_row` makes the row to store)."""
    first, last = _split_name(ticket.name)
    return {
        "id": uuid4(),
        "tenant_id": actor.tenant_id,
        "customer_id": None,
        "email": email,
        "first_name": first,
        "last_name": last,
        "company": ticket.company,
        "phone": ticket.phone,
        "source": LEAD_SOURCE,
        "status": LeadStatus.NEW.value,
        "score": 0,
        "score_reason": None,
        "assigned_user_id": owner,
        "tags": [],
        "custom_fields": {"ticket_id": str(ticket.ticket_id)},
        "last_activity_at": None,
        "converted_at": None,
        "created_at": at,
        "updated_at": at,
        "version": 1,
    }


async def lead_from_ticket(
    conn: Conn,
    actor: Actor,
    ticket: Ticket,
    *,
    owner: UUID | None = None,
    request_id: str | None = None,
    ring: Keyring | None = None,
) -> Outcome:
    """createLeadFromTicket's plan, in the caller's tenant transaction (see the module doc).
    `ring`: the keys of the connection's database (default: this process's)."""
    tenant = actor.tenant_id
    ticket = ticket.opened(tenant, ring)  # a landed ticket's requester is sealed
    email = (ticket.email or "").strip()
    await _lock(conn, f"ticket:{tenant}:{ticket.ticket_id}", f"requester:{tenant}:{email.lower()}")
    repeat = await _existing_link(conn, tenant, ticket.ticket_id, ring)
    if repeat is not None:
        return repeat
    if not email:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR,
            f"ticket {ticket.ticket_id} names no requester e-mail: a lead needs one",
            {"field": "requester_email", "ticket_id": str(ticket.ticket_id)},
        )
    at = now()
    matched = await _match(conn, tenant, email, ring)
    if matched is None:
        lead = new_lead_row(actor, ticket, email, owner, at)
        stored = personal.seal_row(tenant, "leads", lead, ring)
        link_row = _link_row(actor, ticket, Link.CREATED, lead, None, at, ring)
        rows = [("leads", stored)]
        rows += change_rows(
            actor,
            table="leads",
            entity="lead",
            action="created",
            entity_id=lead["id"],
            before=None,
            after=stored,
            request_id=request_id,
            at=at,
        )
        return Outcome(Link.CREATED, lead, None, True, [*rows, ("ticket_leads", link_row)])
    link, existing, customer_id = matched
    link_row = _link_row(actor, ticket, link, existing, customer_id, at, ring)
    rows = [("ticket_leads", link_row), _audit_link(actor, link_row, request_id, at)]
    if existing is not None:
        note = {
            "id": uuid4(),
            "tenant_id": tenant,
            "lead_id": existing["id"],
            "user_id": actor.actor_id if actor.actor_type == "user" else None,
            "type": LeadActivityType.NOTE_ADDED,
            # the note names no address, and quotes the subject: stored and published sealed
            "description": f"Ticket {ticket.subject or ticket.ticket_id} from the lead's {_BY[link]}",
            "metadata": {"kind": "ticket_linked", "ticket_id": str(ticket.ticket_id), "link": link.value},
            "created_at": at,
        }
        rows += activity_rows("lead", note, ring=ring)
    return Outcome(link, existing, customer_id, False, rows)
