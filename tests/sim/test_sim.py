"""The synthetic world: determinism, preset volumes, tenant isolation, calibration of the
hidden truth, contract validity of events, and the database / raw / Kafka writers."""

from __future__ import annotations

import asyncio
from datetime import date

import numpy as np
import polars as pl
import psycopg
import pytest

from crm.events import NO_BOUNDS, parse_event
from crm.events.registry import event_types
from sim import PRESETS, generate_world, make_plan, seed_world
from sim.events import envelope
from sim.rng import DAY, partitions_for, stream, uuids

AS_OF = date(2025, 11, 1)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUC (ties averaged), without scikit-learn."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    s = score[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = y.astype(bool)
    n1, n0 = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


@pytest.fixture(scope="module")
def world_s():
    return generate_world(make_plan("S", 42, AS_OF))


def _wire(world) -> dict[str, list[str]]:
    return {t: df.select(envelope(df)).to_series().to_list() for t, df in world.events.items()}


def test_same_seed_same_world_other_seed_differs(world_s):
    again = generate_world(make_plan("S", 42, AS_OF))
    for name, df in world_s.tables.items():
        assert df.equals(again.tables[name]), name
    assert _wire(world_s) == _wire(again)
    other = generate_world(make_plan("S", 43, AS_OF))
    ids = set(world_s.events["tickets"]["event_id"])
    assert not ids & set(other.events["tickets"]["event_id"])
    assert world_s.tenant_ids != other.tenant_ids


def test_tenant_by_tenant_generation_gives_the_same_world(world_s):
    """Scale L is generated one tenant at a time: the parts must add up to the whole world."""
    plan = make_plan("S", 42, AS_OF)
    parts = [generate_world(plan, only=[tp.index]) for tp in plan.tenants]
    assert [p.tenant_ids for p in parts] == [[t] for t in world_s.tenant_ids]
    for name, df in world_s.tables.items():
        joined = pl.concat([p.tables[name] for p in parts], how="vertical_relaxed")
        assert joined.sort(joined.columns[0]).equals(df.sort(df.columns[0])), name
    for topic, df in world_s.events.items():
        joined = pl.concat([p.events[topic] for p in parts]).sort("t", "event_id")
        assert joined.equals(df), topic


def test_uuids_are_seeded_v4():
    import uuid

    a = uuids(stream(1, "x"), 50)
    assert list(a) == list(uuids(stream(1, "x"), 50))
    assert all(uuid.UUID(x).version == 4 for x in a)


def test_preset_counts_s(world_s):
    p = PRESETS["S"]
    c = world_s.counts()
    assert c["crm.tenants"] == p.tenants == 3
    assert c["crm.leads"] == p.leads
    assert c["crm.lead_activities"] == p.lead_activities == c["topic:lead-activities"]
    assert c["crm.customers"] == p.customers
    deals = world_s.tables["crm.deals"]
    renewals = deals.filter(pl.col("tags").list.contains("renewal"))
    assert deals.height - renewals.height == p.deals  # new business is exact; renewals come on top
    assert renewals.height > 0 and renewals["lead_id"].null_count() == renewals.height
    assert world_s.events["tickets"].filter(pl.col("event_type") == "ticket.created").height == p.tickets
    total = sum(v.height for v in world_s.events.values())
    assert 0.85 * 50_000 <= total <= 1.15 * 50_000
    # tenants differ in size
    sizes = world_s.tables["crm.leads"].group_by("tenant_id").len()["len"].sort().to_list()
    assert sizes[0] < sizes[-1]


@pytest.mark.parametrize("scale", ["M", "L"])
def test_preset_counts_m_l_from_plan(scale):
    plan = make_plan(scale, 42, AS_OF)
    totals = plan.totals()
    p = PRESETS[scale]
    assert len(plan.tenants) == 5
    for k, v in totals.items():
        assert v == getattr(p, k)
    if scale == "M":
        assert (
            totals["leads"],
            totals["lead_activities"],
            totals["deals"],
            totals["tickets"],
            totals["customers"],
        ) == (100_000, 1_000_000, 20_000, 300_000, 50_000)
    else:
        assert totals["leads"] == 1_000_000
        assert 9_000_000 <= p.expected_events <= 12_000_000


def test_tenant_isolation(world_s):
    t = world_s.tables
    owner: dict[str, str] = {}
    for name in (
        "crm.users",
        "crm.customers",
        "crm.leads",
        "crm.deals",
        "crm.sales_pipelines",
        "crm.products",
        "crm.customer_segments",
        "crm.marketing_campaigns",
    ):
        for i, tid in t[name].select("id", "tenant_id").iter_rows():
            owner[i] = tid
    refs = {
        "crm.leads": ("customer_id", "assigned_user_id"),
        "crm.lead_activities": ("lead_id", "user_id"),
        "crm.deals": ("lead_id", "customer_id", "pipeline_id", "assigned_user_id"),
        "crm.deal_activities": ("deal_id", "user_id"),
        "crm.deal_products": ("deal_id", "product_id"),
        "crm.customer_segment_memberships": ("segment_id", "customer_id"),
        "crm.marketing_campaigns": ("segment_id",),
    }
    for name, cols in refs.items():
        for col in cols:
            rows = t[name].select("tenant_id", col).drop_nulls().iter_rows()
            assert all(owner[r] == tid for tid, r in rows), (name, col)
    tenants = set(world_s.tenant_ids)
    for topic, df in world_s.events.items():
        assert set(df["tenant_id"].unique()) <= tenants, topic


def test_lead_oracle_auc_in_band(world_s):
    now = int(world_s.plan.now.timestamp())
    truth = world_s.tables["sim_truth.lead_truth"].join(
        world_s.tables["crm.leads"].select("id", "created_at"), left_on="lead_id", right_on="id"
    )
    lab = truth.filter(pl.col("created_at").dt.epoch("s") < now - 90 * DAY)
    auc = _auc(lab["converted"].to_numpy(), lab["propensity"].to_numpy())
    assert 0.78 <= auc <= 0.94  # S sample tolerance around the 0.80-0.92 target


@pytest.mark.slow
def test_lead_oracle_auc_tight_on_larger_sample():
    """Many tenants' worth of leads from the lead generator alone (fast) for the tight bound."""
    from sim.leads import TenantShape, generate_leads
    from sim.org import build_org
    from sim.plan import TenantPlan

    plan = make_plan("S", 7, AS_OF)
    now, start = int(plan.now.timestamp()), int(plan.history_start.timestamp())
    tp = TenantPlan(0, "Big", "big-7", 30_000, 200_000, 3000, 1000, 1000, 100, 100, 100)
    org = build_org(plan, tp, "00000000-0000-4000-8000-000000000001", start, now)
    lw = generate_leads(7, tp, org, TenantShape.draw(7, 0), start, now)
    lab = lw.created < now - 90 * DAY
    auc = _auc(lw.converted[lab], lw.z[lab])
    assert 0.80 <= auc <= 0.92


def test_churn_oracle_auc_in_band(world_s):
    now = int(world_s.plan.now.timestamp())
    snap = now - 90 * DAY
    c = world_s.tables["sim_truth.customer_truth"].join(
        world_s.tables["crm.customers"].select("id", "became_customer_at"),
        left_on="customer_id",
        right_on="id",
    )
    pop = c.filter(
        (pl.col("became_customer_at").dt.epoch("s") <= snap)
        & (pl.col("churned_at").is_null() | (pl.col("churned_at").dt.epoch("s") > snap))
    )
    auc = _auc(pop["churned"].to_numpy(), -pop["latent_health"].to_numpy())
    assert 0.72 <= auc <= 0.95  # few churners at S: wide tolerance


def test_world_shape(world_s):
    deals = world_s.tables["crm.deals"]
    won = deals.filter(pl.col("stage") == "Closed Won")
    v = won["value"].to_numpy()
    assert np.quantile(v, 0.95) > 2.5 * np.median(v)  # heavy right tail (log-normal)
    assert deals.filter(pl.col("stage") == "Closed Lost")["lost_reason"].null_count() == 0
    leads = world_s.tables["crm.leads"]
    assert 0.05 < leads["phone"].null_count() / leads.height < 0.25
    conv = leads.filter(pl.col("status") == "CONVERTED")
    assert conv["customer_id"].null_count() == 0 and conv["converted_at"].null_count() == 0
    cust = world_s.tables["crm.customers"]
    churned = cust.filter(pl.col("lifecycle_stage") == "CHURNED")
    assert churned.height and churned["churned_at"].null_count() == 0
    camps = world_s.tables["crm.marketing_campaigns"]
    assert set(camps["type"]) == {"EMAIL", "SMS", "SOCIAL", "WEBINAR", "CONTENT", "PAID_ADS"}
    web = world_s.events["web-events"]
    assert web["payload"].str.contains('"campaign_id":"').mean() > 0.2
    now = int(world_s.plan.now.timestamp())
    for df in world_s.events.values():
        assert df["t"].max() < now


def test_every_event_validates_against_the_contracts(world_s):
    seen = set()
    for topic, values in _wire(world_s).items():
        for raw in values:
            ev = parse_event(raw.encode(), topic=topic, bounds=NO_BOUNDS)
            seen.add(ev.event_type)
    expected = {t for topic in world_s.events for t in event_types(topic)}
    assert expected <= seen


def test_partitioner_matches_aiokafka():
    from aiokafka.partitioner import murmur2

    keys = np.array([*uuids(stream(3, "k"), 300), "v_0123456789abcdef", "abc", "ab", "a"])
    ours = partitions_for(keys, 7)
    theirs = [(murmur2(k.encode()) & 0x7FFFFFFF) % 7 for k in keys]
    assert ours.tolist() == theirs


def _count(url: str, sql: str, *args) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchone()[0]


@pytest.fixture
def sim_db(create_database):
    from crm import migrate

    url = create_database("crm_sim")
    migrate.upgrade(url)
    return url


def test_seed_raw_sink_and_reseed_replaces(sim_db):
    s = seed_world("S", 11, AS_OF, database_url=sim_db, sink="raw", progress=False)
    assert _count(sim_db, "select count(*) from crm.leads") == PRESETS["S"].leads
    assert _count(sim_db, "select count(*) from raw.tickets") == s.topics["tickets"]
    assert (
        _count(
            sim_db,
            "select count(*) from raw.lead_activities r join crm.lead_activities a on a.id = r.event_id",
        )
        == PRESETS["S"].lead_activities
    )
    # every raw event's tenant exists
    for name in (
        "tickets",
        "conversations",
        "lead_activities",
        "deal_activities",
        "web_events",
        "usage_events",
    ):
        assert (
            _count(
                sim_db,
                f"select count(*) from raw.{name} r left join crm.tenants t on t.id = r.tenant_id "
                "where t.id is null",
            )
            == 0
        )
    assert _count(sim_db, "select count(*) from sim_truth.lead_truth") == PRESETS["S"].leads
    # same seed again: replaced, not doubled
    seed_world("S", 11, AS_OF, database_url=sim_db, sink="raw", progress=False)
    assert _count(sim_db, "select count(*) from crm.leads") == PRESETS["S"].leads
    assert _count(sim_db, "select count(*) from raw.tickets") == s.topics["tickets"]
    assert _count(sim_db, "select count(*) from sim_truth.world_runs where seed = 11") == 1
    # tenant by tenant (how scale L is written): the same rows, one run recorded
    t = seed_world("S", 11, AS_OF, database_url=sim_db, sink="raw", progress=False, by_tenant=True)
    assert t.tenant_ids == s.tenant_ids and t.topics == s.topics and t.tables == s.tables
    assert _count(sim_db, "select count(*) from crm.leads") == PRESETS["S"].leads
    assert _count(sim_db, "select count(*) from raw.tickets") == s.topics["tickets"]
    assert _count(sim_db, "select count(*) from sim_truth.world_runs where seed = 11") == 1
    # another seed coexists
    seed_world("S", 12, AS_OF, database_url=sim_db, sink="raw", progress=False)
    assert _count(sim_db, "select count(*) from crm.tenants") == 6


def test_kafka_round_trip(sim_db, kafka_bootstrap):
    from aiokafka import AIOKafkaConsumer

    s = seed_world(
        "S", 21, AS_OF, database_url=sim_db, bootstrap=kafka_bootstrap, sink="kafka", progress=False
    )
    world = generate_world(make_plan("S", 21, AS_OF))
    want = {t: set(df["event_id"]) for t, df in world.events.items()}

    async def consume(topic: str) -> tuple[set[str], dict[str, set[int]]]:
        c = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await c.start()
        got: set[str] = set()
        parts: dict[str, set[int]] = {}
        try:
            for _ in range(60):
                batch = await c.getmany(timeout_ms=500, max_records=20_000)
                for tp, msgs in batch.items():
                    for m in msgs:
                        ev = parse_event(m.value, topic=topic, bounds=NO_BOUNDS)
                        got.add(str(ev.event_id))
                        parts.setdefault(m.key.decode(), set()).add(tp.partition)
                if len(got) >= len(want[topic]):
                    break
        finally:
            await c.stop()
        return got, parts

    for topic in ("tickets", "deal-activities"):
        got, parts = asyncio.run(asyncio.wait_for(consume(topic), 60))
        assert want[topic] <= got
        assert all(len(p) == 1 for p in parts.values())  # one key, one partition
    assert s.topics == {t: df.height for t, df in world.events.items()}


def test_reseed_through_kafka_clears_raw_before_sending_and_keeps_what_lands(sim_db, monkeypatch):
    """A lander writes raw.* while the seed's events flow: the seed's raw rows are deleted (and
    committed) before the first event is sent, and the seed's database transaction does not
    delete what the lander landed meanwhile."""
    from sim import writers

    first = seed_world("S", 31, AS_OF, database_url=sim_db, sink="raw", progress=False)
    tenants = first.tenant_ids
    world = generate_world(make_plan("S", 31, AS_OF))
    event = world.events["tickets"].row(0, named=True)
    seen: dict[str, int] = {}

    async def lander_meanwhile(bootstrap, world, progress=None, partitions=None):
        seen["raw_at_send"] = _count(
            sim_db, "select count(*) from raw.tickets where tenant_id = any(%s::uuid[])", tenants
        )
        with psycopg.connect(sim_db, autocommit=True) as conn:  # one re-sent event, landed
            conn.execute(
                "insert into raw.tickets (event_id, tenant_id, event_type, schema_version, occurred_at,"
                " source, payload) values (%s, %s, %s, 1, now(), %s, %s::jsonb)",
                (
                    event["event_id"],
                    event["tenant_id"],
                    event["event_type"],
                    event["source"],
                    event["payload"],
                ),
            )
        return {t: df.height for t, df in world.events.items()}

    monkeypatch.setattr(writers, "send_events", lander_meanwhile)
    seed_world("S", 31, AS_OF, database_url=sim_db, sink="kafka", progress=False)
    assert seen["raw_at_send"] == 0
    assert (
        _count(sim_db, "select count(*) from raw.tickets where event_id = %s::uuid", event["event_id"]) == 1
    )
    assert _count(sim_db, "select count(*) from crm.leads") == PRESETS["S"].leads


def test_renewals_follow_contracts_and_churn(world_s):
    deals = world_s.tables["crm.deals"]
    renewals = deals.filter(pl.col("tags").list.contains("renewal")).with_columns(
        orig=pl.col("custom_fields").str.json_path_match("$.renews_deal_id")
    )
    orig = deals.select(
        pl.col("id").alias("orig"),
        pl.col("actual_close_date").alias("orig_close"),
        pl.col("customer_id").alias("orig_customer"),
        pl.col("stage").alias("orig_stage"),
    )
    j = renewals.join(orig, on="orig")
    assert j.height == renewals.height > 0
    assert (j["orig_stage"] == "Closed Won").all() and (j["customer_id"] == j["orig_customer"]).all()
    # due on the anniversary of the won deal, opened 75-120 days before
    years = (j["expected_close_date"].dt.date() - j["orig_close"].dt.date()).dt.total_days()
    assert years.is_in([365, 730]).all()
    ahead = (j["expected_close_date"] - j["created_at"]).dt.total_days()
    assert ahead.min() >= 74 and ahead.max() <= 120
    # a customer who churned never renews after it; the renewals open at its churn are lost
    churn = world_s.tables["crm.customers"].select(pl.col("id").alias("customer_id"), "churned_at")
    j = j.join(churn, on="customer_id")
    won = j.filter(pl.col("stage") == "Closed Won")
    assert won.filter(pl.col("churned_at") < pl.col("actual_close_date")).height == 0
    assert j.filter(pl.col("churned_at") <= pl.col("created_at")).height == 0
    assert (j.filter(pl.col("stage") == "Closed Lost")["lost_reason"] == "Did not renew").all()
    v = won["value"].to_numpy()
    assert np.quantile(v, 0.95) > 2.5 * np.median(v)  # as heavy-tailed as the deals they renew
