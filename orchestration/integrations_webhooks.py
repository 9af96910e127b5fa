"""Dagster jobs, schedules and sensors of the integrations (webhooks); the steps are
`integrations.webhooks`'s."""

from __future__ import annotations

from typing import Any

JOBS: list[Any] = []
SCHEDULES: list[Any] = []
SENSORS: list[Any] = []
