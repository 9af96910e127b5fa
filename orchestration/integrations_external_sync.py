"""Dagster jobs, schedules and sensors of the integrations (external sync); the steps are
`integrations.external_sync`'s."""

from __future__ import annotations

from typing import Any

JOBS: list[Any] = []
SCHEDULES: list[Any] = []
SENSORS: list[Any] = []
