"""The integrations' jobs, schedules and sensors, gathered for the one `Definitions`."""

from __future__ import annotations

from typing import Any

from . import (
    integrations_conversations,
    integrations_external_sync,
    integrations_observed,
    integrations_tickets,
    integrations_webhooks,
)

_AREAS = (integrations_webhooks, integrations_tickets, integrations_conversations, integrations_external_sync)
JOBS: list[Any] = [j for a in _AREAS for j in a.JOBS]
SCHEDULES: list[Any] = [s for a in _AREAS for s in a.SCHEDULES]
SENSORS: list[Any] = [s for a in _AREAS for s in a.SENSORS]
CHECKS: list[Any] = [*integrations_tickets.CHECKS, *integrations_observed.CHECKS]
JOBS += integrations_observed.JOBS
SCHEDULES += integrations_observed.SCHEDULES
