"""HubSpot engagements and tickets in, people's activities out, through hubspot-api-client
against the stand-in, into real Postgres."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sealed_people import People
from standins.account import connect_hubspot
from standins.hubspot import Running, Store

from crm.changes import activity_rows, change_rows, now
from crm.keys.keyring import keyring
from integrations.external_sync.engine import run_sync


@dataclass(frozen=True)
class Person:
    tenant_id: uuid.UUID
    actor_id: uuid.UUID | None = None
    actor_type: str = "user"


def q(pg_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute(sql, args).fetchall()


def by_name(s: Store, obj: str, prop: str, value: str) -> str:
    return next(i for i, r in s.objects[obj].items() if r["properties"].get(prop) == value)


def engage(s: Store, obj: str, props: dict[str, Any], **links: str) -> str:
    """An engagement (or ticket) associated as HubSpot's UI associates it."""
    oid = str(s.put(obj, props)["id"])
    for to, tid in links.items():
        s.associate(obj, oid, to, tid)
    return oid


def seed_engagements(s: Store) -> dict[str, str]:
    deal = by_name(s, "deals", "dealname", "Acme renewal")
    ann = by_name(s, "contacts", "email", "ann@acme.com")
    cy = by_name(s, "contacts", "email", "cy@borealis.io")
    acme = by_name(s, "companies", "name", "Acme")
    at = "2025-02-10T15:00:00.000Z"
    return {
        "call": engage(
            s,
            "calls",
            {"hs_timestamp": at, "hs_call_title": "Renewal call", "hs_call_body": "Budget confirmed"},
            deals=deal,
        ),
        "note": engage(s, "notes", {"hs_timestamp": at, "hs_note_body": "Prefers e-mail"}, contacts=ann),
        "meeting": engage(
            s,
            "meetings",
            {"hs_timestamp": at, "hs_meeting_title": "Demo", "hs_meeting_outcome": "COMPLETED"},
            contacts=ann,
        ),
        "task": engage(
            s,
            "tasks",
            {"hs_timestamp": at, "hs_task_subject": "Call back", "hs_task_type": "CALL"},
            deals=deal,
        ),
        "email": engage(
            s,
            "emails",
            {"hs_timestamp": at, "hs_email_subject": "Quote", "hs_email_direction": "EMAIL"},
            contacts=cy,
        ),
        "company_note": engage(
            s, "notes", {"hs_timestamp": at, "hs_note_body": "Company only"}, companies=acme
        ),
        "open_ticket": engage(
            s,
            "tickets",
            {"subject": "Login fails", "hs_pipeline_stage": "1", "hs_ticket_priority": "HIGH"},
            companies=acme,
        ),
        "closed_ticket": engage(
            s,
            "tickets",
            {
                "subject": "Invoice copy",
                "hs_pipeline_stage": "4",
                "closed_date": "2025-03-02T10:00:00.000Z",
                "source_type": "EMAIL",
            },
            contacts=cy,
        ),
    }


def footprint(pg_url: str, tenant: uuid.UUID) -> tuple[int, ...]:
    """(lead activities, deal activities, audit rows, outbox rows, links) of the tenant."""
    row = q(
        pg_url,
        "SELECT (SELECT count(*) FROM crm.lead_activities WHERE tenant_id = %s),"
        " (SELECT count(*) FROM crm.deal_activities WHERE tenant_id = %s),"
        " (SELECT count(*) FROM crm.audit_log WHERE tenant_id = %s),"
        " (SELECT count(*) FROM crm.outbox WHERE tenant_id = %s),"
        " (SELECT count(*) FROM crm.external_ids WHERE tenant_id = %s)",
        *([tenant] * 5),
    )[0]
    return tuple(int(v) for v in row)


def test_engagements_and_tickets_come_in_once(pg_url: str, tenant: uuid.UUID, hubspot: Running) -> None:
    ids = seed_engagements(hubspot.store)
    cid = connect_hubspot(pg_url, tenant, hubspot.url)
    first = run_sync(cid, url=pg_url)
    assert first.status == "completed", first.failures
    assert not first.failures  # the company-only note is not read: it has no lead or deal
    kinds = dict(
        q(
            pg_url,
            "SELECT x.object, coalesce(l.type::text, d.type::text) FROM crm.external_ids x"
            " LEFT JOIN crm.lead_activities l ON l.id = x.entity_id"
            " LEFT JOIN crm.deal_activities d ON d.id = x.entity_id"
            " WHERE x.tenant_id = %s AND x.object IN ('calls', 'emails', 'meetings', 'notes', 'tasks')",
            tenant,
        )
    )
    assert kinds == {
        "calls": "CALL_MADE",  # on the deal
        "tasks": "CALL_MADE",  # a call task on the deal
        "notes": "NOTE_ADDED",
        "meetings": "MEETING_COMPLETED",
        "emails": "EMAIL_SENT",
    }
    stored_texts = q(
        pg_url,
        "SELECT a.description FROM crm.deal_activities a JOIN crm.deals d ON d.id = a.deal_id"
        " WHERE a.tenant_id = %s AND d.name = 'Acme renewal' AND a.type <> 'STAGE_CHANGED'",
        tenant,
    )
    assert all(t.startswith("v2:dk") for (t,) in stored_texts)  # the engagements' notes stored sealed
    deal_texts = sorted(People(pg_url).note(tenant, t) for (t,) in stored_texts)
    assert len(deal_texts) == 2 and deal_texts[0] == "Call back"
    assert "Budget confirmed" in deal_texts[1]
    tickets = q(
        pg_url,
        "SELECT o.event_type, o.payload->'payload'->>'subject', c.company FROM crm.outbox o"
        " LEFT JOIN crm.customers c ON c.id::text = o.payload->'payload'->>'customer_id'"
        " WHERE o.tenant_id = %s AND o.event_type LIKE 'ticket.%%' ORDER BY 1, 2",
        tenant,
    )
    assert tickets == [
        ("ticket.created", "Invoice copy", "Borealis"),  # its contact's company
        ("ticket.created", "Login fails", "Acme"),
        ("ticket.resolved", "Invoice copy", "Borealis"),
    ]
    assert ("tickets", ids["open_ticket"]) in {
        (o, e)
        for o, e in q(pg_url, "SELECT object, external_id FROM crm.external_ids WHERE tenant_id = %s", tenant)
    }

    before, writes = footprint(pg_url, tenant), hubspot.store.writes
    again = run_sync(cid, url=pg_url)
    assert again.status == "completed" and not again.failures
    assert footprint(pg_url, tenant) == before and hubspot.store.writes == writes
    assert again.totals()["created"] + again.totals()["updated"] == 0


def person_activity(
    pg_url: str, tenant: uuid.UUID, parent: str, parent_id: uuid.UUID, kind: str, text: str, **meta: Any
) -> uuid.UUID:
    """An activity a person logs, as the write API records it: the row, its event, its audit row,
    its description sealed in each."""
    aid = uuid.uuid4()
    act: dict[str, Any] = {
        "id": aid,
        "tenant_id": tenant,
        f"{parent}_id": parent_id,
        "user_id": None,
        "type": kind,
        "description": text,
        "metadata": meta,
        "created_at": now(),
    }
    rows = activity_rows(parent, act, ring=keyring(pg_url))  # type: ignore[arg-type]
    stored = rows[0][1]
    People(pg_url).assert_sealed(stored, "description")
    rows += change_rows(
        Person(tenant),
        table=f"{parent}_activities",
        entity=f"{parent}_activity",
        action="created",
        entity_id=aid,
        before=None,
        after=stored,
    )
    with psycopg.connect(pg_url, autocommit=True) as conn, conn.transaction():
        for table, row in rows:
            cols = list(row)
            values = [Jsonb(v) if isinstance(v, dict) else v for v in row.values()]
            conn.execute(
                f"INSERT INTO crm.{table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
                values,
            )
    return aid


def test_peoples_activities_are_pushed_once_as_engagements(
    pg_url: str, tenant: uuid.UUID, hubspot: Running
) -> None:
    cid = connect_hubspot(pg_url, tenant, hubspot.url)
    assert run_sync(cid, url=pg_url).status == "completed"
    lead = People(pg_url).id("leads", tenant, "ann@acme.com")
    deal = q(pg_url, "SELECT id FROM crm.deals WHERE tenant_id = %s AND name = 'Acme renewal'", tenant)[0][0]
    person_activity(pg_url, tenant, "lead", lead, "CALL_ANSWERED", "Talked pricing")
    person_activity(pg_url, tenant, "lead", lead, "NOTE_ADDED", "Wants SSO", due_at="2025-04-01T09:00:00Z")
    person_activity(pg_url, tenant, "deal", deal, "PROPOSAL_SENT", "v2 sent")
    person_activity(
        pg_url, tenant, "deal", deal, "STAGE_CHANGED", "moved", from_stage="A", to_stage="B", probability=50
    )

    pushed = run_sync(cid, url=pg_url)
    assert pushed.status == "completed", pushed.failures
    assert pushed.counts["outbound"]["lead_activities"]["created"] == 2
    assert pushed.counts["outbound"]["deal_activities"] == {
        "created": 1,
        "updated": 0,
        "deleted": 0,
        "unchanged": 1,  # the stage change: HubSpot records it from the deal itself
        "failed": 0,
    }
    s = hubspot.store
    ann, acme_deal = (
        by_name(s, "contacts", "email", "ann@acme.com"),
        by_name(s, "deals", "dealname", "Acme renewal"),
    )
    call = next(iter(s.objects["calls"].values()))
    assert call["properties"]["hs_call_body"] == "Talked pricing"
    assert call["properties"]["hs_call_disposition"] == "f240bbac-87c9-4f6e-bf70-924b57d47db7"
    assert s.links[("calls", call["id"], "contacts")] == {ann}
    task = next(iter(s.objects["tasks"].values()))
    assert task["properties"]["hs_task_subject"] == "Wants SSO"
    note = next(iter(s.objects["notes"].values()))
    assert note["properties"]["hs_note_body"] == "Proposal sent: v2 sent"
    assert s.links[("notes", note["id"], "deals")] == {acme_deal}

    before, writes = footprint(pg_url, tenant), s.writes
    again = run_sync(cid, url=pg_url)  # the pushes read back are their own echo
    assert again.status == "completed" and not again.failures
    assert footprint(pg_url, tenant) == before and s.writes == writes
    assert again.totals()["created"] + again.totals()["updated"] == 0


def test_past_the_search_window_nothing_is_read_twice(
    pg_url: str, tenant: uuid.UUID, hubspot: Running, monkeypatch: Any
) -> None:
    """Search again from the last time seen once the window is spent (here 4 results, pages of
    2): the records at that time already read are left out, so each is written once."""
    import standins.hubspot as standin

    from integrations.external_sync import hubspot as provider

    seed_engagements(hubspot.store)
    monkeypatch.setattr(standin, "SEARCH_WINDOW", 4)
    monkeypatch.setattr(provider, "SEARCH_WINDOW", 4)
    s = hubspot.store
    at = s.clock
    for i in range(3):  # three contacts modified in the same millisecond
        s.clock = at
        s.put("contacts", {"email": f"same{i}@acme.com", "lifecyclestage": "lead"})
    result = run_sync(connect_hubspot(pg_url, tenant, hubspot.url), url=pg_url)
    assert result.status == "completed" and not result.failures
    assert result.counts["inbound"]["lead"] == {
        "created": 6,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
        "failed": 0,
    }
