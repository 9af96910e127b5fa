"""A signed-in tenant cannot see another tenant's rows: the reader role with RLS on app.tenant_id."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import text

from app.data.access import run_query
from app.data.engine import make_reader_engine


@pytest.fixture(scope="module")
def churn_rows(world):
    """Two churn predictions per tenant, written as the owner (as the ML job would)."""
    a, b = world.managers[0].tenant_id, world.managers[1].tenant_id
    ids = {a: [uuid.uuid4(), uuid.uuid4()], b: [uuid.uuid4(), uuid.uuid4()]}
    with psycopg.connect(world.url, autocommit=True) as conn:
        for tenant, customers in ids.items():
            for cid in customers:
                conn.execute(
                    """insert into ml.churn_predictions (tenant_id, customer_id, churn_probability, risk_level,
                       factors, method, model_version) values (%s, %s, 0.9, 'critical', '[]', 'model', 'test')""",
                    (tenant, cid),
                )
    yield ids
    with psycopg.connect(world.url, autocommit=True) as conn:
        conn.execute("delete from ml.churn_predictions where model_version = 'test'")


def test_reader_sees_only_its_tenant(world, churn_rows) -> None:
    engine = make_reader_engine(world.url)
    try:
        for tenant, customers in churn_rows.items():
            frame = run_query(engine, tenant, "overview_churn_risk")
            seen = int(frame.iloc[0]["at_risk"])
            assert seen >= len(customers)
            with engine.begin() as conn:
                conn.execute(text("select set_config('app.tenant_id', :t, true)"), {"t": tenant})
                tenants = {
                    str(r[0])
                    for r in conn.execute(text("select distinct tenant_id from ml.churn_predictions"))
                }
            assert tenants == {tenant}
        # no tenant set: nothing at all
        with engine.connect() as conn:
            assert conn.execute(text("select count(*) from ml.churn_predictions")).scalar() == 0
    finally:
        engine.dispose()


def test_reader_cannot_write_or_switch_role(world) -> None:
    engine = make_reader_engine(world.url)
    tenant = world.managers[0].tenant_id
    try:
        with engine.begin() as conn:
            conn.execute(text("select set_config('app.tenant_id', :t, true)"), {"t": tenant})
            with pytest.raises(Exception, match="permission denied"):
                conn.execute(text("delete from ml.churn_predictions"))
    finally:
        engine.dispose()


def test_marts_are_tenant_isolated_for_the_reader(world) -> None:
    if not world.built:
        pytest.skip("marts not built in this checkout")
    with psycopg.connect(world.url) as conn:
        # every table in analytics: the marts the pages read (dashboards' summaries included)
        marts = [
            f"analytics.{r[0]}"
            for r in conn.execute("select tablename from pg_tables where schemaname = 'analytics' order by 1")
        ]
    assert "analytics.dash_attribution_monthly" in marts
    engine = make_reader_engine(world.url)
    try:
        for manager in world.managers:
            with engine.begin() as conn:
                conn.execute(text("select set_config('app.tenant_id', :t, true)"), {"t": manager.tenant_id})
                for mart in marts:
                    seen = {str(r[0]) for r in conn.execute(text(f"select distinct tenant_id from {mart}"))}
                    assert seen <= {manager.tenant_id}, mart
        with engine.connect() as conn:
            assert conn.execute(text("select count(*) from analytics.dim_leads")).scalar() == 0
    finally:
        engine.dispose()


def test_a_superuser_reader_is_refused(world, monkeypatch) -> None:
    from sqlalchemy import create_engine

    from app.data.engine import UnsafeRole, assert_restricted
    from crm.db import sqlalchemy_url

    owner = create_engine(sqlalchemy_url(world.url))
    try:
        with owner.connect() as conn:
            is_super = conn.execute(
                text("select rolsuper from pg_roles where rolname = current_user")
            ).scalar()
        if not is_super:
            pytest.skip("the test server's login is not a superuser")
        with pytest.raises(UnsafeRole):
            assert_restricted(owner)
        assert_restricted(make_reader_engine(world.url))
    finally:
        owner.dispose()
