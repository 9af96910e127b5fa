"""The daily `raw_partitions` job: the landing tables' months made ahead, history moved out of
the default partitions, and (when a retention is set) old months dropped. The steps are
`streaming.partitions`'; the op calls them and reports what changed."""

import os
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


class RawPartitionsConfig(Config):
    ahead_months: int = 2
    """Months after this one that get their partition now."""
    keep_months: int | None = None
    """Retention: months before this one kept (None: RAW_RETENTION_MONTHS, unset = keep all)."""
    dry_run: bool = False
    """Report the months retention would drop, drop nothing."""


@op(
    name="maintain_raw_partitions",
    description="Landing tables' months made ahead and history moved in; old months dropped.",
)
def raw_partitions_op(
    context: OpExecutionContext, config: RawPartitionsConfig, postgres: PostgresResource
) -> dict[str, Any]:
    """What changed: partitions created (with the rows moved in) and dropped (or, in a dry run,
    that would be)."""
    from streaming import partitions

    made = partitions.maintain(postgres.url, ahead=config.ahead_months)
    for m in made:
        context.log.info(f"partition {m.partition}: created, {m.rows} rows moved in")
    keep = config.keep_months
    if keep is None and os.environ.get("RAW_RETENTION_MONTHS"):
        keep = int(os.environ["RAW_RETENTION_MONTHS"])
    if keep is None:
        context.log.info("no retention set (RAW_RETENTION_MONTHS): every month is kept")
        return {"created": {m.partition: m.rows for m in made}, "dropped": {}, "dry_run": config.dry_run}
    cutoff = partitions.retention_cutoff(keep)
    dropped = partitions.drop_before(cutoff, postgres.url, dry_run=config.dry_run)
    verb = "would drop" if config.dry_run else "dropped"
    for d in dropped:
        context.log.info(f"retention before {cutoff:%Y-%m-%d}: {verb} {d.partition} ({d.rows} rows)")
    context.log.info(f"retention before {cutoff:%Y-%m-%d}: {verb} {sum(d.rows for d in dropped)} rows")
    return {
        "created": {m.partition: m.rows for m in made},
        "dropped": {d.partition: d.rows for d in dropped},
        "cutoff": cutoff.isoformat(),
        "dry_run": config.dry_run,
    }


@job(
    name="raw_partitions",
    executor_def=in_process_executor,
    description=(
        "Daily: each landing table gets the partitions of this month and the next two, rows waiting "
        "in a default partition move to their month's, and with RAW_RETENTION_MONTHS months before "
        "that many are dropped (config dry_run: only report)."
    ),
)
def raw_partitions_job() -> None:
    raw_partitions_op()


raw_partitions_schedule = ScheduleDefinition(
    name="raw_partitions_daily",
    job=raw_partitions_job,
    cron_schedule="15 1 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
)
