"""A signed-in tenant cannot see another tenant's rows: the reader role with RLS on app.tenant_id."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from app.data.access import run_query
from app.data.engine import make_reader_engine
from crm.bands import AT_RISK_LEVELS
from crm.db import enter_tenant


def test_reader_sees_only_its_tenant(world) -> None:
    """The Overview's churn count, as the reader for each tenant, equals the owner's count of that
    tenant's rows; the reader sees no other tenant's rows in the mart or in ml.*, and nothing at
    all without a tenant set."""
    engine = make_reader_engine(world.url)
    try:
        for manager in world.managers[:2]:
            tenant = manager.tenant_id
            frame = run_query(engine, tenant, "overview_churn_risk")
            with psycopg.connect(world.url) as conn:
                (expected,) = conn.execute(
                    "select count(*) from analytics.fct_customer_risk"
                    " where tenant_id = %s and churn_risk_level = any(%s)",
                    (tenant, list(AT_RISK_LEVELS)),
                ).fetchone()
            assert int(frame.iloc[0]["at_risk"]) == expected
            with engine.begin() as conn:
                enter_tenant(conn, tenant)
                seen = {
                    relation: {
                        str(r[0]) for r in conn.execute(text(f"select distinct tenant_id from {relation}"))
                    }
                    for relation in ("analytics.fct_customer_risk", "ml.churn_predictions")
                }
            assert seen["analytics.fct_customer_risk"] == {tenant}
            assert seen["ml.churn_predictions"] <= {tenant}
        # no tenant set: nothing at all
        with engine.connect() as conn:
            assert conn.execute(text("select count(*) from analytics.fct_customer_risk")).scalar() == 0
            assert conn.execute(text("select count(*) from ml.churn_predictions")).scalar() == 0
    finally:
        engine.dispose()


def test_reader_cannot_write_or_switch_role(world) -> None:
    engine = make_reader_engine(world.url)
    tenant = world.managers[0].tenant_id
    try:
        with engine.begin() as conn:
            enter_tenant(conn, tenant)
            with pytest.raises(Exception, match="permission denied"):
                conn.execute(text("delete from ml.churn_predictions"))
    finally:
        engine.dispose()


def test_marts_are_tenant_isolated_for_the_reader(world) -> None:
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
                enter_tenant(conn, manager.tenant_id)
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
