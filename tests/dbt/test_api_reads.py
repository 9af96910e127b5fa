"""The API routes dbt's exposures name, against the dbt-built warehouse (the marts themselves,
no stand-in tables), as the `crm_api` role: each returns its mart's rows for the caller's
tenant, and health risk comes back under its own name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest

pytestmark = pytest.mark.slow


def q(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def api(warehouse) -> Iterator[tuple]:
    """An in-process API over the warehouse and a manager's bearer header of its first tenant."""
    from fastapi.testclient import TestClient

    from api.core.auth import mint_token
    from api.core.config import ApiSettings
    from api.main import create_app
    from crm.db import role_url
    from crm.settings import Settings

    secret = "dbt-api-" + uuid.uuid4().hex

    class WarehouseApiSettings(ApiSettings):
        @property
        def core(self) -> Settings:
            return Settings(jwt_secret=secret, database_url=warehouse.url)

    settings = WarehouseApiSettings(api_database_url=role_url("crm_api", warehouse.url))
    tenant = warehouse.tenant_ids[0]
    [(user,)] = q(
        warehouse.url,
        "select id from crm.users where tenant_id = %s and role = 'manager' order by email limit 1",
        (tenant,),
    )
    headers = {"Authorization": f"Bearer {mint_token(settings, user, uuid.UUID(tenant), ['manager'])}"}
    with TestClient(create_app(settings)) as client:
        yield client, headers, tenant


def test_customer_health_names_its_risk_health_risk(api, warehouse) -> None:
    client, headers, tenant = api
    [(customer, score, level)] = q(
        warehouse.url,
        """select customer_id::text, health_score, health_risk_level from analytics.fct_customer_health
           where tenant_id = %s order by health_score, customer_id limit 1""",
        (tenant,),
    )
    r = client.get(f"/customers/{customer}/health", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["health_risk_level"] == level and Decimal(str(body["health_score"])) == score
    assert "risk_level" not in body


def test_dashboard_metrics_are_the_tenants_mart_rows(api, warehouse) -> None:
    client, headers, tenant = api
    d1 = warehouse.as_of - timedelta(days=1)
    d0 = d1 - timedelta(days=13)
    expected = q(
        warehouse.url,
        """select day, leads_created from analytics.metrics_crm_daily
           where tenant_id = %s and is_tenant_total and day between %s and %s order by day""",
        (tenant, d0, d1),
    )
    r = client.get("/analytics/dashboard", params={"date_from": d0, "date_to": d1}, headers=headers)
    assert r.status_code == 200, r.text
    days = r.json()["days"]
    assert expected and [(d["day"], d["leads_created"]) for d in days] == [
        (day.isoformat(), n) for day, n in expected
    ]
    assert {d["tenant_id"] for d in days} == {tenant}


def test_attribution_totals_are_the_tenants_credits(api, warehouse) -> None:
    client, headers, tenant = api
    d0, d1 = warehouse.as_of - timedelta(days=90), warehouse.as_of
    r = client.get("/analytics/attribution", params={"date_from": d0, "date_to": d1}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    expected = dict(
        q(
            warehouse.url,
            """select attribution_model, sum(credit)::float from analytics.fct_revenue_attribution
               where tenant_id = %s and won_day between %s and %s group by 1""",
            (tenant, d0, d1),
        )
    )
    assert expected and body["totals"] == pytest.approx(expected)
    assert body["rows"] and {row["tenant_id"] for row in body["rows"]} == {tenant}
    assert all(d0.isoformat() <= row["won_day"] <= d1.isoformat() for row in body["rows"])
    r = client.get(
        "/analytics/attribution",
        params={"date_from": d0, "date_to": d1, "model": "linear"},
        headers=headers,
    )
    assert r.json()["totals"] == pytest.approx({"linear": expected["linear"]})
    assert {row["attribution_model"] for row in r.json()["rows"]} == {"linear"}
