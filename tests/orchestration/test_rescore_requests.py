"""A tenant rescore asked for through the API is carried out by the ML jobs at the rescore
sensor's next tick (every 5 s), over the built scale-S world: the API records the request, the
sensor asks for a `lead_rescore` run of it (tagged with its tenant, which the instance limits to
one run at a time), and the run scores exactly that tenant's leads and marks the request done
with the rows and method. A run that fails marks it failed with the error; a request left
running by a run that died is taken again past its bound, and one whose run ended before taking
it is failed."""

from __future__ import annotations

from datetime import timedelta

import psycopg
from dagster import (
    DagsterEventType,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_sensor_context,
)
from dagster._core.utils import make_new_run_id

from ml import rescore
from orchestration import keys
from orchestration.rescore import REQUEST_TAG, TENANT_TAG
from orchestration.resources import PostgresResource
from orchestration.sensors import rescore_requests_sensor

SCORES = "select tenant_id::text, count(*), max(scored_at), min(scored_at) from ml.lead_scores group by 1"


def _sql(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def _tick(url: str, instance) -> list[RunRequest] | SkipReason:
    ctx = build_sensor_context(instance=instance, resources={"postgres": PostgresResource(database_url=url)})
    return rescore_requests_sensor(ctx)


def _one_run(url: str, instance, request_id: str) -> RunRequest:
    """The tick asks for exactly one run, of this request."""
    asked = _tick(url, instance)
    assert isinstance(asked, list) and len(asked) == 1, asked
    [req] = asked
    assert req.tags[REQUEST_TAG] == request_id
    return req


def _run(defs, instance, req: RunRequest):
    return defs.resolve_job_def("lead_rescore").execute_in_process(
        run_config=req.run_config, tags=req.tags, instance=instance, raise_on_error=False
    )


def _failures(result) -> list[str]:
    return [
        e.event_specific_data.error.message[:400]
        for e in result.all_events
        if e.event_type == DagsterEventType.STEP_FAILURE
    ]


def test_a_rescore_request_is_carried_out_for_its_tenant_only(
    api, defs, seeded_db: str, dagster_instance
) -> None:
    client, tenant = api
    before = {t: (n, newest) for t, n, newest, _ in _sql(seeded_db, SCORES)}
    assert tenant in before and len(before) > 1
    leads = _sql(
        seeded_db, "select count(*) from analytics.ml_features__leads where tenant_id = %s", (tenant,)
    )[0][0]

    r = client.post("/leads/rescore")
    assert r.status_code == 202, r.text
    asked = r.json()
    assert asked["status"] == "pending"
    assert client.post("/leads/rescore").json()["id"] == asked["id"]  # one waiting request

    req = _one_run(seeded_db, dagster_instance, asked["id"])
    assert req.tags[TENANT_TAG] == tenant and req.run_key == f"{asked['id']}/0"
    result = _run(defs, dagster_instance, req)
    assert result.success, _failures(result)

    done = client.get(asked["links"]["self"]).json()
    assert (done["status"], done["rows"], done["error"]) == ("done", leads, None)
    assert done["method"] in ("model", "rules") and done["methods"] == {done["method"]: leads}
    assert done["started_at"] <= done["finished_at"]
    after = {t: (n, newest, oldest) for t, n, newest, oldest in _sql(seeded_db, SCORES)}
    # every lead of the tenant scored by this run; no other tenant's score touched
    assert after[tenant][0] == leads and after[tenant][2] > before[tenant][1]
    assert {t: v[:2] for t, v in after.items() if t != tenant} == {
        t: v for t, v in before.items() if t != tenant
    }
    [materialized] = result.get_asset_materialization_events()
    assert materialized.asset_key == keys.LEAD_SCORES
    metadata = materialized.event_specific_data.materialization.metadata
    assert metadata["rows"].value == leads and metadata["tenant_id"].value == tenant
    # the write is audited for its tenant only, naming the job and the run
    audited = _sql(
        seeded_db,
        "select tenant_id::text, entity, after->>'job', (after->>'rows')::int from crm.audit_log"
        " where action = 'job.write' and request_id = %s",
        (result.run_id,),
    )
    assert audited == [(tenant, "ml.lead_scores", "dagster lead_rescore", leads)]
    assert isinstance(_tick(seeded_db, dagster_instance), SkipReason)  # nothing due

    # a run that fails (the lead features are gone once it runs) marks the request failed
    failing = client.post("/leads/rescore").json()
    _sql(seeded_db, "alter table analytics.ml_features__leads rename to ml_features__leads_away")
    try:
        req = _one_run(seeded_db, dagster_instance, failing["id"])
        result = _run(defs, dagster_instance, req)
        assert not result.success and _failures(result)  # the run fails with its request
    finally:
        _sql(seeded_db, "alter table analytics.ml_features__leads_away rename to ml_features__leads")
    failed = client.get(failing["links"]["self"]).json()
    assert failed["status"] == "failed" and "ml_features__leads" in failed["error"]
    assert failed["rows"] is None and failed["finished_at"] is not None
    assert isinstance(_tick(seeded_db, dagster_instance), SkipReason)  # not retried: the client asks again


def test_no_request_stays_running_or_pending_for_ever(api, defs, seeded_db: str, dagster_instance) -> None:
    client, tenant = api
    # a request a run took and died with: left running; past the bound it is taken again
    left = client.post("/leads/rescore").json()
    assert rescore.take(seeded_db, left["id"]) == tenant
    assert isinstance(_tick(seeded_db, dagster_instance), SkipReason)  # within the bound: its run may live
    late = rescore.RUNNING_BOUND + timedelta(minutes=1)
    _sql(
        seeded_db,
        "update crm.lead_rescore_requests set started_at = started_at - %s where id = %s",
        (late, left["id"]),
    )
    req = _one_run(seeded_db, dagster_instance, left["id"])
    result = _run(defs, dagster_instance, req)
    assert result.success, _failures(result)
    assert client.get(left["links"]["self"]).json()["status"] == "done"

    # a request whose run ended before it could take it (cancelled in the queue) is failed
    waiting = client.post("/leads/rescore").json()
    req = _one_run(seeded_db, dagster_instance, waiting["id"])
    dagster_instance.add_run(
        DagsterRun(
            job_name="lead_rescore",
            run_id=make_new_run_id(),
            run_config=req.run_config,
            tags=req.tags,
            status=DagsterRunStatus.CANCELED,
        )
    )
    assert isinstance(_tick(seeded_db, dagster_instance), SkipReason)
    failed = client.get(waiting["links"]["self"]).json()
    assert failed["status"] == "failed" and "canceled before it took the request" in failed["error"]
