"""Tickets enriched with CRM data; leads created from tickets (the seed's
enrichTicketWithCRMData and createLeadFromTicket, `integrations.tickets`)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from api.core.access import record_read
from api.core.auth import Principal
from api.core.db import Conn, fetchone
from api.core.writes import insert_rows, jsonable
from api.deps import Db, Requires, request_id
from api.routes._common import owner_for_create, respond
from api.routes.leads import UNSCORED, _scored
from api.routes.leads import answer as lead_answer
from api.schemas.common import ERRORS, NOT_FOUND
from api.schemas.tickets import TicketEnrichmentOut, TicketIn, TicketLeadOut
from crm.errors import CRMError, CRMErrorCode
from integrations.tickets.enrich import RECENT_ACTIVITIES, enrich_ticket
from integrations.tickets.leads import lead_from_ticket
from integrations.tickets.requester import Ticket

router = APIRouter(prefix="/tickets", tags=["tickets"], responses=ERRORS)
Reader = Annotated[Principal, Requires("tickets:read")]
Writer = Annotated[Principal, Requires("tickets:write")]
Activities = Annotated[int, Query(ge=0, le=100, description="recent activities to include")]


def _ticket(body: TicketIn) -> Ticket:
    return Ticket(
        ticket_id=body.ticket_id,
        customer_id=body.customer_id,
        lead_id=body.lead_id,
        email=body.requester_email,
        phone=body.requester_phone,
        name=body.requester_name,
        company=body.requester_company,
        subject=body.subject,
    )


async def landed_ticket(conn: Conn, ticket_id: UUID) -> Ticket:
    """The ticket's latest landed snapshot in the caller's tenant (404 when none landed)."""
    row = await fetchone(conn, "SELECT payload FROM crm.landed_ticket(%s)", (ticket_id,))
    if row is None:
        raise CRMError(
            CRMErrorCode.TICKET_NOT_FOUND,
            f"ticket {ticket_id} not found: no event of it has landed",
            {"id": str(ticket_id)},
        )
    return Ticket.from_payload(row["payload"])


@router.post("/enrich", response_model=TicketEnrichmentOut)
async def enrich(body: TicketIn, p: Writer, db: Db, activities: Activities = RECENT_ACTIVITIES):
    """enrichTicketWithCRMData for a ticket sent in the body (it need not have landed)."""
    async with db.tx(p.tenant_id) as conn:
        out = await enrich_ticket(conn, p.tenant_id, _ticket(body), activities=activities)
    return respond(out.model_dump(mode="json"))


@router.get("/{ticket_id}/enrichment", response_model=TicketEnrichmentOut, responses=NOT_FOUND)
async def enrichment(ticket_id: UUID, p: Reader, db: Db, activities: Activities = RECENT_ACTIVITIES):
    """enrichTicketWithCRMData for a landed ticket (its latest snapshot in raw.tickets)."""
    async with db.tx(p.tenant_id) as conn:
        out = await enrich_ticket(
            conn, p.tenant_id, await landed_ticket(conn, ticket_id), activities=activities
        )
        await record_read(conn, p, "ticket_enrichment", 1, ticket_id)
    return respond(out.model_dump(mode="json"))


@router.post(
    "/{ticket_id}/lead",
    response_model=TicketLeadOut,
    status_code=201,
    responses={**NOT_FOUND, 200: {"model": TicketLeadOut, "description": "already linked, or matched"}},
)
async def lead_from(ticket_id: UUID, p: Writer, db: Db, request: Request, body: TicketIn | None = None):
    """createLeadFromTicket: the landed ticket's requester (or the body's, for a ticket that
    has not landed) becomes a lead with source `ticket`, unless their e-mail or company domain
    is already a customer's or lead's (linked, 200). Idempotent per ticket."""
    if body is not None and body.ticket_id != ticket_id:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR,
            "the body's ticket_id is not the path's",
            {"field": "ticket_id", "path": str(ticket_id), "body": str(body.ticket_id)},
        )
    async with db.tx(p.tenant_id) as conn:
        ticket = _ticket(body) if body is not None else await landed_ticket(conn, ticket_id)
        outcome = await lead_from_ticket(
            conn, p, ticket, owner=owner_for_create(p, None), request_id=request_id(request)
        )
        await insert_rows(conn, outcome.rows)
        lead = outcome.lead
        if lead is not None:
            lead = (
                lead_answer(p.tenant_id, jsonable(lead | UNSCORED))
                if outcome.created
                else await _scored(conn, dict(lead))
            )
    answer = {
        "ticket_id": ticket_id,
        "link": outcome.link.value,
        "created": outcome.created,
        "lead": lead,
        "customer_id": outcome.customer_id,
    }
    return respond(answer, 201 if outcome.created else 200)
