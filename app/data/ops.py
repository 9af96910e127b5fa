"""The platform's health for the Operations page: what Prometheus answers (its scrape targets,
its alerts, a few instant queries) and the Dagster runs that failed lately or are under way,
read from the instance's run storage.

Every figure is an aggregate over all tenants: the metrics carry no tenant id
(api/core/metrics.py, monitoring/collector.py), and of a run only its job, status, times and the
name of the step that failed are read, never its error, logs or tags, which can hold a tenant's
data. Nothing here writes: Prometheus is only queried, and the Dagster instance is opened only
when it already holds runs (opening an empty folder would create its storage).

Both answers are cached for `TTL_SECONDS` per Prometheus address or Dagster home, so a page
refreshed by several admins asks once; each Prometheus request is bounded by `TIMEOUT`, and the
first that cannot reach it ends the round (a Prometheus that hangs costs one timeout, not one
per query).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import streamlit as st
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from crm.settings import dagster_home, get_settings

TTL_SECONDS = 15
TIMEOUT = httpx.Timeout(5.0, connect=2.0)
RUNS_WINDOW = timedelta(hours=24)
"""Failed runs are listed when they ended within this window."""
RUNS_LIMIT = 20
"""At most this many failed runs, and as many in flight."""

QUERIES: dict[str, tuple[str, str]] = {
    # name: (PromQL, the label its samples are told apart by; "" for one number)
    "consumer_lag": ("sum(crm_lander_consumer_lag)", ""),
    "parked_events": ("sum(crm_lander_parked_waiting)", ""),
    "dead_letters_per_second": ("sum(rate(crm_lander_dead_letters_total[10m]))", ""),
    "outbox_backlog": ("sum(crm_outbox_backlog)", ""),
    "outbox_oldest_seconds": ("max(crm_outbox_oldest_unsent_age_seconds)", ""),
    "outbox_dead": ("sum(crm_outbox_dead)", ""),
    "ticket_enrichment_backlog": ("sum(crm_ticket_enrichment_backlog)", ""),
    "mart_age_seconds": ("max by (mart) (crm_mart_freshness_seconds)", "mart"),
    "mart_target_seconds": ("max by (mart) (crm_mart_freshness_slo_seconds)", "mart"),
    "webhook_queue": ("sum by (state) (crm_webhook_queue_depth)", "state"),
    "sync_retry_queue": ("sum by (state) (crm_sync_retry_queue_depth)", "state"),
    "campaign_send_queue": ("sum by (state) (crm_campaign_send_queue_depth)", "state"),
}
"""What the page asks Prometheus, each an instant query (metric names: docs/operators.md)."""


@dataclass(frozen=True)
class Target:
    job: str
    instance: str
    up: bool
    last_scrape: datetime | None
    scrape_seconds: float | None
    error: str


@dataclass(frozen=True)
class Alert:
    name: str
    state: str
    """firing, or pending (its condition holds, not yet for its `for:` duration)."""
    severity: str
    summary: str
    since: datetime | None
    labels: str
    """Its other labels (job, topic, mart, ...), `key=value` joined by commas."""


@dataclass
class PrometheusHealth:
    url: str | None
    problem: str = ""
    """Why nothing (or not everything) could be read; empty when all was."""
    targets: list[Target] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per query of `QUERIES`: its samples by label value (no entry: no such series)."""
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return self.url is not None and not self.problem

    def one(self, name: str) -> float | None:
        """A query answering one number (None: no series, e.g. its exporter is not scraped)."""
        return self.values.get(name, {}).get("")

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.state == "firing"]

    def freshness(self) -> pd.DataFrame:
        """Per mart: its build's age, its target and whether it is past it (latest first)."""
        ages, targets = self.values.get("mart_age_seconds", {}), self.values.get("mart_target_seconds", {})
        frame = pd.DataFrame(
            [(m, age, targets.get(m, math.nan)) for m, age in ages.items()],
            columns=["mart", "age_seconds", "target_seconds"],
        )
        frame["share_of_target"] = frame["age_seconds"] / frame["target_seconds"]
        frame["late"] = frame["age_seconds"] > frame["target_seconds"]
        return frame.sort_values(["share_of_target", "mart"], ascending=[False, True], ignore_index=True)


def _when(text: str | None) -> datetime | None:
    """Prometheus's RFC 3339 time (nanoseconds); None for its zero time (never happened)."""
    if not text or text.startswith("0001-"):
        return None
    return pd.Timestamp(text).tz_convert(UTC).floor("us").to_pydatetime()


def _get(client: httpx.Client, path: str, **params: str) -> dict:
    r = client.get(path, params=params or None)
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if r.status_code != 200 or body.get("status") != "success":
        raise ValueError(f"{path}: {body.get('error') or f'HTTP {r.status_code}'}")
    return body["data"]


def _targets(data: dict) -> list[Target]:
    return sorted(
        (
            Target(
                job=t["labels"].get("job", ""),
                instance=t["labels"].get("instance", ""),
                up=t.get("health") == "up",
                last_scrape=_when(t.get("lastScrape")),
                scrape_seconds=t.get("lastScrapeDuration"),
                error=t.get("lastError", ""),
            )
            for t in data.get("activeTargets", [])
        ),
        key=lambda t: (t.up, t.job, t.instance),
    )


def _alerts(data: dict) -> list[Alert]:
    out = []
    for a in data.get("alerts", []):
        labels = dict(a.get("labels", {}))
        name, severity = labels.pop("alertname", ""), labels.pop("severity", "")
        out.append(
            Alert(
                name=name,
                state=a.get("state", ""),
                severity=severity,
                summary=a.get("annotations", {}).get("summary", ""),
                since=_when(a.get("activeAt")),
                labels=", ".join(f"{k}={v}" for k, v in sorted(labels.items())),
            )
        )
    return sorted(out, key=lambda a: (a.state != "firing", a.severity != "critical", a.name, a.labels))


def _samples(data: dict, label: str) -> dict[str, float]:
    return {s["metric"].get(label, "") if label else "": float(s["value"][1]) for s in data.get("result", [])}


def read_prometheus(url: str | None) -> PrometheusHealth:
    """Targets, alerts and `QUERIES` from the Prometheus at `url` (None: not configured)."""
    if not url:
        return PrometheusHealth(None, "Prometheus is not configured (PROMETHEUS_URL is unset).")
    health = PrometheusHealth(url.rstrip("/"))
    failed: list[str] = []
    try:
        with httpx.Client(base_url=health.url or "", timeout=TIMEOUT) as client:
            health.targets = _targets(_get(client, "/api/v1/targets", state="active"))
            health.alerts = _alerts(_get(client, "/api/v1/alerts"))
            for name, (promql, label) in QUERIES.items():
                try:
                    health.values[name] = _samples(_get(client, "/api/v1/query", query=promql), label)
                except ValueError:  # refused (e.g. timed out inside Prometheus): the rest still count
                    failed.append(name)
    except (httpx.HTTPError, ValueError) as exc:
        health.problem = f"Prometheus at {url} does not answer ({type(exc).__name__}: {exc})."
        return health
    if failed:
        health.problem = f"Prometheus refused {len(failed)} queries: {', '.join(failed)}."
    return health


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, max_entries=8)
def prometheus_health(url: str | None) -> PrometheusHealth:
    """`read_prometheus`, cached briefly."""
    return read_prometheus(url)


def prometheus_url() -> str | None:
    return get_settings().prometheus_url


# --- Dagster --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    run_id: str
    job: str
    status: str
    started: datetime | None
    duration_seconds: float | None
    """To its end, or until now while it runs."""
    failed_steps: str
    """The steps whose failure failed the run, by name ("" while running, or when the run
    failed outside any step)."""


@dataclass
class DagsterRuns:
    home: str
    problem: str = ""
    runs: list[Run] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(r.status == "failure" for r in self.runs)


def _holds_runs(home: Path) -> bool:
    """Whether the instance at `home` keeps its runs somewhere already: a storage named in its
    dagster.yaml (Postgres, in production), or the SQLite file of the default one."""
    cfg = home / "dagster.yaml"
    config = yaml.safe_load(cfg.read_text()) if cfg.exists() else None
    named = isinstance(config, dict) and bool({"storage", "run_storage"} & set(config))
    return named or (home / "history" / "runs.db").exists()


@st.cache_resource(show_spinner=False, max_entries=4)
def _instance(home: str) -> DagsterInstance:
    """One instance per Dagster home for the process (opening one costs more than reading it)."""
    return DagsterInstance.from_config(home)


@st.cache_data(show_spinner=False, max_entries=1000)
def _failed_steps(home: str, run_id: str) -> str:
    """The steps whose failure failed run `run_id`, kept: a finished run's do not change, and
    each costs a read of the run's own event log (a file per run in the default SQLite storage,
    about 0.1 s)."""
    failures = _instance(home).get_records_for_run(run_id, of_type=DagsterEventType.STEP_FAILURE, limit=10)
    names = {r.event_log_entry.step_key or "" for r in failures.records}
    # a step's name without a dynamic output's mapping key (a value, maybe a tenant's)
    return ", ".join(sorted({n.split("[", 1)[0] for n in names if n}))


UNDER_WAY = (
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
)


def read_runs(home: Path, now: datetime | None = None) -> DagsterRuns:
    """Runs that failed within `RUNS_WINDOW` and runs under way, latest first."""
    out = DagsterRuns(str(home))
    if not home.is_dir() or not _holds_runs(home):
        out.problem = f"No Dagster runs recorded at {home} (DAGSTER_HOME)."
        return out
    now = now or datetime.now(UTC)
    try:
        instance = _instance(str(home))
        records = [
            *instance.get_run_records(RunsFilter(statuses=list(UNDER_WAY)), limit=RUNS_LIMIT),
            *instance.get_run_records(
                RunsFilter(statuses=[DagsterRunStatus.FAILURE], updated_after=now - RUNS_WINDOW),
                limit=RUNS_LIMIT,
            ),
        ]
        for r in records:
            run, start = r.dagster_run, r.start_time
            end = r.end_time if r.end_time is not None else now.timestamp()
            failed = run.status == DagsterRunStatus.FAILURE
            out.runs.append(
                Run(
                    run_id=run.run_id,
                    job=run.job_name,
                    status=run.status.value.lower(),
                    started=datetime.fromtimestamp(start, UTC) if start is not None else None,
                    duration_seconds=max(end - start, 0.0) if start is not None else None,
                    failed_steps=_failed_steps(str(home), run.run_id) if failed else "",
                )
            )
    except Exception as exc:  # a storage that cannot be read: the page says so, the rest stays
        out.problem = f"The Dagster instance at {home} cannot be read ({type(exc).__name__}: {exc})."
        return out
    out.runs.sort(key=lambda r: r.started or datetime.min.replace(tzinfo=UTC), reverse=True)
    return out


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, max_entries=4)
def dagster_runs(home: str) -> DagsterRuns:
    """`read_runs`, cached briefly."""
    return read_runs(Path(home))


def runs_home() -> str:
    return str(dagster_home())
