"""enrichTicketWithCRMData: a ticket in, what the CRM knows of its requester out.

Live rows (`crm.*`) give who the requester is, the owner, open deals and recent activities, so
an enrichment is right the moment a deal moves; the warehouse marts give what only they compute
(health and its trend, segments, won revenue), and the churn scoring's latest prediction
(ml.churn_predictions, which fct_customer_risk copies at its next build) the churn risk. A mart not built yet leaves its
fields empty instead of failing the enrichment. The requester's name and e-mail are the
readable values (`find_requester` opens the rows it finds), and so are the recent activities'
notes and the owner's name: the enrichment is for the people answering the ticket."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crm.events.payloads.tickets_enriched import (
    EnrichedActivity,
    EnrichedDeal,
    RequesterKind,
    TicketEnriched,
)
from crm.keys import staff
from crm.keys.keyring import Keyring
from crm.keys.notes import open_note
from integrations.tickets.requester import Conn, Found, Row, Ticket, fetchall, fetchone, find_requester

RECENT_ACTIVITIES = 10
"""Activities an enrichment carries by default (the latest first)."""

MARTS = (
    "analytics.fct_customer_risk",
    "analytics.dim_customers",
    "analytics.fct_segment_memberships",
    "analytics.dim_leads",
    "ml.churn_predictions",
)

OPEN_DEALS = """
SELECT d.id, d.name, d.stage, d.value, d.currency, d.probability, d.expected_close_date
FROM crm.deals d JOIN crm.sales_pipelines p ON p.id = d.pipeline_id
WHERE d.tenant_id = %(t)s AND (d.customer_id = %(c)s OR d.lead_id = ANY(%(l)s))
  AND NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements(p.stages) s
    WHERE s ->> 'name' = d.stage
      AND (coalesce((s ->> 'is_won')::boolean, false) OR coalesce((s ->> 'is_lost')::boolean, false)))
ORDER BY d.expected_close_date NULLS LAST, d.created_at
"""

RECENT = """
(SELECT id, 'lead' AS entity, lead_id AS entity_id, type::text, description, created_at
 FROM crm.lead_activities WHERE tenant_id = %(t)s AND lead_id = ANY(%(l)s)
 ORDER BY created_at DESC LIMIT %(n)s)
UNION ALL
(SELECT a.id, 'deal', a.deal_id, a.type::text, a.description, a.created_at
 FROM crm.deal_activities a JOIN crm.deals d ON d.id = a.deal_id
 WHERE a.tenant_id = %(t)s AND (d.customer_id = %(c)s OR d.lead_id = ANY(%(l)s))
 ORDER BY a.created_at DESC LIMIT %(n)s)
ORDER BY created_at DESC LIMIT %(n)s
"""

OWNER = """
SELECT u.id, u.full_name FROM crm.users u WHERE u.tenant_id = %(t)s AND u.id = coalesce(
  %(u)s,
  (SELECT assigned_user_id FROM crm.deals WHERE tenant_id = %(t)s AND customer_id = %(c)s
     AND assigned_user_id IS NOT NULL ORDER BY updated_at DESC LIMIT 1),
  (SELECT assigned_user_id FROM crm.leads WHERE tenant_id = %(t)s AND customer_id = %(c)s
     AND assigned_user_id IS NOT NULL ORDER BY converted_at DESC NULLS LAST LIMIT 1))
"""
"""A lead's owner is its assignee; a customer's, the owner of its latest deal, else of the lead
it converted from."""


def _name(row: Row) -> str | None:
    return " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p) or None


async def _marts(conn: Conn) -> set[str]:
    rows = await fetchall(
        conn,
        "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NOT NULL",
        (list(MARTS),),
    )
    return {r["name"] for r in rows}


async def _customer_marts(conn: Conn, tenant: UUID, customer_id: UUID) -> dict[str, Any]:
    built = await _marts(conn)
    out: dict[str, Any] = {}
    key = (tenant, customer_id)
    if "analytics.fct_customer_risk" in built:
        risk = await fetchone(
            conn,
            "SELECT health_score, health_risk_level, churn_probability, churn_risk_level"
            " FROM analytics.fct_customer_risk WHERE tenant_id = %s AND customer_id = %s",
            key,
        )
        out |= risk or {}
    if "ml.churn_predictions" in built:  # the churn scoring's latest, ahead of the next build
        churn = await fetchone(
            conn,
            "SELECT churn_probability, churn_risk_level FROM ml.churn_predictions"
            " WHERE tenant_id = %s AND customer_id = %s",
            key,
        )
        out |= churn or {}
    if "analytics.dim_customers" in built:
        dim = await fetchone(
            conn,
            "SELECT health_score AS dim_health, health_trend, health_risk_level AS dim_risk,"
            " total_revenue AS lifetime_revenue, mrr"
            " FROM analytics.dim_customers WHERE tenant_id = %s AND customer_id = %s",
            key,
        )
        if dim is not None:
            if out.get("health_score") is None:  # not scored yet: the mart's own health
                out["health_score"] = dim["dim_health"]
            out["health_risk_level"] = out.get("health_risk_level") or dim["dim_risk"]
            out |= {k: dim[k] for k in ("health_trend", "lifetime_revenue", "mrr")}
    if "analytics.fct_segment_memberships" in built:
        segs = await fetchall(
            conn,
            "SELECT DISTINCT segment_name FROM analytics.fct_segment_memberships"
            " WHERE tenant_id = %s AND customer_id = %s ORDER BY 1",
            key,
        )
        out["segments"] = [s["segment_name"] for s in segs]
    return out


async def _lead_marts(conn: Conn, tenant: UUID, lead_id: UUID) -> dict[str, Any]:
    if "analytics.dim_leads" not in await _marts(conn):
        return {}
    row = await fetchone(
        conn,
        "SELECT won_value FROM analytics.dim_leads WHERE tenant_id = %s AND lead_id = %s",
        (tenant, lead_id),
    )
    return {"lifetime_revenue": row["won_value"]} if row else {}


async def _lead_ids(conn: Conn, tenant: UUID, found: Found) -> list[UUID]:
    ids = [found.lead["id"]] if found.lead else []
    if found.customer is not None:
        rows = await fetchall(
            conn,
            "SELECT id FROM crm.leads WHERE tenant_id = %s AND customer_id = %s",
            (tenant, found.customer["id"]),
        )
        ids += [r["id"] for r in rows if r["id"] not in ids]
    return ids


async def enrich_found(
    conn: Conn,
    tenant: UUID,
    ticket: Ticket,
    found: Found,
    *,
    activities: int = RECENT_ACTIVITIES,
    source_event_id: UUID | None = None,
    ring: Keyring | None = None,
) -> TicketEnriched:
    """The enrichment of a ticket whose requester was looked up (`find_requester`), its recent
    activities' notes opened (`ring`: the keys of the connection's database)."""
    base: dict[str, Any] = {
        "ticket_id": ticket.ticket_id,
        "source_event_id": source_event_id,
        "requester": found.kind,
        "matched_by": found.matched_by,
        "enriched_at": datetime.now(UTC),
    }
    if found.kind is RequesterKind.UNKNOWN:
        return TicketEnriched(**base, name=ticket.name, email=ticket.email, company=ticket.company)
    record = found.customer or found.lead
    assert record is not None
    customer_id = found.customer["id"] if found.customer else None
    lead_ids = await _lead_ids(conn, tenant, found)
    params = {"t": tenant, "c": customer_id, "l": lead_ids, "n": activities}
    deals = await fetchall(conn, OPEN_DEALS, params)
    recent = await fetchall(conn, RECENT, params) if activities > 0 else []
    lead_owner = found.lead["assigned_user_id"] if found.lead and not found.customer else None
    owner = await fetchone(conn, OWNER, params | {"u": lead_owner})
    if found.customer is not None:
        extra = await _customer_marts(conn, tenant, found.customer["id"])
        extra.setdefault("mrr", found.customer["mrr"])
        extra["lifecycle_stage"] = found.customer["lifecycle_stage"]
    else:
        extra = await _lead_marts(conn, tenant, record["id"])
    if found.lead is not None:
        extra["lead_status"] = found.lead["status"]
    return TicketEnriched(
        **base,
        customer_id=customer_id,
        lead_id=found.lead["id"] if found.lead else None,
        name=_name(record),
        email=record["email"],
        company=record["company"],
        owner_id=owner["id"] if owner else None,
        owner_name=staff.open_value(tenant, "full_name", owner["full_name"], ring) if owner else None,
        open_deals=[
            EnrichedDeal(
                deal_id=d["id"],
                name=d["name"],
                stage=d["stage"],
                value=d["value"],
                currency=d["currency"],
                probability=d["probability"],
                expected_close_date=d["expected_close_date"].date() if d["expected_close_date"] else None,
            )
            for d in deals
        ],
        recent_activities=[
            EnrichedActivity(
                activity_id=a["id"],
                entity=a["entity"],
                entity_id=a["entity_id"],
                type=a["type"],
                description=open_note(tenant, a["description"], ring),
                occurred_at=a["created_at"],
            )
            for a in recent
        ],
        **{k: v for k, v in extra.items() if v is not None},
    )


async def enrich_ticket(
    conn: Conn,
    tenant: UUID,
    ticket: Ticket,
    *,
    activities: int = RECENT_ACTIVITIES,
    source_event_id: UUID | None = None,
    ring: Keyring | None = None,
) -> TicketEnriched:
    """enrichTicketWithCRMData: find the requester, then gather its context. `ring`: the keys
    of the connection's database (default: this process's). A landed ticket's sealed requester
    is opened: the enrichment goes to the people answering the ticket, readable."""
    ticket = ticket.opened(tenant, ring)
    found = await find_requester(conn, tenant, ticket, ring)
    return await enrich_found(
        conn, tenant, ticket, found, activities=activities, source_event_id=source_event_id, ring=ring
    )
