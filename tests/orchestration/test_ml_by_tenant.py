"""ML per tenant: the `tenant_partitions` sensor makes a partition of every tenant, and one
`ml_by_tenant` run (the multiprocess executor, a real instance on disk, steps in their own
processes) trains, promotes and scores that tenant's four models and touches no other
tenant's rows."""

from __future__ import annotations

from datetime import datetime

import psycopg
from dagster import DagsterEventType, build_sensor_context, execute_job, reconstructable

from orchestration import ml_tenants
from orchestration.resources import PostgresResource


def _one(url: str, sql: str, params: tuple = ()):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()


def _per_tenant(url: str, sql: str, params: tuple = ()) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {str(t): n for t, n in conn.execute(sql, params).fetchall()}


def test_the_sensor_makes_a_partition_per_tenant(full_run, seeded_db: str, dagster_instance) -> None:
    with psycopg.connect(seeded_db) as conn:
        tenants = {str(r[0]) for r in conn.execute("select id from crm.tenants")}
    context = build_sensor_context(
        instance=dagster_instance, resources={"postgres": PostgresResource(database_url=seeded_db)}
    )
    result = ml_tenants.tenant_partitions_sensor(context)
    requests = result.dynamic_partitions_requests or []
    assert [(r.partitions_def_name, set(r.partition_keys)) for r in requests] == [("tenants", tenants)]
    for request in requests:
        dagster_instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    # the second pass sees nothing new
    again = ml_tenants.tenant_partitions_sensor(
        build_sensor_context(
            instance=dagster_instance, resources={"postgres": PostgresResource(database_url=seeded_db)}
        )
    )
    assert not getattr(again, "dynamic_partitions_requests", None)


def test_one_tenants_run_trains_and_scores_that_tenant_only(
    full_run, seeded_db: str, dagster_instance
) -> None:
    with psycopg.connect(seeded_db) as conn:
        tenant, other = (str(r[0]) for r in conn.execute("select id from crm.tenants order by id limit 2"))
    dagster_instance.add_dynamic_partitions("tenants", [tenant, other])
    started: datetime = _one(seeded_db, "select now()")[0]

    with execute_job(
        reconstructable(ml_tenants.resolved_job),
        instance=dagster_instance,
        tags={"dagster/partition": tenant},
    ) as result:
        assert result.success, [
            e.event_specific_data.error.message[:400]
            for e in result.all_events
            if e.event_type == DagsterEventType.STEP_FAILURE
        ]
        steps = {e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_SUCCESS}
        pids = {e.pid for e in result.all_events if e.event_type == DagsterEventType.STEP_START}

    assert steps == {f"{m}_for_tenant" for m in ml_tenants.MODELS}
    assert len(pids) > 1, "the steps did not run in their own processes"

    # the run's tenant has new candidates of each model and fresh scores; the other tenant none
    trained = _per_tenant(
        seeded_db,
        "select tenant_id, count(distinct name) from ml.model_versions where created_at >= %s group by 1",
        (started,),
    )
    assert set(trained) <= {tenant}
    assert trained.get(tenant, 0) >= 1
    for table in ("ml.lead_scores", "ml.deal_probabilities", "ml.churn_predictions"):
        fresh = _per_tenant(
            seeded_db, f"select tenant_id, count(*) from {table} where scored_at >= %s group by 1", (started,)
        )
        assert set(fresh) == {tenant}, (table, fresh)
    forecasts = _per_tenant(
        seeded_db,
        "select tenant_id, count(*) from ml.revenue_forecasts where created_at >= %s group by 1",
        (started,),
    )
    assert set(forecasts) == {tenant}
