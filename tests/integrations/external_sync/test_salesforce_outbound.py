"""CRM edits pushed to the Salesforce stand-in as sobjects; conflicts by the later edit;
deletions both ways."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sealed_people import People
from standins.salesforce import Running
from standins.salesforce_account import connect_salesforce, salesforce
from test_hubspot_outbound import human, one
from test_salesforce_sync import new_tenant

from integrations.external_sync.engine import run_sync

__all__ = ["salesforce"]


def linked(pg_url: str, eid: uuid.UUID) -> str:
    return str(one(pg_url, "SELECT external_id FROM crm.external_ids WHERE entity_id = %s", eid))


def test_crm_edits_are_pushed_once_and_not_read_back(pg_url: str, salesforce: Running) -> None:
    tenant = new_tenant(pg_url)
    cid = connect_salesforce(pg_url, tenant, salesforce)
    run_sync(cid, url=pg_url)
    acme = one(pg_url, "SELECT id FROM crm.customers WHERE tenant_id = %s AND company = 'Acme'", tenant)
    deal = one(pg_url, "SELECT id FROM crm.deals WHERE tenant_id = %s AND name = 'Acme renewal'", tenant)
    cy = People(pg_url).id("leads", tenant, "cy@borealis.io")
    dee = human(
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
    eve = human(pg_url, tenant, "leads", "lead", None, email="eve@gamma.io", last_name="Eve", source="api")
    human(pg_url, tenant, "deals", "deal", deal, stage="Closed Won", value=15000)
    human(pg_url, tenant, "leads", "lead", cy, first_name="Cyrus")

    pushed = run_sync(cid, url=pg_url)
    assert pushed.counts["outbound"]["leads"] == {
        "created": 2,
        "updated": 1,
        "deleted": 0,
        "unchanged": 0,
        "failed": 0,
    }, pushed.failures
    assert pushed.counts["outbound"]["deals"]["updated"] == 1, pushed.failures
    sf = salesforce.store.objects
    contact = sf["Contact"][linked(pg_url, dee)]
    assert (contact["Email"], contact["AccountId"]) == ("dee@acme.com", linked(pg_url, acme))
    # stored sealed, pushed readable
    People.assert_sealed(People(pg_url).stored("leads", dee), "email", "first_name")
    assert contact["FirstName"] == "Dee"
    lead = sf["Lead"][linked(pg_url, eve)]  # no customer: a Lead, with Salesforce's placeholder company
    assert (lead["LastName"], lead["Company"], lead["Status"]) == (
        "Eve",
        "[not provided]",
        "Open - Not Contacted",
    )
    assert sf["Lead"][linked(pg_url, cy)]["FirstName"] == "Cyrus"  # linked as a Lead: stays one
    opportunity_id = linked(pg_url, deal)
    opportunity = sf["Opportunity"][opportunity_id]
    assert (opportunity["StageName"], opportunity["Amount"], opportunity["IsWon"]) == (
        "Closed Won",
        "15000.00",
        True,
    )
    history = [
        h["StageName"] for h in sf["OpportunityHistory"].values() if h["OpportunityId"] == opportunity_id
    ]
    assert history[-1] == "Closed Won"  # Salesforce records the stage history of the push

    writes = salesforce.store.writes
    audit = one(pg_url, "SELECT count(*) FROM crm.audit_log WHERE tenant_id = %s", tenant)
    again = run_sync(cid, url=pg_url)  # the pushes come back as the newest records: echoes
    assert salesforce.store.writes == writes
    assert one(pg_url, "SELECT count(*) FROM crm.audit_log WHERE tenant_id = %s", tenant) == audit
    assert again.totals()["created"] + again.totals()["updated"] == 0, again.counts


def test_the_later_edit_wins_a_conflict(pg_url: str, salesforce: Running) -> None:
    tenant = new_tenant(pg_url)
    cid = connect_salesforce(pg_url, tenant, salesforce)
    run_sync(cid, url=pg_url)
    ann = People(pg_url).id("leads", tenant, "ann@acme.com")
    bob = People(pg_url).id("leads", tenant, "bob@acme.com")
    ann_sf, bob_sf = linked(pg_url, ann), linked(pg_url, bob)
    # Ann: edited in Salesforce, then in the CRM -> the CRM wins. Bob: the other way round.
    salesforce.store.clock = datetime.now(UTC) - timedelta(seconds=1)
    salesforce.store.put("Contact", {"FirstName": "Ann-SF"}, ann_sf)
    human(pg_url, tenant, "leads", "lead", ann, first_name="Ann-CRM")
    human(pg_url, tenant, "leads", "lead", bob, first_name="Bob-CRM")
    salesforce.store.clock = datetime.now(UTC)
    salesforce.store.put("Contact", {"FirstName": "Bob-SF"}, bob_sf)

    run_sync(cid, url=pg_url)
    assert People(pg_url).get("leads", ann)["first_name"] == "Ann-CRM"
    assert salesforce.store.objects["Contact"][ann_sf]["FirstName"] == "Ann-CRM"
    assert People(pg_url).get("leads", bob)["first_name"] == "Bob-SF"
    assert salesforce.store.objects["Contact"][bob_sf]["FirstName"] == "Bob-SF"


def test_deletions_both_ways(pg_url: str, salesforce: Running) -> None:
    tenant = new_tenant(pg_url)
    cid = connect_salesforce(pg_url, tenant, salesforce)
    run_sync(cid, url=pg_url)
    pilot = one(pg_url, "SELECT id FROM crm.deals WHERE tenant_id = %s AND name = 'Borealis pilot'", tenant)
    salesforce.store.delete("Opportunity", linked(pg_url, pilot))  # to Salesforce's recycle bin
    bob = People(pg_url).id("leads", tenant, "bob@acme.com")
    bob_sf = linked(pg_url, bob)
    human(pg_url, tenant, "leads", "lead", bob)  # deleted in the CRM

    result = run_sync(cid, url=pg_url)
    assert result.counts["inbound"]["Opportunity"]["deleted"] == 1, result.counts
    assert result.counts["outbound"]["leads"]["deleted"] == 1, result.counts
    marked = one(
        pg_url, "SELECT custom_fields ? 'salesforce_archived_at' FROM crm.deals WHERE id = %s", pilot
    )
    assert marked is True
    assert salesforce.store.objects["Contact"][bob_sf]["IsDeleted"] is True
    again = run_sync(cid, url=pg_url)  # each deletion handled once
    assert again.totals()["deleted"] == 0
