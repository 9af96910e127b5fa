"""The forecast candidates on the real chain (crm.* rows -> dbt marts -> ml.forecast -> the
registry): two small order-history tenants written as won deals, a real slice of CDNOW (a
music store's customers, 1997-98, from the lifetimes wheel) and a store whose weekly revenue
repeats exactly, which the seasonal naive baseline forecasts best.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import polars as pl
import psycopg
import pytest

from crm.schema.pipelines import DEFAULT_PIPELINE_STAGES
from ml import customer_base, forecast, marts, registry, training
from ml.specs import FORECAST

AS_OF = date(1998, 7, 1)
CDNOW_CUSTOMERS = 1200
"""The first 1,200 of CDNOW's 23,570 customers (about 3,500 purchases): small, still real."""
STORE = "51000000-0000-4000-8000-000000000001"
STEADY = "51000000-0000-4000-8000-000000000002"
WEEK = (900.0, 400.0, 300.0, 300.0, 500.0, 1200.0, 1500.0)


def cdnow_slice() -> pd.DataFrame:
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "CDNOW_master.txt"
    raw = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    raw = raw[raw["customer_id"].astype(int) <= CDNOW_CUSTOMERS]
    return pd.DataFrame(
        {
            "customer": raw["customer_id"].astype(int),
            "day": pd.to_datetime(raw["date"], format="%Y%m%d").dt.date,
            "amount": raw["dollar_value"].astype(float),
        }
    )


def _write_tenant(conn: psycopg.Connection, tenant: str, slug: str, orders: pd.DataFrame) -> None:
    """The tenant, its default pipeline, a customer per order customer and a won deal per order."""
    conn.execute("INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, %s)", (tenant, slug, slug.title()))
    pipeline = conn.execute(
        "INSERT INTO crm.sales_pipelines (tenant_id, name, stages, is_default) VALUES (%s, 'Sales', %s, true)"
        " RETURNING id",
        (tenant, orjson.dumps(DEFAULT_PIPELINE_STAGES).decode()),
    ).fetchone()
    assert pipeline is not None
    ids = {c: uuid.uuid4() for c in orders["customer"].unique()}
    with conn.cursor().copy("COPY crm.customers (id, tenant_id, email, lifecycle_stage) FROM STDIN") as cp:
        for c, cid in ids.items():
            cp.write_row((cid, tenant, f"c{c}@{slug}.example", "ACTIVE"))
    cols = "tenant_id, customer_id, name, value, probability, stage, pipeline_id, actual_close_date, created_at, updated_at"
    with conn.cursor().copy(f"COPY crm.deals ({cols}) FROM STDIN") as cp:
        for i, (c, day, amount) in enumerate(orders[["customer", "day", "amount"]].itertuples(index=False)):
            at = datetime.combine(day, time(12), tzinfo=UTC)
            cp.write_row((tenant, ids[c], f"Order {i}", amount, 100, "Closed Won", pipeline[0], at, at, at))


def steady_orders() -> pd.DataFrame:
    """A store selling the same every week (three customers a day, same values): 300 days."""
    start = AS_OF - timedelta(days=300)
    rows = []
    for d in range(300):
        day = start + timedelta(days=d)
        for k in range(3):
            rows.append((d * 3 + k, day, WEEK[day.weekday()] / 3))
    return pd.DataFrame(rows, columns=["customer", "day", "amount"])


@pytest.fixture(scope="module")
def orders_world(create_database: Callable[[str], str], crm_home) -> dict:
    """Both tenants written to crm.*, the series and purchase marts built (with their tests
    and the reconciliation) by dbt as of 1998-07-01."""
    from crm import migrate
    from warehouse.dbt import run_dbt

    url = create_database("crm_ml_orders")
    migrate.upgrade(url)
    store_orders = cdnow_slice()
    with psycopg.connect(url) as conn:
        _write_tenant(conn, STORE, "music-store", store_orders)
        _write_tenant(conn, STEADY, "steady-store", steady_orders())
    run_dbt(
        [
            "build",
            "--vars",
            f"{{as_of: '{AS_OF}'}}",
            "-s",
            "+ml_series__revenue_daily +ml_series__customer_purchases +fct_deals",
        ],
        url,
        target_path=crm_home / "dbt-target-orders",
        log_path=crm_home / "dbt-logs-orders",
        capture=True,
    )
    return {"url": url, "store_orders": store_orders}


@pytest.fixture(scope="module")
def trained(orders_world: dict) -> dict[str, registry.Version]:
    """Each tenant's forecast trained, gated and promoted through the registry, as the jobs do."""
    url = orders_world["url"]
    run = training.train_candidates(url, FORECAST, seed=42, tenants=[STORE, STEADY])
    assert not run.skipped, run.skipped
    training.gate_candidates(url, FORECAST.name, tenants=[STORE, STEADY])
    training.promote_candidates(url, FORECAST.name, tenants=[STORE, STEADY])
    return {v.tenant_id: v for v in registry.list_versions(url, name=FORECAST.name)}


def test_the_purchases_mart_holds_every_won_deal_of_a_customer_once(orders_world: dict) -> None:
    url = orders_world["url"]
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """with won as (
                   select tenant_id, count(*) as n, sum(value)::float8 as value
                   from crm.deals where stage = 'Closed Won' group by 1),
               mart as (
                   select tenant_id, sum(deals) as n, sum(amount)::float8 as amount
                   from analytics.ml_series__customer_purchases group by 1),
               series as (
                   select tenant_id, sum(won_revenue)::float8 as revenue
                   from analytics.ml_series__revenue_daily group by 1)
               select won.tenant_id::text, won.n, won.value, mart.n, mart.amount, series.revenue
               from won join mart using (tenant_id) join series using (tenant_id)"""
        ).fetchall()
    assert len(rows) == 2
    for _tenant, won, value, mart_deals, mart_amount, series in rows:
        assert mart_deals == won and mart_amount == pytest.approx(value, abs=0.01)
        assert series == pytest.approx(value, abs=0.01)
    frame = marts.customer_purchases(url, STORE)
    assert frame is not None
    orders = orders_world["store_orders"]
    assert frame["customer_id"].n_unique() == orders["customer"].nunique()
    # one row per customer and day: several orders of a day add up
    assert frame.height == orders.groupby(["customer", "day"]).ngroups
    other = marts.customer_purchases(url, STEADY)
    assert other is not None and set(frame["customer_id"]).isdisjoint(set(other["customer_id"]))


def test_every_candidate_forecasts_with_an_interval(orders_world: dict) -> None:
    h = forecast.load_history(orders_world["url"], STORE)
    assert h.purchases is not None and "customer_base" in forecast.methods(h)
    origin = pd.Timestamp(date(1997, 11, 1))
    past = h.at(origin)
    assert past.purchases is not None and past.purchases["day"].max() < origin.date()
    for m in forecast.methods(h):
        fc = forecast.predict(past, m, forecast.HORIZON, seed=42)
        assert len(fc) == forecast.HORIZON and fc["ds"].iloc[0] == origin, m
        assert np.isfinite(fc[["yhat", "yhat_lower", "yhat_upper"]].to_numpy()).all(), m
        assert (fc["yhat"] >= 0).all() and (fc["yhat_lower"] >= 0).all(), m
        assert (fc["yhat_lower"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["yhat_upper"]).all(), m
        assert (fc["yhat_upper"] > fc["yhat_lower"]).any(), f"{m}: an interval of no width"


def test_the_customer_base_fits_and_sums_over_customers(orders_world: dict) -> None:
    """CDNOW's customers all first bought by March 1997: from November on, the forecast is the
    existing customers' expected purchases x their expected spend, summed, and its ranking of
    who buys again in the next 26 weeks carries real signal."""
    h = forecast.load_history(orders_world["url"], STORE)
    assert h.purchases is not None
    origin = date(1997, 11, 1)
    model = customer_base.fit(h.purchases, origin)
    c = model.summary.customers
    assert len(c) == h.purchases.filter(pl.col("day") < origin)["customer_id"].n_unique()
    assert (model.bgf.params_ > 0).all()  # type: ignore[attr-defined]
    assert (model.spend > 0).all()
    fc = customer_base.forecast(h.at(pd.Timestamp(origin)).series, h.purchases, 84, model)
    by_customer = model.expected_purchases(84.0) * model.spend
    assert fc["yhat"].sum() == pytest.approx(by_customer.sum(), rel=0.01)

    scores = customer_base.repeat_scores(model, 182)
    later = h.purchases.filter((pl.col("day") >= origin) & (pl.col("day") < origin + timedelta(days=182)))
    bought = scores["customer_id"].isin(set(later["customer_id"])).to_numpy()
    from ml.metrics import auc

    assert 0.1 < bought.mean() < 0.9
    assert auc(bought.astype(int), scores["expected"].to_numpy()) > 0.7


def test_the_gate_never_promotes_a_forecast_worse_than_naive(trained: dict[str, registry.Version]) -> None:
    for tenant, v in trained.items():
        m = v.metrics
        assert v.status == "active", (tenant, v.reason)
        # the method chosen, every candidate's backtest error, and why
        for c in v.params["candidates"]:
            assert f"backtest_mape_{c}" in m
        assert m["method"] == v.params["method"] in v.params["candidates"] and m["why"]
        assert m["backtest_mape"] <= m["seasonal_naive_mape"]
        if m["method"] != forecast.NAIVE:
            assert m["backtest_mape"] < m["seasonal_naive_mape"] and not m["naive_baseline"]
            assert m["gate_baseline"] == m["seasonal_naive_mape"]
    # the store that sells the same every week: nothing beats repeating the last week
    steady = trained[STEADY].metrics
    assert steady["method"] == forecast.NAIVE and steady["naive_baseline"] is True
    assert steady["gate_baseline"] is None and "baseline ships" in steady["why"]
    # the music store's shrinking cohort: the backtest picks something better than naive
    assert trained[STORE].metrics["method"] != forecast.NAIVE


def test_a_candidate_worse_than_naive_is_rejected(orders_world: dict, trained) -> None:
    """The gate itself: a stored candidate whose backtest error is above the naive baseline's
    is rejected with the reason, and the active version stays."""
    url = orders_world["url"]
    active = trained[STORE]
    worse = {**active.metrics, "gate_score": 0.9, "gate_baseline": 0.5, "gate_active": None}
    v = registry.register(
        url, STORE, FORECAST.name, {"method": "prophet"}, worse, active.params, (None, None)
    )
    verdicts = training.gate_candidates(url, FORECAST.name, tenants=[STORE])
    assert [(d.version, d.passed, d.kind) for d in verdicts] == [(v.version, False, "quality")]
    assert registry.get(url, STORE, FORECAST.name, v.version).status == "rejected"  # type: ignore[union-attr]
    assert registry.active(url, STORE, FORECAST.name).version == active.version  # type: ignore[union-attr]
