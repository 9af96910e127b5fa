"""The event-driven loop over the built scale-S world, run as the sensors ask, in process against
real Postgres and dbt: events land in raw.* (as the lander lands them; an API write lands as its
crm-changes event beside the row it wrote), `new_events_sensor` asks for an `event_refresh` over
them, `refreshed_marts_sensor` for the `event_rescore` after it. The marts take the events in,
and exactly the leads, deals and customers they name are rescored (leads and deals by the refresh
itself) and re-evaluated for their segments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
import pytest
from dagster import AssetCheckSeverity, DagsterEventType, RunRequest, SkipReason, build_sensor_context
from psycopg.types.json import Jsonb

from orchestration.resources import PostgresResource
from orchestration.sensors import (
    SEGMENTS_MARK,
    new_events_sensor,
    refreshed_checks_sensor,
    refreshed_marts_sensor,
)
from warehouse.segments import recalculate_segment


@dataclass
class Loop:
    defs: object
    url: str
    instance: object
    cursor: str | None = None
    results: list = field(default_factory=list)

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def new_events(self):
        ctx = build_sensor_context(
            cursor=self.cursor,
            instance=self.instance,
            resources={"postgres": PostgresResource(database_url=self.url)},
        )
        result = new_events_sensor(ctx)
        self.cursor = ctx.cursor
        return result

    def refreshed_marts(self):
        return refreshed_marts_sensor(build_sensor_context(instance=self.instance))

    def refreshed_checks(self):
        return refreshed_checks_sensor(build_sensor_context(instance=self.instance))

    def run(self, job: str, req: RunRequest):
        """The run the daemon would launch for `req` (its config and tags)."""
        result = self.defs.resolve_job_def(job).execute_in_process(
            run_config=req.run_config, tags=req.tags, instance=self.instance, raise_on_error=False
        )
        failures = [
            f"{e.step_key}: {e.event_specific_data.error.message[:400]}"
            for e in result.all_events
            if e.event_type == DagsterEventType.STEP_FAILURE
        ]
        assert result.success, failures
        errors = [
            (c.asset_key.to_user_string(), c.check_name)
            for c in result.get_asset_check_evaluations()
            if not c.passed and c.severity == AssetCheckSeverity.ERROR
        ]
        assert not errors
        self.results.append(result)
        return result

    def land(self, table: str, tenant: str, event_type: str, payload: dict) -> str:
        event_id = str(uuid.uuid4())
        self.sql(
            f"insert into raw.{table} (event_id, tenant_id, event_type, schema_version, occurred_at, source,"
            " payload) values (%s, %s, %s, 1, now(), 'test', %s)",
            (event_id, tenant, event_type, Jsonb(payload)),
        )
        return event_id

    def api_change(self, tenant: str, entity: str, entity_id: str, action: str, after: dict) -> str:
        """What an API write lands as: its crm-changes event (the row is written by the caller)."""
        payload = {
            "entity": entity,
            "entity_id": entity_id,
            "action": action,
            "actor_id": None,
            "actor_type": "system",
            "before": None,
            "after": after,
            "changed_fields": sorted(after),
        }
        return self.land("crm_changes", tenant, f"crm.{entity}.{action}", payload)

    def scored_since(self, table: str, key: str, since: datetime) -> set[str]:
        return {r[0] for r in self.sql(f"select {key}::text from ml.{table} where scored_at >= %s", (since,))}


@pytest.fixture(scope="module")
def loop(defs, full_run, seeded_db: str, dagster_instance) -> Loop:
    _, built = full_run
    assert built.success, "the whole graph did not build"
    loop = Loop(defs, seeded_db, dagster_instance)
    baseline = loop.new_events()
    assert isinstance(baseline, SkipReason) and "baseline" in (baseline.skip_message or "")
    return loop


def test_new_events_refresh_the_marts_then_rescore_only_what_they_name(loop: Loop) -> None:
    lead, tenant = loop.sql(
        "select l.lead_id::text, l.tenant_id::text from analytics.dim_leads l"
        " join ml.lead_scores s using (lead_id) order by l.lead_id limit 1"
    )[0]
    (deal,) = loop.sql(
        "select deal_id::text from analytics.ml_features__deals where status = 'open' and tenant_id = %s"
        " order by deal_id limit 1",
        (tenant,),
    )[0]
    customer, mrr_above_all = loop.sql(
        "select c.customer_id::text, (select max(mrr) from analytics.dim_customers d"
        "  where d.tenant_id = c.tenant_id) + 1"
        " from analytics.ml_features__customers_current c"
        " join ml.churn_predictions p using (customer_id)"
        " where c.tenant_id = %s and c.is_active_at_snapshot order by c.customer_id limit 1",
        (tenant,),
    )[0]
    # a segment nobody is in yet, which the customer's change will put them in
    segment = str(uuid.uuid4())
    loop.sql(
        "insert into crm.customer_segments (id, tenant_id, name, criteria) values (%s, %s, 'top payers', %s)",
        (segment, tenant, Jsonb({"field": "mrr", "op": "gte", "value": float(mrr_above_all)})),
    )
    first = recalculate_segment(PostgresResource(database_url=loop.url).engine(), segment)
    assert first.ok and first.customer_count == 0
    (started,) = loop.sql("select now()")[0]

    # events: an activity of the lead, a note on the deal; API writes: a new lead, a customer's MRR
    activity = loop.land(
        "lead_activities",
        tenant,
        "lead.call_answered",
        {
            "type": "CALL_ANSWERED",
            "lead_id": lead,
            "user_id": None,
            "activity_id": str(uuid.uuid4()),
            "description": "Call connected",
            "duration_seconds": 300,
        },
    )
    loop.land(
        "deal_activities",
        tenant,
        "deal.note_added",
        {
            "type": "NOTE_ADDED",
            "deal_id": deal,
            "user_id": None,
            "activity_id": str(uuid.uuid4()),
            "note": "Asked for a second demo",
            "description": "Note added",
        },
    )
    new_lead = str(uuid.uuid4())
    loop.sql(
        "insert into crm.leads (id, tenant_id, email, first_name, company, source)"
        " values (%s, %s, %s, 'Ada', 'Fresh Co', 'WEBSITE')",
        (new_lead, tenant, f"ada+{new_lead[:8]}@fresh.example"),
    )
    loop.api_change(tenant, "lead", new_lead, "created", {"id": new_lead, "email": "ada@fresh.example"})
    loop.sql("update crm.customers set mrr = %s where id = %s", (mrr_above_all, customer))
    loop.api_change(tenant, "customer", customer, "updated", {"id": customer, "mrr": str(mrr_above_all)})

    refresh = loop.new_events()
    assert isinstance(refresh, RunRequest)
    # the segment's first calculation is a change too: the marts over memberships take it in
    assert set(refresh.tags["crm/new_lanes"].split(",")) == {
        "crm_changes",
        "deal_activities",
        "lead_activities",
        SEGMENTS_MARK,
    }
    loop.run("event_refresh", refresh)
    assert loop.sql(
        "select count(*) from analytics.fct_lead_activities where event_id = %s", (activity,)
    ) == [(1,)]
    assert loop.sql("select count(*) from analytics.dim_leads where lead_id = %s", (new_lead,)) == [(1,)]
    assert loop.sql("select mrr from analytics.dim_customers where customer_id = %s", (customer,)) == [
        (mrr_above_all,)
    ]
    assert isinstance(loop.new_events(), SkipReason)  # nothing new: no second refresh
    # the refresh scored the leads and deals its events name itself; customers wait for the rescore
    assert loop.scored_since("lead_scores", "lead_id", started) == {lead, new_lead}
    assert loop.scored_since("deal_probabilities", "deal_id", started) == {deal}
    assert loop.scored_since("churn_predictions", "customer_id", started) == set()

    rescore = loop.refreshed_marts()
    assert isinstance(rescore, RunRequest)
    assert rescore.run_config == refresh.run_config  # exactly the window the marts took in
    loop.run("event_rescore", rescore)

    # only the entities the events named were rescored, with the models' or the rules' rows
    assert loop.scored_since("lead_scores", "lead_id", started) == {lead, new_lead}
    assert loop.scored_since("deal_probabilities", "deal_id", started) == {deal}
    assert loop.scored_since("churn_predictions", "customer_id", started) == {customer}
    assert loop.sql("select count(*) from analytics.fct_lead_scores where lead_id = %s", (new_lead,)) == [
        (1,)
    ]
    members = loop.sql(
        "select customer_id::text from crm.customer_segment_memberships where segment_id = %s", (segment,)
    )
    assert members == [(customer,)]
    count, stale = loop.sql(
        "select customer_count, is_stale from crm.customer_segments where id = %s", (segment,)
    )[0]
    assert (count, stale) == (1, False)
    assert loop.sql(
        "select count(*) from analytics.fct_segment_memberships where segment_id = %s", (segment,)
    ) == [(1,)]
    assert isinstance(loop.refreshed_marts(), SkipReason)


def test_a_refresh_scores_what_landed_while_it_started(loop: Loop) -> None:
    """A write landing after the sensor asked for a refresh, before the run's dbt step, is in the
    marts that step builds: the same run rescores its lead (not the next one)."""
    (first, tenant), (late, _) = loop.sql(
        "select lead_id::text, tenant_id::text from ml.lead_scores"
        " where tenant_id = (select tenant_id from ml.lead_scores order by lead_id limit 1)"
        " order by lead_id desc limit 2"
    )
    (started,) = loop.sql("select now()")[0]

    def call(lead: str) -> str:
        activity = str(uuid.uuid4())
        loop.land(
            "lead_activities",
            tenant,
            "lead.call_made",
            {
                "type": "CALL_MADE",
                "lead_id": lead,
                "user_id": None,
                "activity_id": activity,
                "description": "Call made",
            },
        )
        return activity

    call(first)
    refresh = loop.new_events()
    assert isinstance(refresh, RunRequest)
    late_call = call(late)  # the run is queued or starting: outside the window it was given
    loop.run("event_refresh", refresh)
    assert loop.sql(
        "select count(*) from analytics.fct_lead_activities where activity_id = %s", (late_call,)
    ) == [(1,)]
    assert loop.scored_since("lead_scores", "lead_id", started) == {first, late}


def test_the_checks_run_after_the_refresh_off_its_path(loop: Loop) -> None:
    """The refresh and the rescoring build and score without testing (their data tests held a
    write's mart back by seconds): the checks sensor asks for one run of the checks of all they
    built after them, which materializes nothing, and for none until something new succeeded,
    once a minute at most."""
    lead, tenant = loop.sql(
        "select lead_id::text, tenant_id::text from analytics.dim_leads order by lead_id limit 1"
    )[0]
    payload = {"type": "CALL_MADE", "lead_id": lead, "user_id": None, "description": "Call made"}
    loop.land("lead_activities", tenant, "lead.call_made", payload | {"activity_id": str(uuid.uuid4())})
    refresh = loop.new_events()
    assert isinstance(refresh, RunRequest)
    refreshed = loop.run("event_refresh", refresh)
    assert refreshed.get_asset_check_evaluations() == []
    assert refreshed.get_asset_materialization_events()

    ask = loop.refreshed_checks()
    assert isinstance(ask, RunRequest)
    assert refreshed.run_id in ask.tags["crm/checked_runs"]
    checked = loop.run("event_checks", ask)
    assert checked.get_asset_materialization_events() == []
    evaluations = {(c.asset_key.path[-1], c.check_name): c for c in checked.get_asset_check_evaluations()}
    relationships = [
        c
        for (asset, name), c in evaluations.items()
        if asset == "fct_lead_activities" and name.startswith("relationships")
    ]
    assert relationships and all(c.passed for c in relationships)
    assert evaluations[("int_lead_activity_events", "unbound_events")].passed
    # the marts the rescoring builds are checked too
    assert any(asset == "fct_lead_scores" for asset, _ in evaluations)
    assert isinstance(loop.refreshed_checks(), SkipReason)  # nothing new since

    loop.land("lead_activities", tenant, "lead.call_made", payload | {"activity_id": str(uuid.uuid4())})
    again = loop.new_events()
    assert isinstance(again, RunRequest)
    loop.run("event_refresh", again)
    wait = loop.refreshed_checks()
    assert isinstance(wait, SkipReason) and "once a minute" in (wait.skip_message or "")


def test_the_checks_wait_for_a_pause_in_the_refreshes_ten_minutes_at_most() -> None:
    from orchestration.sensors import CHECKS_EVERY_SECONDS, CHECKS_UNDER_LOAD_SECONDS, checks_wait

    assert checks_wait(None, busy=True) is None  # never checked: now
    assert "once a minute" in (checks_wait(CHECKS_EVERY_SECONDS - 1, busy=False) or "")
    assert checks_wait(CHECKS_EVERY_SECONDS + 1, busy=False) is None
    assert "under way" in (checks_wait(CHECKS_EVERY_SECONDS + 1, busy=True) or "")
    assert checks_wait(CHECKS_UNDER_LOAD_SECONDS + 1, busy=True) is None
