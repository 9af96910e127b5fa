"""The event-driven sensors and the schedules, evaluated with Dagster's test contexts against a
real Postgres (rows are landed straight into raw.*, as the lander would) and a Dagster instance
holding the runs they asked for, with the outcome each had."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import psycopg
import pytest
from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
)
from dagster._core.utils import make_new_run_id
from psycopg.types.json import Jsonb

from orchestration.event_window import EventWindow
from orchestration.landing import newest_landing_times
from orchestration.resources import PostgresResource
from orchestration.schedules import SCHEDULES
from orchestration.sensors import new_events_sensor, refreshed_marts_sensor


def _land(url: str, table: str, n: int = 1, payload: dict | None = None) -> None:
    with psycopg.connect(url) as conn:
        for _ in range(n):
            conn.execute(
                f"insert into raw.{table} (event_id, tenant_id, event_type, schema_version, occurred_at, source, payload)"
                " values (%s, %s, 'test.event', 1, now(), 'test', %s)",
                (uuid.uuid4(), uuid.uuid4(), Jsonb(payload or {})),
            )


def _tick(url: str, cursor: str | None, instance: DagsterInstance):
    ctx = build_sensor_context(
        cursor=cursor, instance=instance, resources={"postgres": PostgresResource(database_url=url)}
    )
    return new_events_sensor(ctx), ctx.cursor


def _ran(instance: DagsterInstance, job: str, req: RunRequest, status: DagsterRunStatus) -> None:
    """Record the run a sensor asked for as the daemon would, with its outcome."""
    instance.add_run(
        DagsterRun(
            job_name=job, run_id=make_new_run_id(), run_config=req.run_config, tags=req.tags, status=status
        )
    )


def _window(req: RunRequest) -> dict:
    return req.run_config["resources"]["event_window"]["config"]


def test_new_events_sensor_asks_for_one_refresh_per_window(migrated_db: str) -> None:
    instance = DagsterInstance.ephemeral()
    _land(migrated_db, "lead_activities")
    result, cursor = _tick(migrated_db, None, instance)
    assert isinstance(result, SkipReason) and "baseline" in (result.skip_message or "")
    baseline = json.loads(cursor)
    assert "lead_activities" in baseline

    result, cursor2 = _tick(migrated_db, cursor, instance)
    assert isinstance(result, SkipReason)  # nothing new
    assert cursor2 == cursor

    _land(migrated_db, "web_events", 3)
    _land(migrated_db, "lead_activities")
    req, _ = _tick(migrated_db, cursor, instance)
    assert isinstance(req, RunRequest)
    assert req.tags["crm/new_lanes"] == "lead_activities,web_events"
    window = _window(req)
    assert window["since"]["lead_activities"] == baseline["lead_activities"]
    assert window["until"]["lead_activities"] > baseline["lead_activities"]
    assert "web_events" not in window["since"]  # a lane seen for the first time: from its beginning

    # while the run is queued or running, events keep landing and nothing more is asked
    _ran(instance, "event_refresh", req, DagsterRunStatus.STARTED)
    _land(migrated_db, "lead_activities")
    busy, _ = _tick(migrated_db, cursor, instance)
    assert isinstance(busy, SkipReason) and "grows" in (busy.skip_message or "")

    # it succeeded: the next window starts where it ended and holds what landed meanwhile
    _ran(instance, "event_refresh", req, DagsterRunStatus.SUCCESS)
    nxt, _ = _tick(migrated_db, cursor, instance)
    assert isinstance(nxt, RunRequest)
    assert _window(nxt)["since"]["lead_activities"] == window["until"]["lead_activities"]
    assert nxt.tags["crm/new_lanes"] == "lead_activities"

    # it failed: its window is taken again, with what landed since
    _ran(instance, "event_refresh", nxt, DagsterRunStatus.FAILURE)
    again, _ = _tick(migrated_db, cursor, instance)
    assert isinstance(again, RunRequest)
    assert _window(again)["since"] == _window(nxt)["since"]
    # nothing landed since: the same window, asked under a new key (the daemon runs a key once)
    assert _window(again) == _window(nxt) and again.run_key != nxt.run_key

    _ran(instance, "event_refresh", again, DagsterRunStatus.SUCCESS)
    done, _ = _tick(migrated_db, cursor, instance)
    assert isinstance(done, SkipReason)


def test_refreshed_marts_sensor_rescores_what_each_refresh_took_in(migrated_db: str) -> None:
    instance = DagsterInstance.ephemeral()
    nothing = refreshed_marts_sensor(build_sensor_context(instance=instance))
    assert isinstance(nothing, SkipReason)

    _land(migrated_db, "lead_activities")
    _, cursor = _tick(migrated_db, None, instance)
    _land(migrated_db, "lead_activities")
    refresh, _ = _tick(migrated_db, cursor, instance)
    assert isinstance(refresh, RunRequest)
    _ran(instance, "event_refresh", refresh, DagsterRunStatus.STARTED)
    assert isinstance(refreshed_marts_sensor(build_sensor_context(instance=instance)), SkipReason)

    _ran(instance, "event_refresh", refresh, DagsterRunStatus.SUCCESS)
    rescore = refreshed_marts_sensor(build_sensor_context(instance=instance))
    assert isinstance(rescore, RunRequest)
    assert _window(rescore) == _window(refresh)  # exactly the events the marts took in

    _ran(instance, "event_rescore", rescore, DagsterRunStatus.FAILURE)
    retry = refreshed_marts_sensor(build_sensor_context(instance=instance))
    assert isinstance(retry, RunRequest) and _window(retry) == _window(refresh)
    assert retry.run_key != rescore.run_key

    _ran(instance, "event_rescore", retry, DagsterRunStatus.SUCCESS)
    assert isinstance(refreshed_marts_sensor(build_sensor_context(instance=instance)), SkipReason)


def test_event_window_names_the_entities_of_its_events(migrated_db: str) -> None:
    """Ids come from the payloads (`<kind>_id`) and, for API changes, from the entity and the
    row it wrote; lanes that received nothing in the window are not read."""
    lead, deal, customer = (str(uuid.uuid4()) for _ in range(3))
    _land(migrated_db, "lead_activities", payload={"lead_id": lead})
    _land(migrated_db, "tickets", payload={"customer_id": customer, "lead_id": None})
    _land(
        migrated_db,
        "crm_changes",
        payload={
            "entity": "deal",
            "entity_id": deal,
            "after": {"customer_id": customer, "lead_id": "not-a-uuid"},
        },
    )
    pg = PostgresResource(database_url=migrated_db)
    newest = newest_landing_times(pg)
    touched = EventWindow(since={}, until=newest).touched(pg)
    ids = {kind: set().union(*by_tenant.values()) for kind, by_tenant in touched.ids.items()}
    assert ids == {"lead": {lead}, "deal": {deal}, "customer": {customer}}
    assert EventWindow(since=newest, until=newest).touched(pg).counts() == {
        "lead": 0,
        "deal": 0,
        "customer": 0,
    }
    assert not EventWindow().limited


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
