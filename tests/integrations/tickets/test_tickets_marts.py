"""Enrichment of the simulator's landed tickets against the marts a real `dbt build` made (the
scored world of tests/api/scored_world.py): health, churn risk, segments and revenue are the
tenant's mart rows, and another tenant's ticket is not found."""

from __future__ import annotations

from decimal import Decimal

import pytest

pytestmark = pytest.mark.slow


def _a_ticket_of_a_scored_customer(world_sql, tenant: str) -> dict:
    rows = world_sql(
        "SELECT t.payload ->> 'ticket_id' AS ticket_id, r.*, c.churn_probability AS scored_churn,"
        " c.churn_risk_level AS scored_level,"
        " EXISTS (SELECT 1 FROM analytics.fct_segment_memberships s WHERE s.customer_id = r.customer_id) AS in_segment"
        " FROM raw.tickets t JOIN analytics.fct_customer_risk r"
        "   ON r.tenant_id = t.tenant_id AND r.customer_id::text = t.payload ->> 'customer_id'"
        " LEFT JOIN ml.churn_predictions c ON c.customer_id = r.customer_id"
        " WHERE t.tenant_id = %s AND t.event_type = 'ticket.created'"
        " ORDER BY (c.churn_probability IS NOT NULL) DESC, in_segment DESC, (r.health_score IS NOT NULL) DESC, r.customer_id"
        " LIMIT 1",
        tenant,
    )
    assert rows, "the world has a ticket of a customer"
    return rows[0]


def test_landed_ticket_enrichment_is_the_marts(world, world_client, world_as, world_sql) -> None:
    tenant = world.modelled
    row = _a_ticket_of_a_scored_customer(world_sql, tenant)
    r = world_client.get(f"/tickets/{row['ticket_id']}/enrichment", headers=world_as(tenant))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["requester"], out["matched_by"], out["customer_id"]) == (
        "CUSTOMER",
        "CUSTOMER_ID",
        str(row["customer_id"]),
    )
    assert row["scored_churn"] is not None and row["health_score"] is not None and row["in_segment"]
    assert out["health_score"] == pytest.approx(row["health_score"])
    assert (out["health_risk_level"], out["churn_risk_level"]) == (
        row["health_risk_level"],
        row["scored_level"],
    )
    assert out["churn_probability"] == pytest.approx(row["scored_churn"])
    dim = world_sql(
        "SELECT total_revenue, mrr, health_trend FROM analytics.dim_customers WHERE customer_id = %s",
        row["customer_id"],
    )[0]
    assert Decimal(out["lifetime_revenue"]) == dim["total_revenue"] and Decimal(out["mrr"]) == dim["mrr"]
    assert out["health_trend"] == dim["health_trend"]
    segments = world_sql(
        "SELECT DISTINCT segment_name FROM analytics.fct_segment_memberships WHERE customer_id = %s ORDER BY 1",
        row["customer_id"],
    )
    assert out["segments"] == [s["segment_name"] for s in segments]
    open_deals = world_sql(
        "SELECT deal_id::text FROM analytics.fct_deals WHERE customer_id = %s AND is_open", row["customer_id"]
    )
    assert {d["deal_id"] for d in out["open_deals"]} >= {d["deal_id"] for d in open_deals}
    other = world.rules_only
    r = world_client.get(f"/tickets/{row['ticket_id']}/enrichment", headers=world_as(other))
    assert r.status_code == 404 and r.json()["code"] == "TICKET_NOT_FOUND"
