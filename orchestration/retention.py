"""The daily `retention` job: every tenant's retention policy applied (`crm.privacy.retention`),
one audit row per tenant and run. 02:30 UTC, after `raw_partitions` has dropped whole months."""

from typing import Any

from dagster import (
    Config,
    DefaultScheduleStatus,
    OpExecutionContext,
    ScheduleDefinition,
    in_process_executor,
    job,
    op,
)

from .resources import PostgresResource


class RetentionConfig(Config):
    dry_run: bool = False
    """Count what each tenant's policy would delete, delete nothing (still audited)."""
    tenant: str | None = None
    """One tenant (slug or id); None: every tenant."""


@op(name="apply_retention_policies", description="Each tenant's data older than its policy keeps, deleted.")
def retention_op(
    context: OpExecutionContext, config: RetentionConfig, postgres: PostgresResource
) -> dict[str, Any]:
    """Rows deleted (or, in a dry run, that would be) per tenant and entity."""
    from crm.privacy import retention

    results = retention.run(postgres.url, dry_run=config.dry_run, tenant=config.tenant)
    verb = "would delete" if config.dry_run else "deleted"
    for r in results:
        context.log.info(f"{r.slug}: {verb} {r.total} rows {r.counts}")
    return {r.slug: {"counts": r.counts, "total": r.total} for r in results} | {"dry_run": config.dry_run}


@job(
    name="retention",
    executor_def=in_process_executor,
    description="Daily: each tenant's retention policy (crm.retention_policies over the defaults) applied.",
)
def retention_job() -> None:
    retention_op()


retention_schedule = ScheduleDefinition(
    name="retention_daily",
    job=retention_job,
    cron_schedule="30 2 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
)
