"""Salesforce inbound through simple-salesforce against the stand-in, into real Postgres."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from sealed_people import People
from standins.salesforce import Running
from standins.salesforce_account import connect_salesforce, salesforce

from crm.errors import CRMError
from integrations.external_sync.engine import run_sync
from integrations.imports.run import resolve_tenant

__all__ = ["salesforce"]


def q(pg_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute(sql, args).fetchall()


def new_tenant(pg_url: str) -> uuid.UUID:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return resolve_tenant(conn, f"sf-{uuid.uuid4().hex[:8]}", "Salesforce tenant")


def footprint(pg_url: str, tenant: uuid.UUID) -> tuple[int, ...]:
    """(customers, leads, deals, lead activities, deal activities, audit rows, outbox rows)."""
    tables = ("customers", "leads", "deals", "lead_activities", "deal_activities", "audit_log", "outbox")
    sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM crm.{t} WHERE tenant_id = %s)" for t in tables)
    return tuple(int(v) for v in q(pg_url, sql, *([tenant] * len(tables)))[0])


def test_inbound_maps_every_object_and_a_second_sync_changes_nothing(
    pg_url: str, salesforce: Running
) -> None:
    tenant = new_tenant(pg_url)
    cid = connect_salesforce(pg_url, tenant, salesforce)
    first = run_sync(cid, url=pg_url)
    assert first.status == "completed", first.failures
    assert footprint(pg_url, tenant)[:3] == (2, 3, 2)
    deal = q(
        pg_url,
        "SELECT stage, value, customer_id IS NOT NULL, lead_id IS NOT NULL FROM crm.deals"
        " WHERE tenant_id = %s AND name = 'Acme renewal'",
        tenant,
    )[0]
    assert deal == ("Negotiation/Review", 12000, True, True)
    stages = q(
        pg_url,
        "SELECT a.metadata->>'from_stage', a.metadata->>'to_stage' FROM crm.deal_activities a"
        " JOIN crm.deals d ON d.id = a.deal_id WHERE a.tenant_id = %s AND d.name = 'Acme renewal'"
        " AND a.type = 'STAGE_CHANGED' ORDER BY a.created_at",
        tenant,
    )
    assert stages == [
        (None, "Prospecting"),
        ("Prospecting", "Qualification"),
        ("Qualification", "Negotiation/Review"),
    ]
    people = People(pg_url)
    lead = people.rows("leads", tenant, "cy@borealis.io")
    assert [(r["status"], r["company"]) for r in lead] == [("NEW", "Borealis")]
    contact = people.rows("leads", tenant, "Ann@Acme.com")
    assert [people.get("customers", r["customer_id"])["company"] for r in contact] == ["Acme"]
    # people's values are stored sealed, beside the e-mail's index and domain
    stored = people.stored("leads", contact[0]["id"])
    people.assert_sealed(stored, "email", "last_name")
    assert stored["email_domain"] == "acme.com" and stored["email_bidx"].startswith("bi")
    stored = q(
        pg_url,
        "SELECT 'deal', type::text, description FROM crm.deal_activities WHERE tenant_id = %s"
        " UNION ALL SELECT 'lead', type::text, description FROM crm.lead_activities WHERE tenant_id = %s",
        tenant,
        tenant,
    )
    assert all(d.startswith("v2:dk") for _, _, d in stored if d)  # notes stored sealed
    acts = {(parent, people.note(tenant, d)): kind for parent, kind, d in stored}
    # a Call task on the deal, an Event with Ann
    assert (acts[("deal", "Kickoff call")], acts[("lead", "Demo")]) == ("CALL_MADE", "MEETING_SCHEDULED")
    ticket = q(
        pg_url,
        "SELECT payload->'payload'->>'priority', payload->'payload'->>'channel' FROM crm.outbox WHERE tenant_id = %s"
        " AND event_type = 'ticket.created'",
        tenant,
    )
    assert ticket == [("HIGH", "EMAIL")]
    systems = q(pg_url, "SELECT DISTINCT system FROM crm.external_ids WHERE tenant_id = %s", tenant)
    assert systems == [("salesforce",)]
    assert q(pg_url, "SELECT format FROM crm.import_runs WHERE id = %s", first.import_run_id) == [
        ("salesforce-sync",)
    ]

    before, writes = footprint(pg_url, tenant), salesforce.store.writes
    again = run_sync(cid, url=pg_url)
    assert again.status == "completed"
    assert footprint(pg_url, tenant) == before and salesforce.store.writes == writes
    assert again.totals()["created"] + again.totals()["updated"] == 0


def test_faults_on_a_third_of_the_calls_end_as_a_clean_run(pg_url: str, salesforce: Running) -> None:
    clean_tenant, faulty_tenant = new_tenant(pg_url), new_tenant(pg_url)
    clean = run_sync(connect_salesforce(pg_url, clean_tenant, salesforce), url=pg_url)
    clean_calls = salesforce.store.calls
    salesforce.store.fault_every, salesforce.store.retry_after = 3, "0"
    faulty = run_sync(connect_salesforce(pg_url, faulty_tenant, salesforce), url=pg_url)
    calls = salesforce.store.calls - clean_calls
    assert salesforce.store.faults * 3 >= calls - 3, (salesforce.store.faults, calls)
    assert salesforce.store.faults >= 3  # 429, 503 and 500 each at least once
    assert faulty.status == clean.status == "completed"
    assert faulty.counts == clean.counts
    assert footprint(pg_url, faulty_tenant) == footprint(pg_url, clean_tenant)


def test_a_vendor_that_stays_down_fails_the_run_with_its_cursor_kept(
    pg_url: str, salesforce: Running
) -> None:
    tenant = new_tenant(pg_url)
    cid = connect_salesforce(pg_url, tenant, salesforce, http_attempts=2)
    salesforce.store.fault_every = 1
    with pytest.raises(CRMError) as caught:
        run_sync(cid, url=pg_url)
    assert caught.value.code == "INTEGRATION_SYNC_FAILED"
    assert caught.value.context["provider"] == "salesforce"
    assert q(pg_url, "SELECT status FROM crm.sync_runs WHERE connection_id = %s", cid) == [("failed",)]
    assert q(pg_url, "SELECT inbound_cursor FROM crm.sync_connections WHERE id = %s", cid)[0][0] == {}


def test_a_record_that_does_not_map_is_queued_then_retried(pg_url: str, salesforce: Running) -> None:
    tenant = new_tenant(pg_url)
    cid = connect_salesforce(pg_url, tenant, salesforce)
    bad = salesforce.store.put(
        "Opportunity",
        {"Name": "Broken", "Amount": "lots", "StageName": "Prospecting", "CloseDate": "2025-05-01"},
    )["Id"]
    first = run_sync(cid, url=pg_url)
    assert first.counts["inbound"]["Opportunity"]["failed"] == 1, first.failures
    failure = next(f for f in first.failures if f["context"]["id"] == bad)
    assert failure["code"] == "INTEGRATION_SYNC_FAILED"
    context = {k: failure["context"][k] for k in ("provider", "direction", "object", "attempt", "gave_up")}
    assert context == {
        "provider": "salesforce",
        "direction": "inbound",
        "object": "Opportunity",
        "attempt": 1,
        "gave_up": False,
    }
    queued = q(
        pg_url,
        "SELECT object, record_id, status, next_attempt_at > now() FROM crm.sync_retry_queue"
        " WHERE connection_id = %s AND object = 'Opportunity'",
        cid,
    )
    assert queued == [("Opportunity", bad, "pending", True)]
    # fixed in Salesforce without a new modification time, and due: the retry reads it by id
    salesforce.store.objects["Opportunity"][bad]["Amount"] = 900
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE crm.sync_retry_queue SET next_attempt_at = now() WHERE connection_id = %s", (cid,)
        )
    second = run_sync(cid, url=pg_url)
    assert second.counts["inbound"]["deal"]["created"] == 1, (second.counts, second.failures)
    statuses = q(
        pg_url,
        "SELECT status FROM crm.sync_retry_queue WHERE connection_id = %s AND object = 'Opportunity'",
        cid,
    )
    assert statuses == [("done",)]
