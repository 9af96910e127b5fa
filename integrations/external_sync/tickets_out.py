"""Tickets made or changed in the CRM pushed to the vendor (HubSpot tickets, Salesforce Cases).

The CRM holds a ticket as its `tickets` events (`ticket.created`, `ticket.updated`,
`ticket.resolved`), in `crm.outbox` until published and in `raw.tickets` once landed. A ticket
change made in the CRM is such an event whose source is not the system's (imports and this
sync write the vendor's own tickets: pushing them would echo). Each run pushes, per ticket, the
latest such event not yet pushed: a new ticket is created on its customer's account (and its
lead's contact, from `crm.ticket_leads` or the event) and linked in `crm.external_ids`; a linked one is
updated. The link remembers the event pushed (`content_hash = pushed:<event id>`), so each event
is pushed once; a vendor change read in after it (a later link change) wins over older CRM
events. A push that fails is counted and tried again by the next run (its event is still the
latest not pushed). The pushed record's modification time goes to `crm.sync_pushes`, so its
echo is not read back. A landed ticket's subject, body and requester are sealed (the lander
seals them, `crm.keys.event_text`): they are opened before the push, the vendor keeps them readable.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable
from uuid import UUID

import psycopg

from crm.events.topics import Topic
from crm.keys import event_text
from crm.keys.keyring import keyring
from integrations.external_sync import store
from integrations.external_sync.provider import Outbound, Pushed

SYSTEM_SOURCES = ["crm-import", "crm-sync"]
"""Sources of ticket events that are the vendors' (read in), not people's in the CRM."""
TICKET_EVENTS = ["ticket.created", "ticket.updated", "ticket.resolved"]
TABLE = "tickets"

LATEST = """
SELECT DISTINCT ON (ticket_id) ticket_id, event_id, occurred_at, payload FROM (
    SELECT (payload->>'ticket_id')::uuid AS ticket_id, event_id, occurred_at, payload
      FROM raw.tickets
     WHERE tenant_id = %(tenant)s AND event_type = ANY(%(types)s) AND source <> ALL(%(system)s)
    UNION ALL
    SELECT (payload->'payload'->>'ticket_id')::uuid, event_id, (payload->>'occurred_at')::timestamptz,
           payload->'payload'
      FROM crm.outbox
     WHERE tenant_id = %(tenant)s AND topic = 'tickets' AND event_type = ANY(%(types)s)
       AND payload->>'source' <> ALL(%(system)s)
) e
ORDER BY ticket_id, occurred_at DESC, event_id DESC
"""
"""Per ticket, its latest event made in the CRM (landed or still in the outbox)."""


@runtime_checkable
class TicketPusher(Protocol):
    system: str

    def ticket_outbound(self, ticket: dict[str, Any], refs: dict[str, str | None]) -> Outbound: ...
    def push(self, out: Outbound, external_id: str | None) -> Pushed: ...


class Counter(Protocol):
    failures: list[dict[str, Any]]

    def count(self, direction: str, obj: str, what: str, n: int = 1) -> None: ...


def _links(
    conn: psycopg.Connection[Any], c: store.Connection, system: str
) -> dict[tuple[str, UUID], tuple[Any, ...]]:
    """(entity, entity id) -> (object, external id, content_hash, last_changed_at) of the vendor's links."""
    rows = conn.execute(
        "SELECT entity, entity_id, object, external_id, content_hash, last_changed_at FROM crm.external_ids"
        " WHERE tenant_id = %s AND system = %s AND entity = ANY(%s) AND content_hash <> 'archived'"
        " ORDER BY last_changed_at",
        (c.tenant_id, system, [TABLE, "customers", "leads"]),
    ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


def push_tickets(
    conn: psycopg.Connection[Any], c: store.Connection, prov: TicketPusher, result: Counter
) -> None:
    """Push each ticket whose latest CRM-made event is not pushed yet (see the module)."""
    latest = conn.execute(
        LATEST, {"tenant": c.tenant_id, "types": TICKET_EVENTS, "system": SYSTEM_SOURCES}
    ).fetchall()
    if not latest:
        return
    links = _links(conn, c, prov.system)
    ring = keyring(c.database)
    requesters = dict(
        conn.execute(
            "SELECT ticket_id, lead_id FROM crm.ticket_leads WHERE tenant_id = %s AND lead_id IS NOT NULL",
            (c.tenant_id,),
        ).fetchall()
    )
    for tid, event_id, occurred_at, payload in latest:
        link = links.get((TABLE, tid))
        if link is not None and (link[2] == f"pushed:{event_id}" or link[3] >= occurred_at):
            continue  # pushed already, or the vendor's later version was read in
        refs: dict[str, str | None] = {}
        for ref, entity, eid in (
            ("customer_id", "customers", payload.get("customer_id")),
            ("lead_id", "leads", requesters.get(tid) or payload.get("lead_id")),
        ):
            found = links.get((entity, UUID(str(eid)))) if eid else None
            refs[ref] = found[1] if found else None
        out = prov.ticket_outbound(event_text.open_payload(c.tenant_id, Topic.TICKETS, payload, ring), refs)
        try:
            pushed = prov.push(out, link[1] if link else None)
        except Exception as exc:  # the SDK gave up: the event stays the latest not pushed
            result.failures.append(
                {"object": TABLE, "id": str(tid), "error": f"{type(exc).__name__}: {str(exc)[:500]}"}
            )
            result.count("outbound", TABLE, "failed")
            continue
        _record(conn, c, prov.system, link[0] if link else out.object, tid, pushed, f"pushed:{event_id}")
        result.count("outbound", TABLE, "updated" if link else "created")


def _record(
    conn: psycopg.Connection[Any],
    c: store.Connection,
    system: str,
    obj: str,
    tid: UUID,
    pushed: Pushed,
    mark: str,
) -> None:
    with conn.transaction():
        conn.execute(
            "INSERT INTO crm.external_ids (tenant_id, system, object, external_id, entity, entity_id, content_hash)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, system, object, external_id)"
            " DO UPDATE SET content_hash = excluded.content_hash, last_changed_at = now()",
            (c.tenant_id, system, obj, pushed.id, TABLE, tid, mark),
        )
        conn.execute(
            "INSERT INTO crm.sync_pushes (tenant_id, connection_id, object, external_id, vendor_updated_at, audit_id)"
            " VALUES (%s, %s, %s, %s, %s, 0) ON CONFLICT (connection_id, object, external_id) DO UPDATE SET"
            " vendor_updated_at = excluded.vendor_updated_at, audit_id = 0",
            (c.tenant_id, c.id, obj, pushed.id, pushed.updated_at),
        )
