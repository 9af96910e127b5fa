"""Tickets made or changed in the CRM (through the outbox or landed in `raw.tickets`) pushed
to the HubSpot stand-in as tickets and to the Salesforce stand-in as Cases, once, linked, and
not read back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sealed_people import People
from standins.account import connect_hubspot
from standins.hubspot import Running as HubSpot
from standins.salesforce import Running as Salesforce
from standins.salesforce_account import connect_salesforce, salesforce
from test_hubspot_outbound import one
from test_salesforce_outbound import linked
from test_salesforce_sync import new_tenant

from crm.changes import API_SOURCE, outbox_row
from crm.events.build import build_event
from crm.keys import event_text
from crm.keys.keyring import keyring
from integrations.external_sync.engine import run_sync

__all__ = ["salesforce"]
TICKETING = "ticketing-system"


def ticket_in_outbox(pg_url: str, tenant: uuid.UUID, payload: dict[str, Any]) -> None:
    """A ticket created through the CRM's API: its event waiting in the outbox."""
    event = build_event("ticket.created", tenant, payload, occurred_at=datetime.now(UTC), source=API_SOURCE)
    row = outbox_row(event, datetime.now(UTC))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO crm.outbox (event_id, tenant_id, topic, key, event_type, payload, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                *[row[k] for k in ("event_id", "tenant_id", "topic", "key", "event_type")],
                Jsonb(row["payload"]),
                row["created_at"],
            ),
        )


def ticket_landed(pg_url: str, tenant: uuid.UUID, event_type: str, payload: dict[str, Any]) -> None:
    """A ticket event of the ticketing system, landed as the lander writes it: its subject, body
    and requester sealed."""
    version, key = keyring(pg_url).current(tenant)
    payload = event_text.sealer("tickets", tenant, version, key)(payload) or payload
    assert all(payload.get(f) is None or payload[f].startswith("d2:dk") for f in ("subject", "body"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO raw.tickets (event_id, tenant_id, event_type, schema_version, occurred_at, source, payload)"
            " VALUES (%s, %s, %s, 2, now(), %s, %s)",
            (uuid.uuid4(), tenant, event_type, TICKETING, Jsonb(payload)),
        )


def events(pg_url: str, tenant: uuid.UUID) -> int:
    return int(
        one(
            pg_url,
            "SELECT (SELECT count(*) FROM raw.tickets WHERE tenant_id = %s)"
            " + (SELECT count(*) FROM crm.outbox WHERE tenant_id = %s AND topic = 'tickets')",
            tenant,
            tenant,
        )
    )


def test_a_ticket_made_in_the_crm_is_pushed_once_to_hubspot(
    pg_url: str, tenant: uuid.UUID, hubspot: HubSpot
) -> None:
    cid = connect_hubspot(pg_url, tenant, hubspot.url)
    assert run_sync(cid, url=pg_url).status == "completed"
    acme = one(pg_url, "SELECT id FROM crm.customers WHERE tenant_id = %s AND company = 'Acme'", tenant)
    ann = People(pg_url).id("leads", tenant, "ann@acme.com")
    tid = uuid.uuid4()
    ticket = {
        "ticket_id": str(tid),
        "channel": "EMAIL",
        "subject": "SSO broken",
        "priority": "HIGH",
        "status": "OPEN",
        "customer_id": str(acme),
        "lead_id": str(ann),
        "body": "Login fails",
    }
    ticket_in_outbox(pg_url, tenant, ticket)

    pushed = run_sync(cid, url=pg_url)
    assert pushed.status == "completed", pushed.failures
    assert pushed.counts["outbound"]["tickets"]["created"] == 1
    s = hubspot.store
    hid = linked(pg_url, tid)
    made = s.objects["tickets"][hid]["properties"]
    assert (made["subject"], made["hs_pipeline_stage"], made["hs_ticket_priority"], made["content"]) == (
        "SSO broken",
        "1",
        "HIGH",
        "Login fails",
    )
    assert s.links[("tickets", hid, "companies")] == {linked(pg_url, acme)}
    assert s.links[("tickets", hid, "contacts")] == {linked(pg_url, ann)}

    writes, before = s.writes, events(pg_url, tenant)
    again = run_sync(cid, url=pg_url)  # the ticket read back is its own echo; the event is pushed
    assert again.status == "completed" and not again.failures
    assert s.writes == writes and events(pg_url, tenant) == before
    assert again.totals()["created"] + again.totals()["updated"] == 0

    landed = ticket | {"status": "RESOLVED", "body": "SSO certificate renewed"}
    ticket_landed(pg_url, tenant, "ticket.resolved", landed)  # landed change, its text sealed
    resolved = run_sync(cid, url=pg_url)
    assert resolved.counts["outbound"]["tickets"]["updated"] == 1, resolved.failures
    props = s.objects["tickets"][hid]["properties"]
    assert (props["hs_pipeline_stage"], props["subject"], props["content"]) == (
        "4",
        "SSO broken",
        "SSO certificate renewed",
    )
    writes = s.writes
    assert run_sync(cid, url=pg_url).totals()["updated"] == 0 and s.writes == writes


def test_a_landed_ticket_is_pushed_once_to_salesforce_as_a_case(pg_url: str, salesforce: Salesforce) -> None:
    tenant = new_tenant(pg_url)
    cid = connect_salesforce(pg_url, tenant, salesforce)
    assert run_sync(cid, url=pg_url).status == "completed"
    acme = one(pg_url, "SELECT id FROM crm.customers WHERE tenant_id = %s AND company = 'Acme'", tenant)
    tid = uuid.uuid4()
    ticket_landed(
        pg_url,
        tenant,
        "ticket.created",
        {
            "ticket_id": str(tid),
            "channel": "PHONE",
            "subject": "Invoice wrong",
            "priority": "NORMAL",
            "status": "OPEN",
            "customer_id": str(acme),
        },
    )

    pushed = run_sync(cid, url=pg_url)
    assert pushed.status == "completed", pushed.failures
    assert pushed.counts["outbound"]["tickets"]["created"] == 1
    case = salesforce.store.objects["Case"][linked(pg_url, tid)]
    assert (case["Subject"], case["AccountId"], case["Origin"], case["Priority"], case["Status"]) == (
        "Invoice wrong",
        linked(pg_url, acme),
        "Phone",
        "Medium",
        "New",
    )

    writes, before = salesforce.store.writes, events(pg_url, tenant)
    again = run_sync(cid, url=pg_url)  # the Case read back is its own echo
    assert again.status == "completed" and not again.failures
    assert salesforce.store.writes == writes and events(pg_url, tenant) == before
    assert again.totals()["created"] + again.totals()["updated"] == 0
