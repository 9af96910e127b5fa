"""The integrations in Dagster: the job and schedule that rebuild their marts, and warnings on
their operational tables, evaluated whenever `observe_landing` observes
them (every 15 minutes): outbound webhook deliveries and campaign sends dead-lettered, external
CRM sync runs failed, and sync retry queue items that gave up, each within a trailing window.

All warn and never fail a run: a dead letter is kept for an admin to replay, a failed sync run is
retried by the next one, so these say that someone should look, not that the data is wrong.
The checks read `crm.*` directly (the marts may be a build behind), as the landing checks do.
"""

from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetSelection,
    Config,
    DefaultScheduleStatus,
    MetadataValue,
    ScheduleDefinition,
    asset_check,
    define_asset_job,
)

from .jobs import EVENT_MARTS_TAG
from .keys import crm_key, mart_key
from .resources import PostgresResource


class WindowConfig(Config):
    """The trailing window a check looks back over (run config)."""

    window_hours: float = 24.0
    """Count what happened within this many hours."""


class WindowedFailuresConfig(WindowConfig):
    """How many failures within the window the check tolerates (run config)."""

    max_failures: int = 0
    """Warn when more than this many failed in the window."""


WINDOW = "now() - make_interval(secs => %(hours)s * 3600)"
"""The window's start, for a `%(hours)s` parameter."""


def counts_by_key(rows: list[tuple]) -> dict[str, int]:
    """`{key: n}` from `(key, n)` rows (a tenant id, a status, a reason)."""
    return {str(t): int(n) for t, n in rows}


@dataclass(frozen=True)
class Failures:
    """One kind of integration failure: rows of `crm.<table>` in `status`, timed by `at`."""

    table: str
    name: str
    what: str
    status: str
    at: str
    reason: str
    """SQL of a failure's reason (its last answer or error)."""
    description: str

    def window_sql(self, select: str, group: str) -> str:
        return (
            f"select {select}, count(*) from crm.{self.table} where status = '{self.status}'"
            f" and {self.at} > {WINDOW} group by {group}"
        )


FAILURES: tuple[Failures, ...] = (
    Failures(
        "webhook_deliveries",
        "dead_deliveries",
        "deliveries dead-lettered",
        "dead",
        "dead_at",
        "coalesce(last_status_code::text, left(last_error, 80), '-')",
        "Outbound webhook deliveries dead-lettered (every attempt failed); they wait for a replay.",
    ),
    Failures(
        "campaign_deliveries",
        "dead_campaign_sends",
        "campaign sends dead-lettered",
        "dead",
        "updated_at",
        "coalesce(left(last_error, 80), '-')",
        "Campaign sends (e-mail, webhook) dead-lettered with the server's answer.",
    ),
    Failures(
        "sync_runs",
        "failed_sync_runs",
        "sync runs failed",
        "failed",
        "requested_at",
        "coalesce(left(error, 80), '-')",
        "External CRM sync runs that failed (cursors kept: the next run reads the same changes).",
    ),
    Failures(
        "sync_retry_queue",
        "dead_retry_items",
        "retry queue items dead",
        "dead",
        "updated_at",
        "coalesce(left(last_error, 80), '-')",
        "Sync retry queue items that gave up after their last attempt.",
    ),
)


def warn_over(
    failures: int, config: WindowedFailuresConfig, what: str, metadata: dict[str, Any]
) -> AssetCheckResult:
    """A warning when more than `max_failures` of `what` happened in the window."""
    over = failures > config.max_failures
    return AssetCheckResult(
        passed=not over,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"{failures} {what} in the last {config.window_hours:g} h (more than {config.max_failures})"
            if over
            else None
        ),
        metadata={
            **metadata,
            "window_hours": MetadataValue.float(config.window_hours),
            "max_failures": MetadataValue.int(config.max_failures),
        },
    )


def _failures_check(f: Failures) -> AssetChecksDefinition:
    @asset_check(
        asset=crm_key(f.table),
        name=f.name,
        description=f"{f.description} Counted within the window; warns past max_failures, never fails a run.",
    )
    def failures_check(config: WindowedFailuresConfig, postgres: PostgresResource) -> AssetCheckResult:
        hours = {"hours": config.window_hours}
        tenants = counts_by_key(postgres.fetchall(f.window_sql("tenant_id", "tenant_id"), hours))
        reasons = postgres.fetchall(f.window_sql(f"{f.reason} as reason", "1 order by 2 desc limit 5"), hours)
        statuses = postgres.fetchall(f"select status, count(*) from crm.{f.table} group by status")
        return warn_over(
            sum(tenants.values()),
            config,
            f.what,
            {
                "failures": MetadataValue.int(sum(tenants.values())),
                "per_tenant": MetadataValue.json(tenants),
                "top_reasons": MetadataValue.json(counts_by_key(reasons)),
                "by_status": MetadataValue.json(counts_by_key(statuses)),
            },
        )

    return failures_check


CHECKS: list[AssetChecksDefinition] = [_failures_check(f) for f in FAILURES]


INTEGRATION_MARTS = tuple(
    mart_key(m)
    for m in (
        "fct_ticket_enrichments",
        "fct_webhook_deliveries",
        "fct_sync_run_objects",
        "fct_sync_runs",
        "fct_sync_retry_queue",
        "dash_integrations_daily",
    )
)
"""The marts of the Integrations page (dbt/models/marts/integrations)."""

_marts = AssetSelection.assets(*INTEGRATION_MARTS)
integration_marts_job = define_asset_job(
    "integration_marts",
    selection=_marts | (_marts.upstream() & AssetSelection.groups("staging", "intermediate", "marts")),
    description="Rebuild the integrations' marts (enrichments, deliveries, sync runs, the daily summary).",
    tags={EVENT_MARTS_TAG: "1"},  # one dbt run over the event marts at a time
)

JOBS = [integration_marts_job]
SCHEDULES = [
    ScheduleDefinition(
        name="integration_marts_15min",
        job=integration_marts_job,
        cron_schedule="7-59/15 * * * *",
        default_status=DefaultScheduleStatus.RUNNING,
    )
]
