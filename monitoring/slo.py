"""Freshness targets of the marts: how old a mart's last build may be before it is late.

Each target is the period of the schedule that rebuilds the mart, plus one period and the
build's own time of slack: `lead_scoring_hourly` (`5 * * * *`) rebuilds every mart of the
warehouse with the features and scores, and `integration_marts_15min` rebuilds the marts over
the integrations' tables (orchestration/jobs.py, orchestration/integrations_observed.py;
tests/monitoring checks these against the Definitions). The event-driven refresh rebuilds
many marts more often, but only when events arrive, so it sets no target.
"""

from __future__ import annotations

HOURLY_SLO = 2 * 3600.0
"""Marts the hourly run rebuilds: late after a missed run and most of the next."""
QUARTER_HOURLY_SLO = 45 * 60.0
"""The integration marts, rebuilt every 15 minutes."""

INTEGRATION_MARTS = frozenset(
    {
        "dash_integrations_daily",
        "fct_sync_retry_queue",
        "fct_sync_run_objects",
        "fct_sync_runs",
        "fct_ticket_enrichments",
        "fct_webhook_deliveries",
    }
)


def freshness_slo(mart: str) -> float:
    """The target age in seconds of mart `mart` (its table name in schema analytics)."""
    return QUARTER_HOURLY_SLO if mart in INTEGRATION_MARTS else HOURLY_SLO
