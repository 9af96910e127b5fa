"""Events that name a lead or deal before the CRM has it never break a refresh: real Dagster runs
of `incremental_refresh` on a built scale-S warehouse keep them waiting (the unbound-events
check warns, every blocking check passes), and the run after the lead and deal arrive binds
them into the facts, once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterEventType

from crm.settings import get_settings

pytestmark = pytest.mark.slow

LEAD_CHECK = "intermediate__int_lead_activity_events_unbound_events"


@pytest.fixture(scope="module")
def warehouse_db(create_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """A scale-S world landed into raw.* and built by dbt (its tests run later, as the job's
    checks)."""
    from crm import migrate
    from sim import seed_world
    from warehouse.dbt import run_dbt

    url = create_database("crm_late")
    migrate.upgrade(url)
    seed_world(scale="S", seed=42, database_url=url, sink="raw", progress=False)
    target = tmp_path_factory.mktemp("dbt-late")
    done = run_dbt(
        ["build", "--exclude", "resource_type:test"],
        url,
        target_path=target,
        log_path=target,
        check=False,
        capture=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    return url


@pytest.fixture
def as_dagster_db(warehouse_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The Dagster resources read DATABASE_URL when a run starts."""
    monkeypatch.setenv("DATABASE_URL", warehouse_db)
    get_settings.cache_clear()
    yield warehouse_db
    get_settings.cache_clear()


def _sql(url: str, query: str, *params: object) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params or None)
        return cur.fetchall() if cur.description else []


def _land(url: str, table: str, tenant: uuid.UUID, event_type: str, payload: dict, source: str) -> uuid.UUID:
    event_id = uuid.UUID(str(payload.get("activity_id") or uuid.uuid4()))
    _sql(
        url,
        f"insert into raw.{table} (event_id, tenant_id, event_type, schema_version, occurred_at, source, payload)"
        " values (%s, %s, %s, 1, now() - interval '1 hour', %s, %s)",
        event_id,
        tenant,
        event_type,
        source,
        json.dumps(payload),
    )
    return event_id


def _refresh(defs, instance, run_config: dict | None = None):
    result = defs.resolve_job_def("incremental_refresh").execute_in_process(
        instance=instance, raise_on_error=False, run_config=run_config or {}
    )
    failures = [
        f"{e.step_key}: {e.event_specific_data.error.message[:400]}"
        for e in result.all_events
        if e.event_type == DagsterEventType.STEP_FAILURE
    ]
    assert result.success, failures
    checks = result.get_asset_check_evaluations()
    blocking = [
        (c.asset_key.to_user_string(), c.check_name)
        for c in checks
        if not c.passed and c.severity == AssetCheckSeverity.ERROR
    ]
    assert not blocking, blocking
    return {(c.asset_key.path[-1], c.check_name): c for c in checks}


def test_orphan_events_wait_then_bind_with_the_graph_green(
    defs, dagster_instance, as_dagster_db: str, tmp_path: Path
) -> None:
    url = as_dagster_db
    tenant, pipeline = _sql(url, "select tenant_id, id from crm.sales_pipelines where is_default limit 1")[0]
    lead, deal = uuid.uuid4(), uuid.uuid4()
    facts_before = _sql(url, "select count(*) from analytics.fct_lead_activities")[0][0]
    # the ticketing system reports a lead's e-mail engagement and a deal's progress first
    lead_events = [
        _land(
            url,
            "lead_activities",
            tenant,
            "lead.email_opened",
            {"activity_id": str(uuid.uuid4()), "lead_id": str(lead), "email_id": f"em-{i}"},
            "ticketing",
        )
        for i in range(3)
    ]
    deal_events = [
        _land(
            url,
            "deal_activities",
            tenant,
            "deal.created",
            {
                "activity_id": str(uuid.uuid4()),
                "deal_id": str(deal),
                "name": "Early deal",
                "value": "500",
                "pipeline_id": str(pipeline),
                "stage": "Prospecting",
            },
            "ticketing",
        ),
        _land(
            url,
            "deal_activities",
            tenant,
            "deal.stage_changed",
            {
                "activity_id": str(uuid.uuid4()),
                "deal_id": str(deal),
                "from_stage": "Prospecting",
                "to_stage": "Qualification",
                "probability": 20,
            },
            "ticketing",
        ),
    ]
    # an event naming another tenant's lead never binds to it
    foreign = _sql(url, "select id from crm.leads where tenant_id <> %s limit 1", tenant)[0][0]
    _land(
        url,
        "lead_activities",
        tenant,
        "lead.email_opened",
        {"activity_id": str(uuid.uuid4()), "lead_id": str(foreign), "email_id": "em-x"},
        "ticketing",
    )

    checks = _refresh(defs, dagster_instance, {"ops": {LEAD_CHECK: {"config": {"max_events": 2}}}})
    waiting = checks[("int_lead_activity_events", "unbound_events")]
    assert not waiting.passed and waiting.severity == AssetCheckSeverity.WARN  # 4 > 2: a warning only
    assert waiting.metadata["unbound_events"].value == 4 and waiting.metadata["unknown_leads"].value == 2
    deals_waiting = checks[("int_deal_activity_events", "unbound_events")]
    assert deals_waiting.passed and deals_waiting.metadata["unbound_events"].value == 2
    assert checks[("fct_lead_activities", "reconciles_with_raw_lead_activities")].passed
    assert _sql(url, "select count(*) from analytics.fct_lead_activities")[0][0] == facts_before
    assert not _sql(url, "select 1 from analytics.fct_deal_stage_transitions where deal_id = %s", deal)

    # the lead and the deal arrive in the CRM: the next run binds their events, once
    _sql(
        url,
        "insert into crm.leads (id, tenant_id, email, source, status) values (%s, %s, 'late@x.test', 'w', 'NEW')",
        lead,
        tenant,
    )
    _sql(
        url,
        "insert into crm.deals (id, tenant_id, name, value, stage, pipeline_id, probability, lead_id)"
        " values (%s, %s, 'Early deal', 500, 'Qualification', %s, 20, %s)",
        deal,
        tenant,
        pipeline,
        lead,
    )
    checks = _refresh(defs, dagster_instance)
    related = {
        fact: [
            c.passed
            for (asset, name), c in checks.items()
            if asset == fact and name.startswith("relationships")
        ]
        for fact in ("fct_lead_activities", "fct_deal_stage_transitions")
    }
    assert related == {"fct_lead_activities": [True], "fct_deal_stage_transitions": [True]}
    assert checks[("int_lead_activity_events", "unbound_events")].metadata["unbound_events"].value == 1
    assert checks[("int_deal_activity_events", "unbound_events")].metadata["unbound_events"].value == 0
    assert checks[("fct_lead_activities", "reconciles_with_raw_lead_activities")].passed
    held = _sql(url, "select event_id from analytics.fct_lead_activities where lead_id = %s", lead)
    assert sorted(r[0] for r in held) == sorted(lead_events)
    assert _sql(url, "select activity_count from analytics.dim_leads where lead_id = %s", lead) == [(3,)]
    stages = _sql(
        url,
        "select transition_id, stage_name from analytics.fct_deal_stage_transitions"
        " where deal_id = %s order by stage_sequence",
        deal,
    )
    assert stages == [(deal_events[0], "Prospecting"), (deal_events[1], "Qualification")]
    assert _sql(url, "select stages_entered from analytics.fct_deals where deal_id = %s", deal) == [(2,)]

    # a run with nothing new changes nothing
    _refresh(defs, dagster_instance)
    assert _sql(url, "select count(*) from analytics.fct_lead_activities where lead_id = %s", lead) == [(3,)]


def test_every_job_refreshing_an_event_fact_refreshes_its_store_and_dimension(defs) -> None:
    """A fact takes in only what its event store bound, and its relationship test compares it with
    a dimension: a job building the fact without them would leave it behind, or fail the test."""
    from orchestration import jobs
    from orchestration.keys import mart_key

    needs = {
        mart_key("fct_lead_activities"): {
            AssetKey(["intermediate", "int_lead_activity_events"]),
            mart_key("dim_leads"),
        },
        mart_key("fct_deal_stage_transitions"): {
            AssetKey(["intermediate", "int_deal_activity_events"]),
            mart_key("fct_deals"),
        },
    }
    graph = defs.resolve_asset_graph()
    for job in jobs.JOBS:
        if not hasattr(job, "selection"):
            continue  # an op job (the tenant rescore) builds no mart
        selected = job.selection.resolve(graph)
        for fact, with_it in needs.items():
            assert fact not in selected or with_it <= selected, (job.name, fact.to_user_string())
