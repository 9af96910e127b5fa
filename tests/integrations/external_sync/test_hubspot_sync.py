"""HubSpot both ways through hubspot-api-client against the stand-in, into real Postgres."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from sealed_people import People
from standins.account import connect_hubspot
from standins.hubspot import Running

from crm.errors import CRMError
from integrations.external_sync.engine import SyncConfig, run_sync, sync_with_external_crm


def q(pg_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute(sql, args).fetchall()


def footprint(pg_url: str, tenant: uuid.UUID) -> tuple[int, int, int, int, int]:
    """(customers, leads, deals, audit rows, outbox rows) of the tenant."""
    row = q(
        pg_url,
        "SELECT (SELECT count(*) FROM crm.customers WHERE tenant_id = %s),"
        " (SELECT count(*) FROM crm.leads WHERE tenant_id = %s),"
        " (SELECT count(*) FROM crm.deals WHERE tenant_id = %s),"
        " (SELECT count(*) FROM crm.audit_log WHERE tenant_id = %s),"
        " (SELECT count(*) FROM crm.outbox WHERE tenant_id = %s)",
        *([tenant] * 5),
    )[0]
    return tuple(int(v) for v in row)  # type: ignore[return-value]


def test_inbound_maps_every_object_and_a_second_sync_changes_nothing(
    pg_url: str, tenant: uuid.UUID, hubspot: Running
) -> None:
    cid = connect_hubspot(pg_url, tenant, hubspot.url)
    first = run_sync(cid, url=pg_url)
    assert first.status == "completed", first.failures
    assert footprint(pg_url, tenant)[:3] == (2, 3, 2)
    assert first.counts["inbound"]["stage_change"]["created"] == 4  # 3 entries + the won deal's
    deal = q(
        pg_url,
        "SELECT stage, value, customer_id IS NOT NULL, lead_id IS NOT NULL FROM crm.deals"
        " WHERE tenant_id = %s AND name = 'Acme renewal'",
        tenant,
    )[0]
    assert deal == ("Contract Sent", 12000, True, True)
    people = People(pg_url)
    cy = people.rows("leads", tenant, "cy@borealis.io")
    assert [(r["status"], people.get("customers", r["customer_id"])["company"]) for r in cy] == [
        ("NEW", "Borealis")
    ]
    # people's values are stored sealed, beside the e-mail's index and domain
    stored = people.stored("leads", cy[0]["id"])
    people.assert_sealed(stored, "email", "first_name", "last_name")
    assert (stored["email_domain"], cy[0]["first_name"]) == ("borealis.io", "P2")
    # the credentials are ciphertext only
    blob = q(pg_url, "SELECT credentials_enc FROM crm.sync_connections WHERE id = %s", cid)[0][0]
    assert b"pat-standin" not in bytes(blob)

    before, writes = footprint(pg_url, tenant), hubspot.store.writes
    again = run_sync(cid, url=pg_url)
    assert again.status == "completed"
    assert footprint(pg_url, tenant) == before and hubspot.store.writes == writes
    assert again.totals()["created"] + again.totals()["updated"] == 0
    runs = q(
        pg_url,
        "SELECT status, cursor_before <> cursor_after FROM crm.sync_runs WHERE connection_id = %s"
        " ORDER BY requested_at",
        cid,
    )
    assert runs == [("completed", True), ("completed", False)]


def test_faults_on_a_third_of_the_calls_end_as_a_clean_run(pg_url: str, hubspot: Running) -> None:
    clean_tenant, faulty_tenant = (_tenant(pg_url) for _ in range(2))
    clean = run_sync(connect_hubspot(pg_url, clean_tenant, hubspot.url), url=pg_url)
    clean_calls = hubspot.store.calls
    hubspot.store.fault_every, hubspot.store.retry_after = 3, "0"
    faulty = run_sync(connect_hubspot(pg_url, faulty_tenant, hubspot.url), url=pg_url)
    assert hubspot.store.faults * 3 >= hubspot.store.calls - clean_calls - 3  # a third of its calls
    assert faulty.status == clean.status == "completed"
    assert faulty.counts == clean.counts
    assert footprint(pg_url, faulty_tenant) == footprint(pg_url, clean_tenant)


def test_a_vendor_that_stays_down_fails_the_run_with_its_cursor_kept(pg_url: str, hubspot: Running) -> None:
    tenant = _tenant(pg_url)
    cid = connect_hubspot(pg_url, tenant, hubspot.url, http_attempts=2)
    hubspot.store.fault_every = 1
    with pytest.raises(CRMError) as caught:
        run_sync(cid, url=pg_url)
    assert caught.value.code == "INTEGRATION_SYNC_FAILED"
    assert caught.value.context["provider"] == "hubspot"
    status, error = q(pg_url, "SELECT status, error FROM crm.sync_runs WHERE connection_id = %s", cid)[0]
    assert status == "failed" and "hubspot" in error
    assert q(pg_url, "SELECT inbound_cursor FROM crm.sync_connections WHERE id = %s", cid)[0][0] == {}


def test_a_record_that_does_not_map_is_queued_then_retried(pg_url: str, hubspot: Running) -> None:
    tenant = _tenant(pg_url)
    cid = connect_hubspot(pg_url, tenant, hubspot.url)
    bad = hubspot.store.put(
        "deals",
        {"dealname": "Broken", "amount": "lots", "pipeline": "default", "dealstage": "qualifiedtobuy"},
    )["id"]
    first = run_sync(cid, url=pg_url)
    assert first.counts["inbound"]["deals"]["failed"] == 1
    failure = first.failures[0]
    assert failure["code"] == "INTEGRATION_SYNC_FAILED"
    context = {k: failure["context"][k] for k in ("provider", "object", "id", "attempt")}
    assert context == {"provider": "hubspot", "object": "deals", "id": bad, "attempt": 1}
    queued = q(
        pg_url,
        "SELECT attempts, status, next_attempt_at > now() FROM crm.sync_retry_queue WHERE connection_id = %s",
        cid,
    )
    assert queued == [(1, "pending", True)]
    # fixed in HubSpot, and due: the retry reads it again by id
    hubspot.store.objects["deals"][bad]["properties"]["amount"] = "900"
    q_exec(pg_url, "UPDATE crm.sync_retry_queue SET next_attempt_at = now() WHERE connection_id = %s", cid)
    second = run_sync(cid, url=pg_url)
    assert second.counts["inbound"]["deal"]["created"] == 1
    assert q(pg_url, "SELECT status FROM crm.sync_retry_queue WHERE connection_id = %s", cid) == [("done",)]


def test_sync_with_external_crm_names_the_provider_and_tenant(pg_url: str, hubspot: Running) -> None:
    tenant = _tenant(pg_url)
    connect_hubspot(pg_url, tenant, hubspot.url)
    result = sync_with_external_crm("hubspot", SyncConfig(tenant=str(tenant), url=pg_url))
    assert result.status == "completed" and result.totals()["created"] > 0


def _tenant(pg_url: str) -> uuid.UUID:
    from integrations.imports.run import resolve_tenant

    with psycopg.connect(pg_url, autocommit=True) as conn:
        return resolve_tenant(conn, f"sync-{uuid.uuid4().hex[:8]}", "Sync tenant")


def q_exec(pg_url: str, sql: str, *args: Any) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql, args)


def test_due_runs_take_queued_runs_and_connections_past_their_interval(pg_url: str, hubspot: Running) -> None:
    from integrations.external_sync.engine import run_due

    tenant = _tenant(pg_url)
    cid = connect_hubspot(pg_url, tenant, hubspot.url)
    ran = dict(run_due(pg_url))  # never run: due
    mine = q(pg_url, "SELECT id, status, trigger FROM crm.sync_runs WHERE connection_id = %s", cid)
    assert len(mine) == 1 and ran[mine[0][0]] == "completed" and mine[0][2] == "schedule"
    q_exec(
        pg_url,
        "INSERT INTO crm.sync_runs (tenant_id, connection_id, provider, trigger) VALUES (%s, %s, 'hubspot', 'api')",
        tenant,
        cid,
    )
    run_due(pg_url)  # the queued one runs; the interval has not passed
    statuses = q(pg_url, "SELECT status FROM crm.sync_runs WHERE connection_id = %s", cid)
    assert statuses == [("completed",), ("completed",)]
