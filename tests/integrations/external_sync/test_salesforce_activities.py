"""People's lead and deal activities pushed to the Salesforce stand-in as Tasks and Events on
their Contact, Lead or Opportunity, once, and not read back."""

from __future__ import annotations

from sealed_people import People
from standins.salesforce import Running
from standins.salesforce_account import connect_salesforce, salesforce
from test_hubspot_engagements import person_activity
from test_hubspot_outbound import one
from test_salesforce_outbound import linked
from test_salesforce_sync import footprint, new_tenant

from integrations.external_sync.engine import run_sync

__all__ = ["salesforce"]


def test_peoples_activities_are_pushed_once_as_tasks_and_events(pg_url: str, salesforce: Running) -> None:
    tenant = new_tenant(pg_url)
    cid = connect_salesforce(pg_url, tenant, salesforce)
    assert run_sync(cid, url=pg_url).status == "completed"
    ann = People(pg_url).id("leads", tenant, "ann@acme.com")
    cy = People(pg_url).id("leads", tenant, "cy@borealis.io")
    deal = one(pg_url, "SELECT id FROM crm.deals WHERE tenant_id = %s AND name = 'Acme renewal'", tenant)
    call = person_activity(pg_url, tenant, "lead", ann, "CALL_ANSWERED", "Talked pricing")
    todo = person_activity(
        pg_url, tenant, "lead", cy, "NOTE_ADDED", "Send SSO docs", due_at="2025-04-01T09:00:00Z"
    )
    meeting = person_activity(pg_url, tenant, "deal", deal, "MEETING_SCHEDULED", "Renewal review")
    person_activity(
        pg_url, tenant, "deal", deal, "STAGE_CHANGED", "moved", from_stage="A", to_stage="B", probability=50
    )

    pushed = run_sync(cid, url=pg_url)
    assert pushed.status == "completed", pushed.failures
    assert pushed.counts["outbound"]["lead_activities"]["created"] == 2
    on_deal = pushed.counts["outbound"]["deal_activities"]
    # the stage change is unchanged: Salesforce records it from the Opportunity itself
    assert (on_deal["created"], on_deal["unchanged"], on_deal["failed"]) == (1, 1, 0)
    sf = salesforce.store.objects
    task = sf["Task"][linked(pg_url, call)]
    assert (task["WhoId"], task["TaskSubtype"], task["Status"]) == (linked(pg_url, ann), "Call", "Completed")
    assert task["Description"] == "Talked pricing"
    todo_task = sf["Task"][linked(pg_url, todo)]  # on a Lead: WhoId is the Lead
    assert (todo_task["WhoId"], todo_task["Status"], todo_task["ActivityDate"]) == (
        linked(pg_url, cy),
        "Not Started",
        "2025-04-01",
    )
    event = sf["Event"][linked(pg_url, meeting)]
    assert (event["WhatId"], event["Subject"]) == (linked(pg_url, deal), "Renewal review")
    assert event["EndDateTime"] > event["StartDateTime"]

    before, writes = footprint(pg_url, tenant), salesforce.store.writes
    again = run_sync(cid, url=pg_url)  # the Tasks and the Event read back are their own echo
    assert again.status == "completed" and not again.failures
    assert footprint(pg_url, tenant) == before and salesforce.store.writes == writes
    assert again.totals()["created"] + again.totals()["updated"] == 0
