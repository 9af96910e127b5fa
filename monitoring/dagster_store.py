"""What the Dagster instance recorded, read through its public API for the ops metrics: finished
runs per job and outcome, runs in flight, the last run's duration and the last success per
job, each asset's last materialization, and the latest result of every asset check (dbt tests
among them).

Finished runs are counted from the run status events (`fetch_run_status_changes`) after a
cursor kept between scrapes: the first scrape reads the history once, later ones only what is
new, so the counters are exact and a scrape stays cheap however many runs the instance keeps.
The checks are those of each job's latest run's execution plan, gathered as jobs run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from dagster import (
    AssetCheckKey,
    AssetCheckSeverity,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)

from crm.settings import dagster_home

FINISHED = {
    DagsterEventType.RUN_SUCCESS: "success",
    DagsterEventType.RUN_FAILURE: "failure",
    DagsterEventType.RUN_CANCELED: "canceled",
}
IN_FLIGHT = (
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
)
PAGE = 1000
DBT_TEST_PREFIX = "test."
"""dagster-dbt puts the test's dbt `unique_id` in each check evaluation's metadata."""


@dataclass
class LastRun:
    storage_id: int
    run_id: str
    duration: float | None = None


@dataclass
class CheckFailures:
    """Latest evaluations that did not pass, per asset and severity; every asset with checks
    has its row (0 when all pass), dbt tests apart from the other checks."""

    dbt: Counter[tuple[str, str]] = field(default_factory=Counter)
    other: Counter[tuple[str, str]] = field(default_factory=Counter)


class DagsterStore:
    """One instance opened for the exporter's life, and the cursors between scrapes."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home or dagster_home()
        self._instance: DagsterInstance | None = None
        self._cursors: dict[DagsterEventType, str | None] = dict.fromkeys(FINISHED)
        self.finished: Counter[tuple[str, str]] = Counter()
        self.last_success: dict[str, float] = {}
        self.last_finished: dict[str, LastRun] = {}
        self.flying: Counter[tuple[str, str]] = Counter()
        """The last `in_flight()`."""
        self._check_keys: set[AssetCheckKey] = set()
        self._plans_read: set[str] = set()

    @property
    def instance(self) -> DagsterInstance:
        if self._instance is None:
            if not self.home.is_dir():
                raise FileNotFoundError(f"no Dagster instance at {self.home} (DAGSTER_HOME)")
            self._instance = DagsterInstance.from_config(str(self.home))
        return self._instance

    def close(self) -> None:
        if self._instance is not None:
            self._instance.dispose()
            self._instance = None

    # --- runs ---------------------------------------------------------------------------------

    def read_finished(self) -> None:
        """Count the run status events since the last scrape; note each job's last finished
        run and last success, and the duration of the runs that became a job's last."""
        changed: dict[str, LastRun] = {}
        for event_type, status in FINISHED.items():
            while True:
                page = self.instance.fetch_run_status_changes(
                    event_type, limit=PAGE, cursor=self._cursors[event_type], ascending=True
                )
                for record in page.records:
                    entry = record.event_log_entry
                    job = entry.job_name or "unknown"
                    self.finished[(job, status)] += 1
                    if status == "success":
                        self.last_success[job] = max(self.last_success.get(job, 0.0), entry.timestamp)
                    last = changed.get(job) or self.last_finished.get(job)
                    if last is None or record.storage_id > last.storage_id:
                        changed[job] = LastRun(record.storage_id, entry.run_id)
                self._cursors[event_type] = page.cursor
                if not page.has_more:
                    break
        if changed:
            runs = {
                r.dagster_run.run_id: r
                for r in self.instance.get_run_records(
                    RunsFilter(run_ids=[c.run_id for c in changed.values()])
                )
            }
            for job, last in changed.items():
                r = runs.get(last.run_id)
                if r is not None and r.start_time is not None and r.end_time is not None:
                    last.duration = max(r.end_time - r.start_time, 0.0)
                self.last_finished[job] = last

    def in_flight(self) -> Counter[tuple[str, str]]:
        """Runs queued, starting, running or cancelling, per job and status."""
        records = self.instance.get_run_records(RunsFilter(statuses=list(IN_FLIGHT)), limit=10 * PAGE)
        self.flying = Counter((r.dagster_run.job_name, r.dagster_run.status.value.lower()) for r in records)
        return self.flying

    # --- assets and checks --------------------------------------------------------------------

    def materialized_at(self) -> dict[str, float]:
        """Each asset's last materialization time (epoch seconds), by asset key path."""
        out: dict[str, float] = {}
        for record in self.instance.get_asset_records():
            entry = record.asset_entry.last_materialization
            if entry is not None:
                out[record.asset_entry.asset_key.to_user_string()] = entry.timestamp
        return out

    def _gather_check_keys(self, jobs: set[str]) -> None:
        for job in jobs:
            latest = self.instance.get_run_records(RunsFilter(job_name=job), limit=1)
            plan_id = latest[0].dagster_run.execution_plan_snapshot_id if latest else None
            if plan_id and plan_id not in self._plans_read:
                plan = self.instance.get_execution_plan_snapshot(plan_id)
                self._check_keys.update(plan.asset_check_keys)
                self._plans_read.add(plan_id)

    def check_failures(self, running_jobs: Collection[str] = ()) -> CheckFailures:
        """The latest evaluation of every check of the jobs' latest runs (those finished and
        `running_jobs`); a check whose latest execution is only planned (its run is under way,
        or stopped before it) counts by its evaluation before."""
        self._gather_check_keys({job for job, _ in self.finished} | set(running_jobs))
        out = CheckFailures()
        storage = self.instance.event_log_storage
        latest = storage.get_latest_asset_check_execution_by_key(sorted(self._check_keys, key=str))
        for key in self._check_keys:
            record = latest.get(key)
            evaluation = record.event.asset_check_evaluation if record and record.event else None
            if record is not None and evaluation is None:
                for earlier in storage.get_asset_check_execution_history(key, limit=5):
                    if earlier.event is not None and earlier.event.asset_check_evaluation is not None:
                        evaluation = earlier.event.asset_check_evaluation
                        break
            if evaluation is None:
                continue
            unique_id = evaluation.metadata.get("unique_id")
            is_dbt = unique_id is not None and str(getattr(unique_id, "value", "")).startswith(
                DBT_TEST_PREFIX
            )
            counts = out.dbt if is_dbt else out.other
            severity = "error" if evaluation.severity == AssetCheckSeverity.ERROR else "warn"
            asset = key.asset_key.to_user_string()
            counts[(asset, "error")] += 0
            counts[(asset, "warn")] += 0
            if not evaluation.passed:
                counts[(asset, severity)] += 1
        return out
