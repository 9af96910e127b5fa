"""A segment recalculation asked for through the API acts at the stale-segment sensor's next
tick (every 5 s), over the built scale-S world: the API marks the segment stale, the sensor asks
for a `segment_refresh` of it, the run writes its members and clears the flag. The seed's
recovery strategy when it fails: the cached memberships stay, the segment stays stale with its
error, and the sensor retries it a minute later (not at every tick)."""

from __future__ import annotations

from datetime import timedelta

import psycopg
from dagster import DagsterEventType, RunRequest, SkipReason, build_sensor_context

from orchestration.resources import PostgresResource
from orchestration.sensors import stale_segments_sensor
from warehouse.segments import RETRY_AFTER

ACTIVE = {"field": "lifecycle_stage", "op": "eq", "value": "ACTIVE"}


def _tick(url: str, instance):
    ctx = build_sensor_context(instance=instance, resources={"postgres": PostgresResource(database_url=url)})
    return stale_segments_sensor(ctx)


def _run(defs, instance, req: RunRequest) -> None:
    result = defs.resolve_job_def("segment_refresh").execute_in_process(
        run_config=req.run_config, tags=req.tags, instance=instance, raise_on_error=False
    )
    failures = [
        e.event_specific_data.error.message[:400]
        for e in result.all_events
        if e.event_type == DagsterEventType.STEP_FAILURE
    ]
    assert result.success, failures


def _sql(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def _members(url: str, segment: str) -> set[str]:
    rows = _sql(
        url,
        "select customer_id::text from crm.customer_segment_memberships where segment_id = %s",
        (segment,),
    )
    return {r[0] for r in rows}


def test_a_request_is_acted_on_at_the_next_tick_and_a_failure_keeps_the_members(
    api, defs, seeded_db: str, dagster_instance
) -> None:
    client, tenant = api
    active = {
        r[0]
        for r in _sql(
            seeded_db,
            "select customer_id::text from analytics.dim_customers d where tenant_id = %s"
            " and lifecycle_stage = 'ACTIVE' and exists (select 1 from crm.customers c where c.id = d.customer_id)",
            (tenant,),
        )
    }
    assert active

    # a new segment waits for its first calculation; the next tick asks for it, the run does it
    created = client.post("/segments", json={"name": "Active customers", "criteria": ACTIVE})
    assert created.status_code == 201, created.text
    segment = created.json()["id"]
    assert created.json()["is_stale"] is True
    req = _tick(seeded_db, dagster_instance)
    assert isinstance(req, RunRequest)
    assert segment in req.run_config["ops"]["crm__customer_segment_memberships"]["config"]["segment_ids"]
    _run(defs, dagster_instance, req)
    body = client.get(f"/segments/{segment}").json()
    assert (body["is_stale"], body["customer_count"], body["last_error"]) == (False, len(active), None)
    assert _members(seeded_db, segment) == active
    assert isinstance(_tick(seeded_db, dagster_instance), SkipReason)

    # a recalculation request: stale at once, the members stay until the run
    asked = client.post(f"/segments/{segment}/recalculate")
    assert asked.status_code == 202, asked.text
    assert (asked.json()["is_stale"], asked.json()["customer_count"]) == (True, len(active))
    assert _members(seeded_db, segment) == active

    # ... and the recalculation fails (the customer mart is gone): the cached members stay, the
    # segment stays stale with its error, and the sensor does not retry it at every tick
    _sql(seeded_db, "alter table analytics.dim_customers rename to dim_customers_away")
    try:
        req = _tick(seeded_db, dagster_instance)
        assert isinstance(req, RunRequest)
        _run(defs, dagster_instance, req)
        failed = client.get(f"/segments/{segment}").json()
        assert failed["is_stale"] is True and failed["customer_count"] == len(active)
        assert "dim_customers" in failed["last_error"]
        assert _members(seeded_db, segment) == active
        assert isinstance(_tick(seeded_db, dagster_instance), SkipReason)
    finally:
        _sql(seeded_db, "alter table analytics.dim_customers_away rename to dim_customers")

    # a minute later the retry is due, and succeeds
    _sql(
        seeded_db,
        "update crm.customer_segments set updated_at = updated_at - %s where id = %s",
        (RETRY_AFTER + timedelta(seconds=1), segment),
    )
    req = _tick(seeded_db, dagster_instance)
    assert isinstance(req, RunRequest)
    _run(defs, dagster_instance, req)
    body = client.get(f"/segments/{segment}").json()
    assert (body["is_stale"], body["customer_count"], body["last_error"]) == (False, len(active), None)
