"""Dagster jobs, schedules and sensors of the integrations (conversations); the steps are
`integrations.conversations`'s."""

from __future__ import annotations

from typing import Any

JOBS: list[Any] = []
SCHEDULES: list[Any] = []
SENSORS: list[Any] = []
