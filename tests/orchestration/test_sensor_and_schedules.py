"""The new-events sensor and the schedules, evaluated with Dagster's test contexts against a real
Postgres (rows are landed straight into raw.*, as the lander would)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import psycopg
import pytest
from dagster import RunRequest, SkipReason, build_schedule_context, build_sensor_context

from orchestration.resources import PostgresResource
from orchestration.schedules import SCHEDULES
from orchestration.sensors import new_events_sensor


def _land(url: str, table: str, n: int = 1) -> None:
    with psycopg.connect(url) as conn:
        for _ in range(n):
            conn.execute(
                f"insert into raw.{table} (event_id, tenant_id, event_type, schema_version, occurred_at, source, payload)"
                " values (%s, %s, 'test.event', 1, now(), 'test', '{}'::jsonb)",
                (uuid.uuid4(), uuid.uuid4()),
            )


def _tick(url: str, cursor: str | None):
    ctx = build_sensor_context(cursor=cursor, resources={"postgres": PostgresResource(database_url=url)})
    return new_events_sensor(ctx), ctx.cursor


def test_sensor_records_baseline_then_fires_once_per_batch(migrated_db: str) -> None:
    _land(migrated_db, "lead_activities")
    result, cursor = _tick(migrated_db, None)
    assert isinstance(result, SkipReason) and "baseline" in (result.skip_message or "")
    assert "lead_activities" in json.loads(cursor)

    result, cursor2 = _tick(migrated_db, cursor)
    assert isinstance(result, SkipReason)  # nothing new
    assert cursor2 == cursor

    _land(migrated_db, "web_events", 3)
    _land(migrated_db, "lead_activities")
    result, cursor3 = _tick(migrated_db, cursor)
    assert isinstance(result, RunRequest)
    assert result.tags["crm/new_lanes"] == "lead_activities,web_events"
    assert json.loads(cursor3).keys() >= {"lead_activities", "web_events"}

    again, _ = _tick(migrated_db, cursor3)
    assert isinstance(again, SkipReason)


@pytest.mark.parametrize(
    ("name", "job", "cron"),
    [
        ("lead_scoring_hourly", "lead_scoring", "5 * * * *"),
        ("customer_health_daily", "customer_health", "30 2 * * *"),
        ("forecast_retrain_weekly", "weekly_retrain", "0 4 * * 1"),
        ("observe_landing_15min", "observe_landing", "*/15 * * * *"),
    ],
)
def test_schedules_request_their_jobs(name: str, job: str, cron: str) -> None:
    schedule = next(s for s in SCHEDULES if s.name == name)
    assert schedule.cron_schedule == cron
    assert schedule.job_name == job
    when = dt.datetime(2026, 11, 23, 4, 5, tzinfo=dt.UTC)
    data = schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=when))
    assert len(data.run_requests or []) == 1
