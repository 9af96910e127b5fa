"""The ops metrics against a real world: the demo's world (scale D: one tenant big enough for the
lead and deal models) seeded into raw.*, built by dbt, its models trained, promoted and scored;
Dagster runs, materializations and check evaluations recorded in an instance of the test's own.
Every gauge is compared with what the tables (or the instance) hold after a change made here;
a source that fails or hangs is counted and the rest of the scrape still answers."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import integration_rows as rows
import numpy as np
import psycopg
import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
    asset,
    asset_check,
    job,
    materialize,
    op,
)
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitoring.collector import SOURCES, OpsCollector, ops_registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ml"))
from world_marts import seeded_marts

AS_OF = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, tzinfo=UTC)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(collector: OpsCollector) -> Samples:
    """One scrape through the exposition text, as Prometheus reads it."""
    text = generate_latest(ops_registry(collector)).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def one(conn: psycopg.Connection, sql: str, params: tuple = ()) -> float:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


@pytest.fixture(scope="module")
def world(create_database: Callable[[str], str], crm_home: Path) -> str:
    from ml import scoring, training
    from ml.specs import DEALS, LEAD

    url = seeded_marts(create_database, crm_home, "ops", "D", AS_OF)
    for spec in (LEAD, DEALS):
        training.train_candidates(url, spec, seed=42, as_of=NOW)
        training.gate_candidates(url, spec.name)
        training.promote_candidates(url, spec.name)
        scoring.score_model(url, spec, as_of=NOW, seed=42)
    return url


@pytest.fixture(scope="module")
def tenant(world: str) -> str:
    with psycopg.connect(world) as conn:
        return str(one(conn, "SELECT id::text FROM crm.tenants ORDER BY slug LIMIT 1"))


@pytest.fixture(scope="module")
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("ops-dagster")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


@pytest.fixture
def collector(world: str, dagster_home: Path) -> Iterator[OpsCollector]:
    c = OpsCollector(world, dagster_home, timeout_ms=2000)
    yield c
    c.dagster.close()


def test_queue_depths_are_what_the_queues_hold(collector: OpsCollector, world: str, tenant: str) -> None:
    with psycopg.connect(world, autocommit=True) as conn:
        sub = rows.subscription(conn, tenant)
        rows.delivery(conn, tenant, sub, "pending", timedelta(minutes=30), [503])
        waiting = rows.delivery(conn, tenant, sub, "pending", timedelta(minutes=5), [])
        conn.execute(
            "UPDATE crm.webhook_deliveries SET next_attempt_at = now() + interval '1 hour' WHERE id = %s",
            (waiting,),
        )
        rows.delivery(conn, tenant, sub, "dead", timedelta(hours=2), [503, 503])
        rows.delivery(conn, tenant, sub, "delivered", timedelta(hours=1), [200])
        link = rows.connection(conn, tenant)
        for status in ("pending", "pending", "dead", "done"):
            rows.retry_item(conn, tenant, link, status, timedelta(minutes=10))
        for status in ("pending", "dead", "sent", "skipped"):
            rows.campaign_send(conn, tenant, status, timedelta(minutes=3))

        m = scrape(collector)
        for queue, table in (
            ("crm_webhook", "crm.webhook_deliveries"),
            ("crm_sync_retry", "crm.sync_retry_queue"),
            ("crm_campaign_send", "crm.campaign_deliveries"),
        ):
            for state, where in (
                ("due", "status = 'pending' AND next_attempt_at <= now()"),
                ("waiting", "status = 'pending' AND next_attempt_at > now()"),
                ("dead", "status = 'dead'"),
            ):
                held = one(conn, f"SELECT count(*) FROM {table} WHERE {where}")
                assert value(m, f"{queue}_queue_depth", state=state) == held, (queue, state)
        assert value(m, "crm_webhook_queue_depth", state="due") == 1
        assert value(m, "crm_webhook_queue_depth", state="waiting") == 1
        assert value(m, "crm_sync_retry_queue_depth", state="due") == 2
        oldest = value(m, "crm_webhook_oldest_pending_seconds")
        assert oldest is not None and 30 * 60 <= oldest < 40 * 60  # queued 30 minutes before the scrape

        # the deliverer gets the due one through: the depth follows
        conn.execute(
            "UPDATE crm.webhook_deliveries SET status = 'delivered', delivered_at = now()"
            " WHERE tenant_id = %s AND status = 'pending' AND next_attempt_at <= now()",
            (tenant,),
        )
        m = scrape(collector)
        assert value(m, "crm_webhook_queue_depth", state="due") == 0
        assert value(m, "crm_webhook_queue_depth", state="waiting") == 1


def test_the_enrichment_backlog_counts_ticket_events_without_an_enrichment(
    collector: OpsCollector, world: str, tenant: str
) -> None:
    held = (
        "SELECT count(*) FROM raw.tickets t WHERE t.received_at > now() - interval '24 hours'"
        " AND t.event_type IN ('ticket.created', 'ticket.updated', 'ticket.resolved')"
        " AND NOT EXISTS (SELECT FROM crm.ticket_enrichments e"
        "   WHERE e.tenant_id = t.tenant_id AND e.source_event_id = t.event_id)"
    )
    with psycopg.connect(world, autocommit=True) as conn:
        before = value(scrape(collector), "crm_ticket_enrichment_backlog")
        assert before == one(conn, held)
        events = [uuid.uuid4() for _ in range(4)]
        for event_id, event_type in zip(
            events,
            ["ticket.created", "ticket.updated", "ticket.resolved", "ticket.csat_submitted"],
            strict=True,
        ):
            conn.execute(
                "INSERT INTO raw.tickets (event_id, tenant_id, event_type, schema_version, occurred_at, source,"
                " payload) VALUES (%s, %s, %s, 2, now(), 'test', '{}')",
                (event_id, tenant, event_type),
            )
        assert value(scrape(collector), "crm_ticket_enrichment_backlog") == before + 3
        conn.execute(
            "INSERT INTO crm.ticket_enrichments (tenant_id, ticket_id, source_event_id, event_id, requester,"
            " ticket_occurred_at, enriched_at) VALUES (%s, gen_random_uuid(), %s, gen_random_uuid(), 'UNKNOWN',"
            " now(), now())",
            (tenant, events[0]),
        )
        after = value(scrape(collector), "crm_ticket_enrichment_backlog")
        assert after == before + 2 == one(conn, held)


def test_stale_segments_are_counted_by_reason(collector: OpsCollector, world: str, tenant: str) -> None:
    with psycopg.connect(world, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO crm.customer_segments (tenant_id, name, criteria, is_stale, last_error, last_calculated)"
            " VALUES (%s, 'Ops failing', '{}', true, 'column x does not exist', now() - interval '3 hours')",
            (tenant,),
        )
        m = scrape(collector)
        for reason, where in (("failed", "last_error IS NOT NULL"), ("requested", "last_error IS NULL")):
            held = one(
                conn,
                f"SELECT count(*) FROM crm.customer_segments WHERE is_stale AND is_active AND is_dynamic AND {where}",
            )
            assert value(m, "crm_segments_stale", reason=reason) == held
        assert value(m, "crm_segments_stale", reason="failed") >= 1
        age = value(m, "crm_segment_stale_seconds", reason="failed")
        assert age is not None and age >= 3 * 3600


def test_mart_freshness_is_the_age_of_the_last_build_with_its_target(
    collector: OpsCollector, world: str
) -> None:
    with psycopg.connect(world, autocommit=True) as conn:
        marts = {
            r[0].split(".")[1]
            for r in conn.execute("SELECT DISTINCT relation FROM analytics.mart_freshness").fetchall()
        }
        conn.execute(
            "UPDATE analytics.mart_freshness SET built_at = now() - interval '3 hours'"
            " WHERE relation = 'analytics.fct_deals'"
        )
        m = scrape(collector)
    assert {dict(labels)["mart"] for name, labels in m if name == "crm_mart_freshness_seconds"} == marts
    age = value(m, "crm_mart_freshness_seconds", mart="fct_deals")
    assert age is not None and 3 * 3600 <= age < 3 * 3600 + 600
    assert value(m, "crm_mart_freshness_slo_seconds", mart="fct_deals") == 2 * 3600
    assert value(m, "crm_mart_freshness_slo_seconds", mart="fct_webhook_deliveries") == 45 * 60
    fresh = value(m, "crm_mart_freshness_seconds", mart="dim_customers")
    assert fresh is not None and fresh < 2 * 3600  # built by the fixture's dbt run


def test_score_psi_is_zero_at_training_and_follows_a_shift(collector: OpsCollector, world: str) -> None:
    from ml import drift

    m = scrape(collector)
    for model in ("lead_scoring", "deal_win"):
        assert value(m, "crm_model_psi_tenants", model=model) == 1, model
        assert value(m, "crm_model_score_psi", model=model) == pytest.approx(0.0, abs=1e-9), model
        assert value(m, "crm_model_drifted_tenants", model=model) == 0
    assert value(m, "crm_model_psi_tenants", model="churn") == 0  # not trained here

    with psycopg.connect(world, autocommit=True) as conn:
        tenant, label, edges, counts = conn.execute(
            "SELECT tenant_id::text, name || '@' || version, metrics -> 'score_reference' -> 'edges',"
            " metrics -> 'score_reference' -> 'counts' FROM ml.model_versions"
            " WHERE name = 'lead_scoring' AND status = 'active'"
        ).fetchone()
        conn.execute(
            "UPDATE ml.lead_scores SET score = least(score + 30, 100) WHERE tenant_id = %s AND model_version = %s",
            (tenant, label),
        )
        scores = np.array(
            [
                r[0]
                for r in conn.execute(
                    "SELECT score FROM ml.lead_scores WHERE tenant_id = %s AND model_version = %s"
                    " AND method = 'model'",
                    (tenant, label),
                )
            ],
            dtype=float,
        )
    current = np.bincount(np.searchsorted(np.array(edges), scores, side="right"), minlength=len(counts))
    expected = drift.psi(np.array(counts), current)
    m = scrape(collector)
    assert expected > drift.PSI_DRIFT
    assert value(m, "crm_model_score_psi", model="lead_scoring") == pytest.approx(expected, rel=1e-9)
    assert value(m, "crm_model_drifted_tenants", model="lead_scoring") == 1


def test_psi_of_identical_distributions_is_zero_and_grows_with_the_shift() -> None:
    from ml import drift

    ref = drift.histogram(np.random.default_rng(0).beta(2, 5, 5000))
    assert ref is not None and len(ref["counts"]) == drift.BINS
    assert drift.psi(np.array(ref["counts"]), np.array(ref["counts"])) == 0.0
    even = np.full(10, 100.0)
    # one decile's share doubled from 10% to 20%, the others shrinking evenly: a known value
    shifted = np.array([200.0] + [800.0 / 9] * 9)
    want = (0.2 - 0.1) * np.log(2) + 9 * ((0.8 / 9) - 0.1) * np.log((0.8 / 9) / 0.1)
    assert drift.psi(even, shifted) == pytest.approx(want)
    assert drift.histogram(np.arange(10.0)) is None  # too few to have deciles


def test_calibration_error_is_on_deals_closed_since_training(collector: OpsCollector, world: str) -> None:
    from ml.metrics import ece

    m = scrape(collector)
    assert value(m, "crm_model_calibration_outcomes", model="deal_win") == 0  # the world ends before training
    assert value(m, "crm_model_calibration_error", model="deal_win") is None
    with psycopg.connect(world, autocommit=True) as conn:
        scored = conn.execute(
            "SELECT p.tenant_id, p.deal_id, p.probability FROM ml.deal_probabilities p"
            " JOIN analytics.ml_features__deals f USING (tenant_id, deal_id)"
            " WHERE p.method = 'model' AND f.status = 'open' ORDER BY p.deal_id LIMIT 40"
        ).fetchall()
        assert len(scored) == 40
        outcomes = []
        for i, (tenant_id, deal_id, p) in enumerate(scored):
            won = i % 3 == 0
            outcomes.append((p, int(won)))
            conn.execute(
                "UPDATE analytics.ml_features__deals SET status = %s, closed_at = now()"
                " WHERE tenant_id = %s AND deal_id = %s",
                ("won" if won else "lost", tenant_id, deal_id),
            )
    pairs = np.array(outcomes, dtype=float)
    m = scrape(collector)
    assert value(m, "crm_model_calibration_outcomes", model="deal_win") == 40
    assert value(m, "crm_model_calibration_error", model="deal_win") == pytest.approx(
        ece(pairs[:, 1], pairs[:, 0])
    )


@op
def boom() -> None:
    raise RuntimeError("the warehouse is on fire")


@op
def fine() -> int:
    return 1


@job(name="ops_probe_failing")
def failing() -> None:
    boom()


@job(name="ops_probe_ok")
def ok() -> None:
    fine()


@asset(key=AssetKey(["analytics", "ops_probe"]))
def probe() -> int:
    return 1


@asset_check(asset=probe, name="not_null_ops_probe_id")
def dbt_like_test() -> AssetCheckResult:
    """What dagster-dbt reports for a failing dbt test: its unique_id in the metadata."""
    return AssetCheckResult(
        passed=False, metadata={"unique_id": "test.crm_analytics.not_null_ops_probe_id.1a2b"}
    )


@asset_check(asset=probe, name="unique_ops_probe_id")
def passing_test() -> AssetCheckResult:
    return AssetCheckResult(
        passed=True, metadata={"unique_id": "test.crm_analytics.unique_ops_probe_id.3c4d"}
    )


@asset_check(asset=probe, name="fresh_enough")
def other_check() -> AssetCheckResult:
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN)


def test_dagster_runs_materializations_and_checks_are_what_the_instance_recorded(
    collector: OpsCollector, dagster_home: Path
) -> None:
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        scrape(collector)  # the first scrape reads the history: later runs are counted as they come
        for _ in range(2):
            failing.execute_in_process(instance=instance, raise_on_error=False)
        ok.execute_in_process(instance=instance)
        materialize([probe, dbt_like_test, other_check, passing_test], instance=instance)
        m = scrape(collector)

        def runs(job_name: str, status: DagsterRunStatus) -> int:
            return instance.get_runs_count(RunsFilter(job_name=job_name, statuses=[status]))

        assert value(m, "crm_dagster_runs_failed_total", dagster_job="ops_probe_failing") == 2
        assert value(m, "crm_dagster_runs_total", dagster_job="ops_probe_failing", status="failure") == runs(
            "ops_probe_failing", DagsterRunStatus.FAILURE
        )
        assert value(m, "crm_dagster_runs_total", dagster_job="ops_probe_ok", status="success") == 1
        assert value(m, "crm_dagster_runs_total", dagster_job="ops_probe_ok", status="failure") == 0
        assert value(m, "crm_dagster_runs_in_progress", dagster_job="ops_probe_ok", status="queued") == 0
        last = instance.get_run_records(RunsFilter(job_name="ops_probe_ok"), limit=1)[0]
        assert last.start_time is not None and last.end_time is not None
        assert value(m, "crm_dagster_run_duration_seconds", dagster_job="ops_probe_ok") == pytest.approx(
            last.end_time - last.start_time
        )
        success = instance.fetch_run_status_changes(DagsterEventType.RUN_SUCCESS, limit=1).records[0]
        assert success.event_log_entry.job_name == "__ephemeral_asset_job__"
        assert value(
            m, "crm_dagster_last_success_timestamp_seconds", dagster_job="__ephemeral_asset_job__"
        ) == pytest.approx(success.event_log_entry.timestamp)
        materialized = instance.get_latest_materialization_event(AssetKey(["analytics", "ops_probe"]))
        assert materialized is not None
        assert value(
            m, "crm_dagster_asset_last_materialization_timestamp_seconds", asset="analytics/ops_probe"
        ) == pytest.approx(materialized.timestamp)
        assert value(m, "crm_dbt_test_failures", model="analytics/ops_probe", severity="error") == 1
        assert value(m, "crm_dbt_test_failures", model="analytics/ops_probe", severity="warn") == 0
        assert value(m, "crm_asset_check_failures", asset="analytics/ops_probe", severity="warn") == 1
        assert value(m, "crm_asset_check_failures", asset="analytics/ops_probe", severity="error") == 0

        # a third failure: counted once, on top of the others (the cursor moved on)
        failing.execute_in_process(instance=instance, raise_on_error=False)
        m = scrape(collector)
        assert (
            value(m, "crm_dagster_runs_failed_total", dagster_job="ops_probe_failing")
            == 3
            == runs("ops_probe_failing", DagsterRunStatus.FAILURE)
        )
        assert value(m, "crm_dagster_runs_total", dagster_job="ops_probe_ok", status="success") == 1


def test_a_failing_or_hanging_source_is_counted_and_the_rest_answers(world: str, tmp_path: Path) -> None:
    collector = OpsCollector(world, tmp_path / "no-dagster-here", timeout_ms=1000)
    with psycopg.connect(world) as locker:
        # an exclusive lock held by another transaction: the source's statement waits until
        # its statement_timeout, then the scrape goes on
        locker.execute("LOCK TABLE crm.sync_retry_queue IN ACCESS EXCLUSIVE MODE")
        m = scrape(collector)
    # no Dagster instance yet (a stack before its first run) is nothing to report, not a failure
    absent = {"dagster_runs", "dagster_assets", "dagster_checks"}
    for source in SOURCES:
        errors = value(m, "crm_ops_scrape_errors_total", source=source.name)
        assert errors == (1 if source.name == "sync_retries" else 0), source.name
        assert value(m, "crm_ops_source_absent", source=source.name) == (1 if source.name in absent else None)
    assert value(m, "crm_sync_retry_queue_depth", state="due") is None
    assert value(m, "crm_webhook_queue_depth", state="due") is not None
    assert value(m, "crm_mart_freshness_seconds", mart="fct_deals") is not None

    m = scrape(collector)  # the lock is gone: the source answers again, its errors stay counted
    assert value(m, "crm_sync_retry_queue_depth", state="due") is not None
    assert value(m, "crm_ops_scrape_errors_total", source="sync_retries") == 1
    assert value(m, "crm_ops_scrape_errors_total", source="dagster_runs") == 0


def test_crm_ops_metrics_serves_and_prints_the_same_gauges(
    world: str, dagster_home: Path, crm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stack import procs, services

    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    with psycopg.connect(world) as conn:
        due = one(
            conn,
            "SELECT count(*) FROM crm.webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now()",
        )
    env = {**os.environ, "DATABASE_URL": world}
    printed = subprocess.run(
        services.crm_argv("ops", "metrics", "--once"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert f'crm_webhook_queue_depth{{state="due"}} {float(due)}' in printed
    assert 'crm_ops_scrape_errors_total{source="dagster_runs"} 0.0' in printed

    rec = services.start(crm_home, "ops-metrics", world)
    try:
        assert rec.url is not None
        answer = httpx.get(rec.url, timeout=60)
        assert answer.status_code == 200
        assert f'crm_webhook_queue_depth{{state="due"}} {float(due)}' in answer.text
    finally:
        procs.stop(crm_home, "ops-metrics")


def test_the_slos_follow_the_schedules_that_rebuild_each_mart() -> None:
    """Each mart's target lies between one and three periods of the most frequent schedule whose
    job rebuilds it (monitoring.slo names them; the Definitions are the truth)."""
    from croniter import croniter

    from monitoring.slo import freshness_slo
    from orchestration import instance
    from orchestration.project import DBT_DIR

    if not (DBT_DIR / "target" / "manifest.json").exists():
        instance.prepare_manifest()
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    period: dict[str, float] = {}
    for schedule in defs.schedules or []:
        start = datetime(2026, 1, 5, tzinfo=UTC)
        ticks = croniter(schedule.cron_schedule, start)
        every = ticks.get_next(datetime).timestamp()
        every = ticks.get_next(datetime).timestamp() - every
        job_def = next(j for j in defs.jobs or [] if j.name == schedule.job_name)
        selection = getattr(job_def, "selection", None)
        if selection is None:  # an op job (raw partition upkeep) rebuilds no mart
            continue
        for key in selection.resolve(graph):
            if key.path[0] == "analytics":
                period[key.path[-1]] = min(period.get(key.path[-1], float("inf")), every)
    assert period, "no mart is rebuilt by a schedule"
    for mart, every in period.items():
        assert every < freshness_slo(mart) <= 3 * every, (mart, every, freshness_slo(mart))


def test_the_default_dagster_home_is_the_local_stacks(
    crm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitoring.dagster_store import dagster_home
    from orchestration.instance import dagster_home as local_home

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert dagster_home() == local_home(crm_home)
