"""Dagster jobs, schedules, sensors and checks of the integrations (tickets); the steps are
`integrations.tickets`'s.

`enrichment_latency` (on `crm/ticket_enrichments`, a warning only): the ticketing system expects
an enriched event within seconds of its ticket, so a p95 over the window above
`EnrichmentLatencyConfig.max_p95_ms` says the enricher is behind (or stopped and caught up)."""

from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from .integrations_observed import WINDOW, WindowConfig
from .keys import crm_key
from .resources import PostgresResource

JOBS: list[Any] = []
SCHEDULES: list[Any] = []
SENSORS: list[Any] = []


class EnrichmentLatencyConfig(WindowConfig):
    """The enrichment latency the ticketing system may expect (run config of the check)."""

    max_p95_ms: float = 5000.0
    """Warn when the window's p95 of ticket produced -> enriched event sent is above this."""


@asset_check(
    asset=crm_key("ticket_enrichments"),
    name="enrichment_latency",
    description=(
        "p95 of ticket produced -> enriched event sent over the window: warns above max_p95_ms, "
        "never fails a run."
    ),
)
def enrichment_latency_check(config: EnrichmentLatencyConfig, postgres: PostgresResource) -> AssetCheckResult:
    n, p50, p95, worst = postgres.fetchall(
        f"""
        select count(latency_ms),
               percentile_cont(0.5) within group (order by latency_ms),
               percentile_cont(0.95) within group (order by latency_ms),
               max(latency_ms)
        from crm.ticket_enrichments
        where enriched_at > {WINDOW}
        """,
        {"hours": config.window_hours},
    )[0]
    slow = p95 is not None and p95 > config.max_p95_ms
    return AssetCheckResult(
        passed=not slow,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"p95 enrichment latency {p95:.0f} ms over the last {config.window_hours:g} h"
            f" (more than {config.max_p95_ms:g} ms)"
            if slow
            else None
        ),
        metadata={
            "enrichments": MetadataValue.int(int(n)),
            "p50_ms": MetadataValue.float(round(float(p50 or 0.0), 1)),
            "p95_ms": MetadataValue.float(round(float(p95 or 0.0), 1)),
            "max_ms": MetadataValue.float(round(float(worst or 0.0), 1)),
            "window_hours": MetadataValue.float(config.window_hours),
            "max_p95_ms": MetadataValue.float(config.max_p95_ms),
        },
    )


CHECKS = [enrichment_latency_check]
