"""Dagster jobs, schedules and sensors of the integrations (external sync); the steps are
`integrations.external_sync`'s.

`external_sync_due` runs every sync that is due, as `crm sync due` does: runs queued through
the API (POST /integrations/connections/{id}/runs) and connections whose interval has passed.
`external_sync_sensor` launches it every minute while no pass is running.
"""

from typing import Any

from dagster import (
    DefaultSensorStatus,
    OpExecutionContext,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    in_process_executor,
    job,
    op,
    sensor,
)

from .resources import PostgresResource
from .sensors import _UNFINISHED


@op(name="external_sync_due_runs", description="Every queued or scheduled external CRM sync that is due.")
def due_runs(context: OpExecutionContext, postgres: PostgresResource) -> None:
    from integrations.external_sync.engine import run_due

    for run_id, status in run_due(postgres.url):
        context.log.info(f"sync run {run_id}: {status}")


@job(
    name="external_sync_due",
    executor_def=in_process_executor,
    description=(
        "Two-way sync with HubSpot and Salesforce: queued and scheduled runs, each logged in "
        "crm.sync_runs with its counts, cursors and INTEGRATION_SYNC_FAILED records."
    ),
)
def external_sync_due_job() -> None:
    due_runs()


@sensor(
    job=external_sync_due_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launches external_sync_due while a sync is due and no pass is running.",
)
def external_sync_sensor(context: SensorEvaluationContext, postgres: PostgresResource) -> Any:
    from crm.db import connect
    from integrations.external_sync.store import due_work

    if context.instance.get_runs(
        RunsFilter(job_name="external_sync_due", statuses=list(_UNFINISHED)), limit=1
    ):
        return SkipReason("a sync pass is running")
    with connect(postgres.url) as conn:
        work = due_work(conn)
    if not work:
        return SkipReason("no sync is due")
    return RunRequest()


JOBS: list[Any] = [external_sync_due_job]
SCHEDULES: list[Any] = []
SENSORS: list[Any] = [external_sync_sensor]
