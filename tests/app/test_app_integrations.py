"""The Integrations page over the dashboards' world: webhook deliveries, sync runs, their retry
queue and ticket enrichments written to the operational tables as their writers leave them, the
integration marts built by dbt, and the page's figures equal to the marts, for the signed-in
tenant only; other roles are turned away."""

from __future__ import annotations

import dataclasses
import tempfile
from datetime import timedelta
from pathlib import Path

import integration_rows as rows
import psycopg

from warehouse.dbt import run_dbt

HOUR = timedelta(hours=1)
COUNTS = {"inbound": {"contacts": {"created": 4, "updated": 2, "deleted": 0, "unchanged": 9, "failed": 1}}}


def _write(url: str, tenant: str, other: str) -> None:
    with psycopg.connect(url) as conn:
        sub = rows.subscription(conn, tenant)
        rows.delivery(conn, tenant, sub, "delivered", 3 * HOUR, [503, 200])
        rows.delivery(conn, tenant, sub, "delivered", 2 * HOUR, [200])
        rows.delivery(conn, tenant, sub, "dead", 30 * HOUR, [500] * 8)
        rows.delivery(conn, tenant, sub, "pending", HOUR, [None])
        link = rows.connection(conn, tenant)
        rows.sync_run(conn, tenant, link, "completed", 5 * HOUR, COUNTS)
        rows.sync_run(conn, tenant, link, "failed", 4 * HOUR, {})
        rows.retry_item(conn, tenant, link, "dead", 2 * HOUR)
        rows.retry_item(conn, tenant, link, "pending", HOUR)
        for latency in (150.0, 250.0, 900.0):
            rows.enrichment(conn, tenant, latency, HOUR, "CUSTOMER")
        rows.enrichment(conn, tenant, 400.0, HOUR, "UNKNOWN")
        elsewhere = rows.connection(conn, other)
        rows.sync_run(conn, other, elsewhere, "completed", HOUR, COUNTS)


def _build(url: str) -> None:
    target = Path(tempfile.mkdtemp(prefix="crm-app-integrations-"))
    done = run_dbt(
        ["build", "--quiet", "--select", "path:models/marts/integrations"],
        url,
        target_path=target / "target",
        log_path=target / "logs",
        check=False,
        capture=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]


def test_integrations_page_shows_the_tenants_marts(run_page, world) -> None:
    manager, other = world.managers[0], world.managers[1]
    _write(world.url, manager.tenant_id, other.tenant_id)
    _build(world.url)
    with psycopg.connect(world.url) as conn:
        runs = conn.execute(
            "select count(*) from analytics.fct_sync_runs where tenant_id = %s", (manager.tenant_id,)
        ).fetchone()
        dead = conn.execute(
            "select sum(deliveries_dead), sum(tickets_enriched) from analytics.dash_integrations_daily"
            " where tenant_id = %s",
            (manager.tenant_id,),
        ).fetchone()
    assert runs == (2,) and dead == (1, 4)

    at = run_page("Integrations")
    assert not at.exception
    assert any("Data as of" in c.value for c in at.caption), [c.value for c in at.caption]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Dead letters"] == "1"
    assert metrics["Tickets enriched"] == "4"
    assert metrics["Sync runs failed"] == "1"
    assert metrics["Records synced"] == "6"
    assert (metrics["Pending"], metrics["Dead"]) == ("1", "1")
    sync = next(df.value for df in at.dataframe if "run_status" in df.value.columns)
    assert sorted(sync["run_status"]) == ["completed", "failed"]  # the other tenant's run is not shown
    failed = next(
        df.value
        for df in at.dataframe
        if "failed_attempts" in df.value.columns and "last_error" in df.value.columns
    )
    assert list(failed["delivery_status"]) == ["dead", "pending", "delivered"]  # retried, newest first
    status = next(df.value for df in at.dataframe if "p95_delivered_ms" in df.value.columns)
    assert dict(zip(status["delivery_status"], status["deliveries"], strict=True)) == {
        "dead": 1,
        "delivered": 2,
        "pending": 1,
    }
    enrich = next(df.value for df in at.dataframe if "requester_kind" in df.value.columns)
    assert dict(zip(enrich["requester_kind"], enrich["enrichments"], strict=True)) == {
        "CUSTOMER": 3,
        "UNKNOWN": 1,
    }
    queue = next(df.value for df in at.dataframe if "retry_status" in df.value.columns)
    assert sorted(queue["retry_status"]) == ["dead", "pending"]

    rep = dataclasses.replace(manager, role="sales_rep")
    at = run_page("Integrations", who=rep)
    assert not at.exception
    assert [w.value for w in at.warning] == ["The integrations page is for admins and managers."]
    assert not at.dataframe
