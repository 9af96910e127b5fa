"""The stores' metrics for Prometheus (`crm ops metrics`): read on each scrape, never cached.

Each source below is read on its own, timed and guarded: a source that fails (a table missing,
a statement past `timeout_ms`, Dagster unreachable) adds 1 to `crm_ops_scrape_errors_total`
and leaves its metrics out of that scrape; the others still answer. Database sources share one
connection per scrape, as the owner role the Dagster jobs use (`DATABASE_URL`: tenant
row-level security would hide every tenant but one from the API's roles), in read-only
transactions with a statement timeout. Every figure is an aggregate across tenants: no label
carries a tenant id. Names and labels are stable; the alert rules are written on them.

| metric | labels | source | what |
|---|---|---|---|
| `crm_mart_freshness_seconds` | mart | warehouse | seconds since the mart's last build began (`analytics.mart_freshness`, real time, not the tenant clock: `warehouse.health`) |
| `crm_mart_freshness_slo_seconds` | mart | warehouse | the mart's target for that age (`monitoring.slo`) |
| `crm_segments_stale` | reason (failed, requested) | segments | active dynamic segments marked stale |
| `crm_segment_stale_seconds` | reason | segments | age of the oldest stale segment's memberships |
| `crm_dagster_runs_total` | job, status (success, failure, canceled) | dagster_runs | finished runs (counter) |
| `crm_dagster_runs_failed_total` | job | dagster_runs | failed runs (counter) |
| `crm_dagster_runs_in_progress` | job, status (queued, not_started, starting, started, canceling) | dagster_runs | runs not finished |
| `crm_dagster_run_duration_seconds` | job | dagster_runs | duration of the job's last finished run |
| `crm_dagster_last_success_timestamp_seconds` | job | dagster_runs | when the job's last successful run ended |
| `crm_dagster_asset_last_materialization_timestamp_seconds` | asset | dagster_assets | when the asset was last materialized |
| `crm_dbt_test_failures` | model, severity (error, warn) | dagster_checks | dbt tests on the model whose latest evaluation failed |
| `crm_asset_check_failures` | asset, severity | dagster_checks | other asset checks (freshness, reconciliation, gates) whose latest evaluation failed |
| `crm_model_score_psi` | model | ml_drift | PSI of current scores vs the training distribution, worst tenant (`ml.drift`) |
| `crm_model_psi_tenants` | model | ml_drift | tenants measured (active version with a reference, enough scores) |
| `crm_model_drifted_tenants` | model | ml_drift | of those, tenants with PSI >= 0.25 |
| `crm_model_calibration_error` | model | ml_calibration | ECE on outcomes known since training (deal model; absent without outcomes) |
| `crm_model_calibration_outcomes` | model | ml_calibration | outcomes that ECE is computed over |
| `crm_webhook_queue_depth` | state (due, waiting, dead) | webhook_deliveries | webhook deliveries not delivered (`integrations.queues`) |
| `crm_webhook_oldest_pending_seconds` | | webhook_deliveries | age of the oldest pending delivery |
| `crm_campaign_send_queue_depth` | state | campaign_sends | campaign e-mails and webhooks not sent |
| `crm_campaign_send_oldest_pending_seconds` | | campaign_sends | age of the oldest pending send |
| `crm_sync_retry_queue_depth` | state | sync_retries | external sync records waiting for a retry, or dead |
| `crm_sync_retry_oldest_pending_seconds` | | sync_retries | age of the oldest pending retry |
| `crm_ticket_enrichment_backlog` | | ticket_enrichment | ticket events of the last 24 h not enriched |
| `crm_ops_scrape_errors_total` | source | | sources that failed, since the exporter started (counter) |
| `crm_ops_source_absent` | source | | 1 for a source with nothing to read yet (no Dagster instance, a mart not built): not an error |
| `crm_ops_scrape_duration_seconds` | source | | how long each source took in the last scrape |
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from crm.db import connect
from integrations import queues
from ml import drift
from monitoring.dagster_store import FINISHED, DagsterStore
from monitoring.slo import freshness_slo
from warehouse import health

log = logging.getLogger("monitoring.collector")

T = TypeVar("T")

DEFAULT_TIMEOUT_MS = 5000
"""Each database statement's bound: a scrape of all sources stays within Prometheus' timeout."""


NOT_YET: tuple[type[Exception], ...] = (FileNotFoundError, psycopg.errors.UndefinedTable)
"""What a source raises before there is anything to read: not a failure of the stack."""


class Scrape:
    """One scrape's database connection, opened by the first source that needs it."""

    def __init__(self, url: str | None, timeout_ms: int) -> None:
        self.url, self.timeout_ms = url, timeout_ms
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            self._conn = connect(
                self.url,
                autocommit=True,
                connect_timeout=max(1, self.timeout_ms // 1000),
                application_name="crm-ops-metrics",
                options=f"-c statement_timeout={self.timeout_ms} -c default_transaction_read_only=on",
            )
        return self._conn

    def drop_if_broken(self) -> None:
        """After a failure: a connection the server dropped is opened again by the next source."""
        if self._conn is not None and self._conn.broken:
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _gauge(name: str, doc: str, labels: list[str], values: Iterable[tuple[list[str], float]]) -> Metric:
    g = GaugeMetricFamily(name, doc, labels=labels)
    for label_values, value in values:
        g.add_metric(label_values, value)
    return g


def _one(name: str, doc: str, value: float) -> Metric:
    return GaugeMetricFamily(name, doc, value=value)


# --- database sources ---------------------------------------------------------------------------


def _per(
    label: str, rows: list[tuple[str, T]], *columns: tuple[str, str, Callable[[T], float]]
) -> Iterator[Metric]:
    """One gauge per column (name, help, value of a row), each with a sample per row."""
    for name, doc, get in columns:
        yield _gauge(name, doc, [label], (([key], get(row)) for key, row in rows))


def read_warehouse(s: Scrape, _: DagsterStore) -> Iterator[Metric]:
    ages = health.mart_ages(s.conn)
    yield from _per(
        "mart",
        [(m, m) for m in sorted(ages)],
        (
            "crm_mart_freshness_seconds",
            "Seconds since the mart's last build began (analytics.mart_freshness).",
            ages.__getitem__,
        ),
        ("crm_mart_freshness_slo_seconds", "The mart's freshness target in seconds.", freshness_slo),
    )


def read_segments(s: Scrape, _: DagsterStore) -> Iterator[Metric]:
    yield from _per(
        "reason",
        list(health.stale_segments(s.conn).items()),
        (
            "crm_segments_stale",
            "Active dynamic segments marked stale, by reason (failed, requested).",
            lambda v: v.count,
        ),
        (
            "crm_segment_stale_seconds",
            "Age in seconds of the oldest stale segment's memberships, by reason.",
            lambda v: v.oldest_seconds,
        ),
    )


def read_drift(s: Scrape, _: DagsterStore) -> Iterator[Metric]:
    yield from _per(
        "model",
        [(d.model, d) for d in drift.score_drift(s.conn)],
        (
            "crm_model_score_psi",
            "PSI of current scores against the training score distribution, worst tenant.",
            lambda d: d.psi,
        ),
        ("crm_model_psi_tenants", "Tenants the PSI was measured on.", lambda d: d.tenants),
        (
            "crm_model_drifted_tenants",
            f"Tenants whose PSI is at least {drift.PSI_DRIFT}.",
            lambda d: d.drifted,
        ),
    )


def read_calibration(s: Scrape, _: DagsterStore) -> Iterator[Metric]:
    c = drift.deal_calibration(s.conn)
    yield _gauge(
        "crm_model_calibration_outcomes",
        "Outcomes known since training that the calibration error is computed over.",
        ["model"],
        [([c.model], c.outcomes)],
    )
    yield _gauge(
        "crm_model_calibration_error",
        "Expected calibration error on outcomes known since training.",
        ["model"],
        [([c.model], c.ece)] if c.ece is not None else [],
    )


QUEUE_METRICS = {
    "webhook_deliveries": ("crm_webhook", "webhook deliveries", "delivery"),
    "campaign_sends": ("crm_campaign_send", "campaign sends", "send"),
    "sync_retries": ("crm_sync_retry", "external sync retries", "retry"),
}


def _queue_reader(queue: str) -> Callable[[Scrape, DagsterStore], Iterator[Metric]]:
    prefix, what, one = QUEUE_METRICS[queue]

    def read(s: Scrape, _: DagsterStore) -> Iterator[Metric]:
        depth = queues.depth(s.conn, queue)
        yield _gauge(
            f"{prefix}_queue_depth",
            f"Queued {what} by state (due, waiting, dead).",
            ["state"],
            (([state], n) for state, n in depth.items()),
        )
        yield _one(
            f"{prefix}_oldest_pending_seconds",
            f"Age in seconds of the oldest pending {one}.",
            queues.oldest_pending_seconds(s.conn, queue),
        )

    return read


def read_tickets(s: Scrape, _: DagsterStore) -> Iterator[Metric]:
    yield _one(
        "crm_ticket_enrichment_backlog",
        "Ticket events landed in the last 24 h with no enrichment logged.",
        queues.enrichment_backlog(s.conn),
    )


# --- Dagster sources ----------------------------------------------------------------------------


def read_runs(_: Scrape, d: DagsterStore) -> Iterator[Metric]:
    d.read_finished()
    jobs = sorted({job for job, _ in d.finished})
    runs = CounterMetricFamily(
        "crm_dagster_runs", "Finished Dagster runs by job and status.", labels=["dagster_job", "status"]
    )
    failed = CounterMetricFamily(
        "crm_dagster_runs_failed", "Failed Dagster runs by job.", labels=["dagster_job"]
    )
    for job in jobs:
        for status in FINISHED.values():
            runs.add_metric([job, status], d.finished[(job, status)])
        failed.add_metric([job], d.finished[(job, "failure")])
    yield runs
    yield failed
    flying = d.in_flight()
    shown = {(job, status) for job in jobs for status in ("queued", "started")} | set(flying)
    yield _gauge(
        "crm_dagster_runs_in_progress",
        "Dagster runs not finished, by job and status.",
        ["dagster_job", "status"],
        (([job, status], flying[(job, status)]) for job, status in sorted(shown)),
    )
    yield _gauge(
        "crm_dagster_run_duration_seconds",
        "Duration of the job's last finished run.",
        ["dagster_job"],
        (
            ([job], last.duration)
            for job, last in sorted(d.last_finished.items())
            if last.duration is not None
        ),
    )
    yield _gauge(
        "crm_dagster_last_success_timestamp_seconds",
        "When the job's last successful run ended (epoch seconds).",
        ["dagster_job"],
        (([job], ts) for job, ts in sorted(d.last_success.items())),
    )


def read_assets(_: Scrape, d: DagsterStore) -> Iterator[Metric]:
    yield _gauge(
        "crm_dagster_asset_last_materialization_timestamp_seconds",
        "When the asset was last materialized (epoch seconds).",
        ["asset"],
        (([asset], ts) for asset, ts in sorted(d.materialized_at().items())),
    )


def read_checks(_: Scrape, d: DagsterStore) -> Iterator[Metric]:
    f = d.check_failures({job for job, _ in d.flying})
    yield _gauge(
        "crm_dbt_test_failures",
        "dbt tests on the model whose latest evaluation failed, by severity.",
        ["model", "severity"],
        (([asset, sev], n) for (asset, sev), n in sorted(f.dbt.items())),
    )
    yield _gauge(
        "crm_asset_check_failures",
        "Other Dagster asset checks whose latest evaluation failed, by severity.",
        ["asset", "severity"],
        (([asset, sev], n) for (asset, sev), n in sorted(f.other.items())),
    )


@dataclass(frozen=True)
class Source:
    name: str
    read: Callable[[Scrape, DagsterStore], Iterator[Metric]]
    database: bool = True
    """Runs in a read-only transaction of the scrape's connection."""


SOURCES: tuple[Source, ...] = (
    Source("warehouse", read_warehouse),
    Source("segments", read_segments),
    Source("ml_drift", read_drift),
    Source("ml_calibration", read_calibration),
    *(Source(q, _queue_reader(q)) for q in QUEUE_METRICS),
    Source("ticket_enrichment", read_tickets),
    Source("dagster_runs", read_runs, database=False),
    Source("dagster_assets", read_assets, database=False),
    Source("dagster_checks", read_checks, database=False),
)


class OpsCollector(Collector):
    """Reads every source on each `collect()` (one scrape at a time)."""

    def __init__(
        self,
        database_url: str | None = None,
        dagster_home: Path | None = None,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        sources: tuple[Source, ...] = SOURCES,
    ) -> None:
        self.database_url = database_url
        self.dagster = DagsterStore(dagster_home)
        self.timeout_ms = timeout_ms
        self.sources = sources
        self.errors: dict[str, int] = {s.name: 0 for s in sources}
        self._lock = threading.Lock()

    def describe(self) -> Iterable[Metric]:
        return []  # nothing is read when the collector is registered

    def _read(self, source: Source, scrape: Scrape) -> list[Metric]:
        if not source.database:
            return list(source.read(scrape, self.dagster))
        with scrape.conn.transaction():
            return list(source.read(scrape, self.dagster))

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            scrape = Scrape(self.database_url, self.timeout_ms)
            took: dict[str, float] = {}
            absent: list[str] = []
            out: list[Metric] = []
            try:
                for source in self.sources:
                    t0 = time.perf_counter()
                    try:
                        out += self._read(source, scrape)
                    except NOT_YET as exc:
                        # a stack before its first Dagster run or dbt build: nothing to report yet
                        absent.append(source.name)
                        log.info("source %s has nothing yet: %s", source.name, exc)
                        scrape.drop_if_broken()
                    except Exception as exc:
                        self.errors[source.name] += 1
                        log.warning("source %s failed: %s: %s", source.name, type(exc).__name__, exc)
                        scrape.drop_if_broken()
                    took[source.name] = time.perf_counter() - t0
            finally:
                scrape.close()
            errors = CounterMetricFamily(
                "crm_ops_scrape_errors", "Sources that failed during a scrape.", labels=["source"]
            )
            for name, n in self.errors.items():
                errors.add_metric([name], n)
            out += [
                errors,
                _gauge(
                    "crm_ops_source_absent",
                    "1 for a source with nothing to read yet (no Dagster instance, a mart not built).",
                    ["source"],
                    (([name], 1.0) for name in absent),
                ),
                _gauge(
                    "crm_ops_scrape_duration_seconds",
                    "How long each source took in the last scrape.",
                    ["source"],
                    (([name], t) for name, t in took.items()),
                ),
            ]
            return out


def ops_registry(collector: OpsCollector) -> CollectorRegistry:
    """A registry of its own holding only `collector` (no process or Python metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
