"""Sensors: what keeps the marts, scores and segments fresh between the schedules.

- `new_events_sensor` (every 5 s): when any `raw.*` lane has events newer than the last
  successful refresh (or a segment was recalculated, whose marts then need rebuilding), it asks
  for one `event_refresh` run over the window: per lane, received after the last successful
  run's end up to the newest now. One run at a time: while one is queued or running, the window
  grows and the next run takes it all. A failed run's window is taken again by the next one.
  The run's tags count the window's traced events (API writes) and name a sample of their
  trace ids, so a write's trace id leads to the refresh that took it in.
- `refreshed_marts_sensor` (every 5 s): when an `event_refresh` run has taken in events the
  last rescoring has not, it asks for one `event_rescore` run over that window (the entities its
  events name are rescored, their memberships re-evaluated). It overlaps the next refresh.
- `refreshed_checks_sensor` (every 5 s): when a refresh or a rescoring succeeded since the last
  checks ran, and those began a minute ago at least, it asks for one `event_checks` run: the
  dbt data tests and checks of what they built, off the write-to-mart path. While refreshes
  follow each other it waits for a pause, ten minutes at most.
- `stale_segments_sensor` (every 5 s): segments asked for (POST /segments/{id}/recalculate) or
  failed a minute ago are recalculated by a `segment_refresh` run.
- `rescore_requests_sensor` (every 5 s): each tenant rescore asked for (POST /leads/rescore),
  and each one left running past its bound by a run that died, gets a `lead_rescore` run.

The run history is the state: the window a run took is its run config (`EventWindow`), so a
lost cursor or a restarted daemon resumes where the last successful run ended.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from .event_window import window_config, window_traces
from .jobs import event_checks_job, event_refresh_job, event_rescore_job, segment_refresh_job
from .landing import newest_landing_times
from .rescore import REQUEST_TAG, TENANT_TAG, lead_rescore, lead_rescore_job
from .resources import PostgresResource
from .segments import segment_recalculation

TRIGGER_TAG = "crm/trigger"
TRACED_TAG = "crm/traced_events"
TRACE_IDS_TAG = "crm/trace_ids"
"""A refresh run's tags: how many of its window's events carry a trace (API writes) and a sample
of their trace ids, newest first (`orchestration.event_window.TRACE_SAMPLE`)."""
SEGMENTS_MARK = "crm.customer_segments"
"""Not a landing lane: the newest full segment recalculation, whose marts the refresh rebuilds."""
INTERVAL_SECONDS = 5
"""The sensors' interval (the daemon evaluates sensors every 5 s at most anyway)."""
CHECKED_RUNS_TAG = "crm/checked_runs"
"""An `event_checks` run's tag: the refresh and rescoring runs whose outputs it checks."""
CHECKS_EVERY_SECONDS = 60
"""The event-driven checks run at most once a minute: under a steady stream of writes a refresh
succeeds every few seconds, and checking each one would keep a core busy for nothing new."""
CHECKS_UNDER_LOAD_SECONDS = 600
"""While a refresh or a rescoring is queued or running, the checks wait for a pause, ten minutes
at most: under a steady stream of writes they took half a core from the refreshes (at 200
writes/s on two cores each checks run took 30-65 s, beside refreshes of 20-70 s)."""


def checks_wait(age_s: float | None, busy: bool) -> str | None:
    """Why the event-driven checks should not run now (None: they should). `age_s`: seconds
    since the last checks run began (None: never); `busy`: a refresh or rescoring is unfinished."""
    if age_s is None:
        return None
    if age_s < CHECKS_EVERY_SECONDS:
        return f"checked {age_s:.0f} s ago: once a minute at most"
    if busy and age_s < CHECKS_UNDER_LOAD_SECONDS:
        return f"a refresh is under way: checking in a pause, or {CHECKS_UNDER_LOAD_SECONDS} s after the last"
    return None


_UNFINISHED = {
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
}


def newer_lanes(newest: Mapping[str, str], through: Mapping[str, str]) -> list[str]:
    """Lanes whose newest time moved past `through` (ISO strings of one tz compare in order)."""
    return sorted(t for t, ts in newest.items() if ts > through.get(t, ""))


def newest_marks(postgres: PostgresResource) -> dict[str, str]:
    """`{lane: newest received_at}` over the landing tables, and the newest full segment
    recalculation under `SEGMENTS_MARK`."""
    marks = newest_landing_times(postgres)
    recalculated = postgres.scalar("select max(last_calculated) from crm.customer_segments")
    if recalculated is not None:
        marks[SEGMENTS_MARK] = recalculated.isoformat()
    return marks


def last_run(
    instance: DagsterInstance, job_name: str, trigger: str, status: DagsterRunStatus | None = None
) -> DagsterRun | None:
    """The newest run of `job_name` this sensor asked for (with this status)."""
    runs = instance.get_runs(
        RunsFilter(job_name=job_name, tags={TRIGGER_TAG: trigger}, statuses=[status] if status else []),
        limit=1,
    )
    return runs[0] if runs else None


def taken_through(run: DagsterRun) -> dict[str, str]:
    """Per lane, how far a run's window counts as taken: its end when it succeeded, its start
    when it failed (the next run takes that window again)."""
    window = run_window(run)
    return window["until"] if run.status == DagsterRunStatus.SUCCESS else window["since"]


def run_window(run: DagsterRun) -> dict[str, dict[str, str]]:
    """`{"since": ..., "until": ...}` of a refresh run (its `event_window` resource config)."""
    run_config: Any = run.run_config or {}
    config = run_config.get("resources", {}).get("event_window", {}).get("config", {})
    return {"since": dict(config.get("since") or {}), "until": dict(config.get("until") or {})}


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


@sensor(
    job=event_refresh_job,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "New events landed in raw.* (API writes included, through crm-changes and the domain "
        "topics) since the last successful refresh: one event_refresh run takes the window in."
    ),
)
def new_events_sensor(context: SensorEvaluationContext, postgres: PostgresResource):
    newest = newest_marks(postgres)
    if context.cursor is None:
        # First tick: what landed before the sensor existed is built by the initial full run
        # (`make demo`, or a backfill); only what lands from now on triggers refreshes.
        context.update_cursor(json.dumps(newest, sort_keys=True))
        return SkipReason(f"baseline recorded for {len(newest)} lanes")
    through: dict[str, str] = json.loads(context.cursor)
    last = last_run(context.instance, event_refresh_job.name, "new_events")
    if last is not None:
        if last.status in _UNFINISHED:
            return SkipReason(f"refresh {last.run_id[:8]} is {last.status.value.lower()}: the window grows")
        through |= taken_through(last)
    lanes = newer_lanes(newest, through)
    if not lanes:
        return SkipReason("nothing landed since the last refresh")
    since = {lane: through[lane] for lane in newest if lane in through}
    traced, trace_ids = window_traces(postgres, since, newest)
    return RunRequest(
        # the last run's id in the key: a failed window asked again is a new request (the
        # daemon drops one whose key has run before)
        run_key=_key(since, newest, last.run_id if last is not None else None),
        run_config=window_config(since, newest),
        tags={
            TRIGGER_TAG: "new_events",
            "crm/new_lanes": ",".join(lanes),
            # the API writes it takes in: `grep <trace id>` finds the run's lines too
            TRACED_TAG: str(traced),
            TRACE_IDS_TAG: ",".join(trace_ids),
        },
    )


@sensor(
    job=event_rescore_job,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "An event_refresh took in events the last rescoring has not: one event_rescore run "
        "rescores the leads, deals and customers they name."
    ),
)
def refreshed_marts_sensor(context: SensorEvaluationContext):
    refreshed = last_run(
        context.instance, event_refresh_job.name, "new_events", status=DagsterRunStatus.SUCCESS
    )
    if refreshed is None:
        return SkipReason("no event-driven refresh has succeeded yet")
    marts = run_window(refreshed)
    last = last_run(context.instance, event_rescore_job.name, "refreshed_marts")
    if last is not None and last.status in _UNFINISHED:
        return SkipReason(f"rescoring {last.run_id[:8]} is {last.status.value.lower()}: the window grows")
    # first rescoring: from where the refreshes began
    through = marts["since"] | (taken_through(last) if last is not None else {})
    lanes = newer_lanes(marts["until"], through)
    if not lanes:
        return SkipReason("the last refresh's events are rescored")
    since = {lane: through[lane] for lane in marts["until"] if lane in through}
    return RunRequest(
        run_key=_key("rescore", since, marts["until"], last.run_id if last is not None else None),
        run_config=window_config(since, marts["until"]),
        tags={TRIGGER_TAG: "refreshed_marts", "crm/new_lanes": ",".join(lanes)},
    )


@sensor(
    job=event_checks_job,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "An event_refresh or event_rescore succeeded since the checks last ran: one event_checks "
        "run tests what they built (dbt data tests and the Python checks): a minute apart at "
        "least, and while refreshes follow each other, in a pause or ten minutes after the last."
    ),
)
def refreshed_checks_sensor(context: SensorEvaluationContext):
    built = [
        run
        for run in (
            last_run(context.instance, event_refresh_job.name, "new_events", DagsterRunStatus.SUCCESS),
            last_run(context.instance, event_rescore_job.name, "refreshed_marts", DagsterRunStatus.SUCCESS),
        )
        if run is not None
    ]
    if not built:
        return SkipReason("no event-driven refresh has succeeded yet")
    checked = ",".join(run.run_id for run in built)
    last = last_run(context.instance, event_checks_job.name, "refreshed")
    if last is not None:
        if last.status in _UNFINISHED:
            return SkipReason(f"checks {last.run_id[:8]} are {last.status.value.lower()}")
        if last.tags.get(CHECKED_RUNS_TAG) == checked:
            return SkipReason("the last refresh and rescoring are checked")
        record = context.instance.get_run_record_by_id(last.run_id)
        age = datetime.now(UTC).timestamp() - record.create_timestamp.timestamp() if record else None
        busy = any(
            run is not None and run.status in _UNFINISHED
            for run in (
                last_run(context.instance, event_refresh_job.name, "new_events"),
                last_run(context.instance, event_rescore_job.name, "refreshed_marts"),
            )
        )
        wait = checks_wait(age, busy)
        if wait is not None:
            return SkipReason(wait)
    return RunRequest(
        run_key=_key("checks", checked), tags={TRIGGER_TAG: "refreshed", CHECKED_RUNS_TAG: checked}
    )


@sensor(
    job=segment_refresh_job,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Segments marked stale (a recalculation request, changed criteria) are recalculated "
        "within seconds; one that failed keeps its members and is retried a minute later."
    ),
)
def stale_segments_sensor(context: SensorEvaluationContext, postgres: PostgresResource):
    from warehouse.segments import RETRY_AFTER, due_segments

    last = last_run(context.instance, segment_refresh_job.name, "stale_segments")
    if last is not None and last.status in _UNFINISHED:
        return SkipReason(f"recalculation {last.run_id[:8]} is {last.status.value.lower()}")
    if last is not None and last.status == DagsterRunStatus.FAILURE:
        ended = context.instance.get_run_record_by_id(last.run_id)
        end = ended.end_time if ended is not None else None
        if end is not None and datetime.now(UTC).timestamp() - end < RETRY_AFTER.total_seconds():
            return SkipReason("the last recalculation run failed: retrying a minute after it")
    due = due_segments(postgres.engine())
    if not due:
        return SkipReason("no stale segment due")
    return RunRequest(
        run_config={"ops": {segment_recalculation.op.name: {"config": {"segment_ids": due}}}},
        tags={TRIGGER_TAG: "stale_segments", "crm/segments": str(len(due))},
    )


@sensor(
    job=lead_rescore_job,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Tenant rescores asked for through the API (crm.lead_rescore_requests): one lead_rescore "
        "run per request, one per tenant at a time; a request left running by a run that died is "
        "taken again past its bound."
    ),
)
def rescore_requests_sensor(context: SensorEvaluationContext, postgres: PostgresResource):
    from ml import rescore

    asks: list[RunRequest] = []
    waiting: list[str] = []
    now = datetime.now(UTC).timestamp()
    for request in rescore.due(postgres.url):
        records = context.instance.get_run_records(
            RunsFilter(job_name=lead_rescore_job.name, tags={REQUEST_TAG: request.id})
        )
        live = [r for r in records if r.dagster_run.status in _UNFINISHED]
        if live:
            waiting.append(f"{request.id[:8]} ({live[0].dagster_run.status.value.lower()})")
            continue
        if records and request.status == "pending":
            # its run ended before the step could take it (cancelled, failed to start)
            last = records[0].dagster_run
            rescore.fail(
                postgres.url,
                request.id,
                f"run {last.run_id} ended {last.status.value.lower()} before it took the request",
            )
            continue
        if request.status == "running":  # past the bound with no live run: its run died
            if len(records) >= rescore.MAX_ATTEMPTS:
                rescore.fail(
                    postgres.url, request.id, f"no run finished it in {rescore.MAX_ATTEMPTS} attempts"
                )
                continue
            if (
                records
                and now - records[0].create_timestamp.timestamp() < rescore.RUNNING_BOUND.total_seconds()
            ):
                continue  # the last attempt is recent: give it the bound too
        asks.append(
            RunRequest(
                run_key=f"{request.id}/{len(records)}",
                run_config={"ops": {lead_rescore.name: {"config": {"request_id": request.id}}}},
                tags={
                    TRIGGER_TAG: "rescore_requests",
                    REQUEST_TAG: request.id,
                    TENANT_TAG: request.tenant_id,
                },
            )
        )
    if asks:
        return asks
    return SkipReason(f"rescores under way: {', '.join(waiting)}" if waiting else "no rescore asked for")


SENSORS = [
    new_events_sensor,
    refreshed_marts_sensor,
    refreshed_checks_sensor,
    stale_segments_sensor,
    rescore_requests_sensor,
]
