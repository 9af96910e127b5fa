"""CRM edits pushed to the HubSpot stand-in; conflicts by the later edit; deletions both ways."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sealed_people import People
from standins.account import connect_hubspot
from standins.hubspot import Running

from crm.changes import change_rows
from crm.keys import personal
from crm.keys.keyring import keyring
from integrations.external_sync.engine import run_sync


@dataclass(frozen=True)
class User:
    tenant_id: uuid.UUID
    actor_id: uuid.UUID | None = None
    actor_type: str = "user"


def _write_audit(conn: psycopg.Connection[Any], pairs: list[tuple[str, dict[str, Any]]]) -> None:
    for table, row in pairs:
        cols = list(row)
        values = [Jsonb(v) if isinstance(v, dict) else v for v in row.values()]
        conn.execute(
            f"INSERT INTO crm.{table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})", values
        )


def human(
    pg_url: str, tenant: uuid.UUID, table: str, entity: str, eid: uuid.UUID | None, **sets: Any
) -> uuid.UUID:
    """A person's change as the write API records it: the row (people's values sealed), its
    audit row and its event."""
    if table in personal.PERSONAL:
        sets = personal.seal_row(tenant, table, sets, keyring(pg_url))
    with psycopg.connect(pg_url, autocommit=True) as conn, conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        if eid is None:
            eid = uuid.uuid4()
            cols = ["id", "tenant_id", *sets]
            after = cur.execute(
                f"INSERT INTO crm.{table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) RETURNING *",
                [eid, tenant, *sets.values()],
            ).fetchone()
            action, before = "created", None
        elif not sets:
            before = cur.execute(f"DELETE FROM crm.{table} WHERE id = %s RETURNING *", (eid,)).fetchone()
            action, after = "deleted", None
        else:
            before = cur.execute(f"SELECT * FROM crm.{table} WHERE id = %s", (eid,)).fetchone()
            assignments = ", ".join(f"{c} = %s" for c in sets)
            after = cur.execute(
                f"UPDATE crm.{table} SET {assignments}, version = version + 1 WHERE id = %s RETURNING *",
                [*sets.values(), eid],
            ).fetchone()
            action = "updated"
        _write_audit(
            conn,
            change_rows(
                User(tenant),
                table=table,
                entity=entity,
                action=action,
                entity_id=eid,
                before=before,
                after=after,
            ),
        )
    return eid


def one(pg_url: str, sql: str, *args: Any) -> Any:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(sql, args).fetchone()
    return row[0] if row else None


def test_crm_edits_are_pushed_once_and_not_read_back(
    pg_url: str, tenant: uuid.UUID, hubspot: Running
) -> None:
    cid = connect_hubspot(pg_url, tenant, hubspot.url)
    run_sync(cid, url=pg_url)
    acme = one(pg_url, "SELECT id FROM crm.customers WHERE tenant_id = %s AND company = 'Acme'", tenant)
    deal = one(pg_url, "SELECT id FROM crm.deals WHERE tenant_id = %s AND name = 'Acme renewal'", tenant)
    lead = human(
        pg_url,
        tenant,
        "leads",
        "lead",
        None,
        email="dee@acme.com",
        first_name="Dee",
        source="api",
        customer_id=acme,
    )
    human(pg_url, tenant, "deals", "deal", deal, stage="Closed Won", value=15000)

    pushed = run_sync(cid, url=pg_url)
    assert pushed.counts["outbound"]["leads"]["created"] == 1, (pushed.counts, pushed.failures)
    assert pushed.counts["outbound"]["deals"]["updated"] == 1, (pushed.counts, pushed.failures)
    contacts = hubspot.store.objects["contacts"]
    made = next(r for r in contacts.values() if r["properties"].get("email") == "dee@acme.com")
    # stored sealed, pushed readable
    People.assert_sealed(People(pg_url).stored("leads", lead), "email", "first_name")
    assert made["properties"]["firstname"] == "Dee"
    acme_id = one(pg_url, "SELECT external_id FROM crm.external_ids WHERE entity_id = %s", acme)
    assert made["properties"]["associatedcompanyid"] == acme_id
    assert one(pg_url, "SELECT external_id FROM crm.external_ids WHERE entity_id = %s", lead) == made["id"]
    deal_id = one(pg_url, "SELECT external_id FROM crm.external_ids WHERE entity_id = %s", deal)
    props = hubspot.store.objects["deals"][deal_id]["properties"]
    assert props["dealstage"] == "closedwon" and props["amount"] == "15000.00"
    assert props["hs_date_entered_closedwon"]  # HubSpot keeps the stage history of the push

    writes, audit = (
        hubspot.store.writes,
        one(pg_url, "SELECT count(*) FROM crm.audit_log WHERE tenant_id = %s", tenant),
    )
    again = run_sync(cid, url=pg_url)  # the pushes come back as HubSpot's newest records: echoes
    assert hubspot.store.writes == writes
    assert one(pg_url, "SELECT count(*) FROM crm.audit_log WHERE tenant_id = %s", tenant) == audit
    assert again.totals()["created"] + again.totals()["updated"] == 0


def test_a_changed_reference_moves_the_association(pg_url: str, tenant: uuid.UUID, hubspot: Running) -> None:
    """A deal moved to another customer and a contact to another company in the CRM: after the
    push, each has the new company as its only one in HubSpot, and reading it back changes
    nothing in the CRM."""
    cid = connect_hubspot(pg_url, tenant, hubspot.url)
    run_sync(cid, url=pg_url)

    def ext(entity: uuid.UUID) -> str:
        return one(pg_url, "SELECT external_id FROM crm.external_ids WHERE entity_id = %s", entity)

    bore = one(pg_url, "SELECT id FROM crm.customers WHERE tenant_id = %s AND company = 'Borealis'", tenant)
    deal = one(pg_url, "SELECT id FROM crm.deals WHERE tenant_id = %s AND name = 'Acme renewal'", tenant)
    ann = People(pg_url).id("leads", tenant, "ann@acme.com")
    links = hubspot.store.links
    assert links[("deals", ext(deal), "companies")] == {
        ext(one(pg_url, "SELECT customer_id FROM crm.deals WHERE id = %s", deal))
    }
    assert ext(bore) not in links[("deals", ext(deal), "companies")]
    human(pg_url, tenant, "deals", "deal", deal, customer_id=bore)
    human(pg_url, tenant, "leads", "lead", ann, customer_id=bore)

    pushed = run_sync(cid, url=pg_url)
    assert pushed.failures == []
    assert links[("deals", ext(deal), "companies")] == {ext(bore)}
    assert links[("contacts", ext(ann), "companies")] == {ext(bore)}
    assert hubspot.store.objects["contacts"][ext(ann)]["properties"]["associatedcompanyid"] == ext(bore)
    again = run_sync(cid, url=pg_url)
    assert again.totals()["created"] + again.totals()["updated"] == 0
    assert one(pg_url, "SELECT customer_id FROM crm.deals WHERE id = %s", deal) == bore
    assert one(pg_url, "SELECT customer_id FROM crm.leads WHERE id = %s", ann) == bore


def test_the_later_edit_wins_a_conflict(pg_url: str, tenant: uuid.UUID, hubspot: Running) -> None:
    cid = connect_hubspot(pg_url, tenant, hubspot.url)
    run_sync(cid, url=pg_url)
    ann = People(pg_url).id("leads", tenant, "ann@acme.com")
    bob = People(pg_url).id("leads", tenant, "bob@acme.com")
    ann_hs = one(pg_url, "SELECT external_id FROM crm.external_ids WHERE entity_id = %s", ann)
    bob_hs = one(pg_url, "SELECT external_id FROM crm.external_ids WHERE entity_id = %s", bob)
    # Ann: edited in HubSpot, then in the CRM -> the CRM wins. Bob: the other way round.
    hubspot.store.clock = datetime.now(UTC) - timedelta(seconds=1)
    hubspot.store.put("contacts", {"firstname": "Ann-HubSpot"}, ann_hs)
    human(pg_url, tenant, "leads", "lead", ann, first_name="Ann-CRM")
    human(pg_url, tenant, "leads", "lead", bob, first_name="Bob-CRM")
    hubspot.store.clock = datetime.now(UTC)
    hubspot.store.put("contacts", {"firstname": "Bob-HubSpot"}, bob_hs)

    run_sync(cid, url=pg_url)
    assert People(pg_url).get("leads", ann)["first_name"] == "Ann-CRM"
    assert hubspot.store.objects["contacts"][ann_hs]["properties"]["firstname"] == "Ann-CRM"
    assert People(pg_url).get("leads", bob)["first_name"] == "Bob-HubSpot"
    assert hubspot.store.objects["contacts"][bob_hs]["properties"]["firstname"] == "Bob-HubSpot"


def test_deletions_both_ways(pg_url: str, tenant: uuid.UUID, hubspot: Running) -> None:
    cid = connect_hubspot(pg_url, tenant, hubspot.url)
    run_sync(cid, url=pg_url)
    bore = one(pg_url, "SELECT id FROM crm.customers WHERE tenant_id = %s AND company = 'Borealis'", tenant)
    bore_hs = one(pg_url, "SELECT external_id FROM crm.external_ids WHERE entity_id = %s", bore)
    hubspot.store.archive("companies", bore_hs)
    cy = People(pg_url).id("leads", tenant, "cy@borealis.io")
    cy_hs = one(pg_url, "SELECT external_id FROM crm.external_ids WHERE entity_id = %s", cy)
    human(pg_url, tenant, "leads", "lead", cy)  # deleted in the CRM

    result = run_sync(cid, url=pg_url)
    assert result.counts["inbound"]["companies"]["deleted"] == 1
    assert result.counts["outbound"]["leads"]["deleted"] == 1
    marked = one(
        pg_url, "SELECT custom_fields ? 'hubspot_archived_at' FROM crm.customers WHERE id = %s", bore
    )
    assert marked is True
    assert hubspot.store.objects["contacts"][cy_hs]["archived"] is True
    again = run_sync(cid, url=pg_url)  # each deletion handled once
    assert again.totals()["deleted"] == 0
