"""The integrations' checks, run by the real `observe_landing` job against real Postgres: dead
webhook deliveries and campaign sends, failed sync runs and dead retry items within the last 24 h,
and the p95 enrichment latency warn (never fail the run), and older failures are outside the
window; the integrations' crm tables are observed assets of that job, and the `integration_marts`
job builds their marts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import integration_rows as rows
import psycopg
import pytest
from dagster import AssetCheckEvaluation, AssetCheckSeverity, AssetKey, DagsterEventType

from orchestration import integrations, integrations_observed

CHECKED = {c.node_def.name: next(iter(c.check_keys)) for c in integrations.CHECKS}
"""op name -> the check's key (asset and name)."""


def _evaluate(
    defs, instance, config: dict | None = None
) -> tuple[dict[str, AssetCheckEvaluation], set[AssetKey]]:
    """One observe_landing run: {check name: evaluation}, the observed asset keys."""
    result = defs.resolve_job_def("observe_landing").execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {op: {"config": config} for op in CHECKED}} if config else {},
    )
    failures = [
        e.event_specific_data.error.message[:400]
        for e in result.all_events
        if e.event_type == DagsterEventType.STEP_FAILURE
    ]
    assert result.success, failures
    names = {key.name for key in CHECKED.values()}
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations() if e.check_name in names}
    assert set(evaluations) == names
    return evaluations, {o.asset_key for o in result.get_asset_observation_events()}


def _tenant(url: str, slug: str) -> str:
    with psycopg.connect(url) as conn:
        return str(
            rows.returning(
                conn,
                "insert into crm.tenants (slug, name) values (%s, %s) returning id",
                (slug, slug.title()),
            )
        )


def test_integration_failures_warn_within_the_window(
    defs, dagster_instance, migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = migrated_db
    monkeypatch.setenv("DATABASE_URL", url)  # the resources read it when a run starts
    evaluations, observed = _evaluate(defs, dagster_instance)
    assert all(e.passed for e in evaluations.values())
    assert {k.asset_key for k in CHECKED.values()} <= observed

    alpha, beta = _tenant(url, "alpha"), _tenant(url, "beta")
    hour = timedelta(hours=1)
    with psycopg.connect(url) as conn:
        sub = rows.subscription(conn, alpha)
        rows.delivery(conn, alpha, sub, "delivered", 2 * hour, [503, 200])
        rows.delivery(conn, alpha, sub, "dead", 3 * hour, [503] * 8)
        rows.delivery(conn, alpha, sub, "dead", 50 * hour, [None] * 8)  # outside the window
        connection = rows.connection(conn, beta)
        rows.sync_run(conn, beta, connection, "completed", 2 * hour, {})
        rows.sync_run(conn, beta, connection, "failed", 1 * hour, {})
        rows.retry_item(conn, beta, connection, "dead", 5 * hour)
        rows.retry_item(conn, beta, connection, "pending", 1 * hour)
        rows.campaign_send(conn, alpha, "dead", 4 * hour)
        for latency in (200.0, 300.0, 9000.0):
            rows.enrichment(conn, alpha, latency, hour, "CUSTOMER")

    evaluations, _ = _evaluate(defs, dagster_instance)
    assert all(not e.passed and e.severity == AssetCheckSeverity.WARN for e in evaluations.values())
    md: dict[str, dict[str, Any]] = {
        name: {k: v.value for k, v in e.metadata.items()} for name, e in evaluations.items()
    }
    assert md["dead_deliveries"]["failures"] == 1
    assert md["dead_deliveries"]["per_tenant"] == {alpha: 1}
    assert md["dead_deliveries"]["top_reasons"] == {"503": 1}
    assert md["dead_deliveries"]["by_status"] == {"delivered": 1, "dead": 2}
    assert evaluations["dead_deliveries"].description == (
        "1 deliveries dead-lettered in the last 24 h (more than 0)"
    )
    assert (md["failed_sync_runs"]["failures"], md["failed_sync_runs"]["per_tenant"]) == (1, {beta: 1})
    assert md["failed_sync_runs"]["top_reasons"] == {"hubspot unreachable": 1}
    assert md["dead_retry_items"]["failures"] == 1
    assert md["dead_retry_items"]["by_status"] == {"dead": 1, "pending": 1}
    assert md["dead_campaign_sends"]["top_reasons"] == {"SMTP 550": 1}
    assert md["enrichment_latency"]["enrichments"] == 3 and md["enrichment_latency"]["p95_ms"] > 5000

    # the integration_marts job builds the marts from the same rows
    built = defs.resolve_job_def("integration_marts").execute_in_process(
        instance=dagster_instance, raise_on_error=False
    )
    assert built.success, [
        e.message for e in built.all_events if e.event_type == DagsterEventType.STEP_FAILURE
    ]
    assert {m.asset_key for m in built.get_asset_materialization_events()} >= set(
        integrations_observed.INTEGRATION_MARTS
    )
    with psycopg.connect(url) as conn:
        daily = conn.execute(
            "select tenant_id::text, sum(deliveries_dead), sum(sync_runs_failed), sum(tickets_enriched),"
            " max(enrichment_p95_latency_ms) > 5000 from analytics.dash_integrations_daily group by 1 order by 2 desc"
        ).fetchall()
    assert sorted(daily) == sorted([(alpha, 2, 0, 3, True), (beta, 0, 1, 0, None)])

    # tolerant thresholds: the same rows pass
    evaluations, _ = _evaluate(defs, dagster_instance, {"window_hours": 0.5})
    assert all(e.passed for e in evaluations.values())
