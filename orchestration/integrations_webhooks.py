"""Dagster jobs, schedules and sensors of the integrations (webhooks); the steps are
`integrations.webhooks`'s.

`webhooks_deliver` runs one pass of the deliverer (plan new events for the subscriptions and
the campaign sender, send what is due, retry, dead-letter), as `crm webhooks deliver --once`
does; `webhooks_backlog_sensor` launches it while something is due and no pass is running.
A long-running `crm webhooks deliver` does the same continuously; both can run at once
(deliveries are claimed with SKIP LOCKED).
"""

from typing import Any

from dagster import (
    DagsterRunStatus,
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

_UNFINISHED = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


@op(name="webhooks_deliver_pass", description="One pass of the webhook and campaign deliverer.")
def deliver_pass(context: OpExecutionContext, postgres: PostgresResource) -> None:
    from integrations.webhooks.worker import run_once

    counts = run_once(postgres.url)
    context.log.info(f"webhooks: {counts}")


@job(
    name="webhooks_deliver",
    executor_def=in_process_executor,
    description=(
        "Signed webhook deliveries (Standard Webhooks) of the tenants' subscribed events and the "
        "e-mails of triggered campaigns: planned from crm.outbox, retried with backoff, "
        "dead-lettered after the last attempt, every attempt logged."
    ),
)
def webhooks_deliver_job() -> None:
    deliver_pass()


@sensor(
    job=webhooks_deliver_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.STOPPED,
    description="Runs a deliverer pass while deliveries are due or events wait to be planned.",
)
def webhooks_backlog_sensor(context: SensorEvaluationContext, postgres: PostgresResource):
    from integrations.webhooks.worker import backlog

    running = context.instance.get_runs(
        RunsFilter(job_name=webhooks_deliver_job.name, statuses=_UNFINISHED), limit=1
    )
    if running:
        return SkipReason("a deliverer pass is running")
    counts = backlog(postgres.url)
    if not any(counts.values()):
        return SkipReason("nothing due")
    return RunRequest(tags={"crm/webhooks": ",".join(f"{k}={v}" for k, v in counts.items())})


JOBS: list[Any] = [webhooks_deliver_job]
SCHEDULES: list[Any] = []
SENSORS: list[Any] = [webhooks_backlog_sensor]
