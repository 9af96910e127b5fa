"""Dagster jobs, schedules and sensors of the integrations (tickets); the steps are
`integrations.tickets`'s."""

from __future__ import annotations

from typing import Any

JOBS: list[Any] = []
SCHEDULES: list[Any] = []
SENSORS: list[Any] = []
