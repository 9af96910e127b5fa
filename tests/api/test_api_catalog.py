"""Pipelines, products, customers (stage, health, churn), segments, campaigns, analytics reads."""

from __future__ import annotations

import uuid

STAGES = [
    {"name": "New", "order": 1, "probability": 10},
    {"name": "Won", "order": 2, "probability": 100, "is_won": True},
    {"name": "Lost", "order": 3, "probability": 0, "is_lost": True},
]


def test_pipelines(client, as_, owner_sql):
    h = as_()
    name = f"pipe-{uuid.uuid4().hex[:6]}"
    r = client.post("/pipelines", json={"name": name, "stages": STAGES}, headers=h)
    assert r.status_code == 201, r.text
    pipe = r.json()
    r = client.post("/pipelines", json={"name": name, "stages": STAGES}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "DUPLICATE"
    bad = [*STAGES, {"name": "New", "order": 4, "probability": 5}]
    r = client.post("/pipelines", json={"name": "x" + name, "stages": bad}, headers=h)
    assert (
        r.status_code == 422
        and r.json()["code"] == "PIPELINE_STAGES_INVALID"
        and r.json()["context"]["field"] == "stages"
    )
    r = client.post("/pipelines", json={"name": "y" + name, "stages": []}, headers=h)
    assert r.status_code == 422
    deal = client.post(
        "/deals", json={"name": "d", "value": "1", "pipeline_id": pipe["id"]}, headers=h
    ).json()
    assert deal["stage"] == "New"
    r = client.patch(f"/pipelines/{pipe['id']}", json={"stages": STAGES[1:]}, headers=h)
    assert r.status_code == 409 and r.json()["context"]["stage"] == "New"
    r = client.patch(f"/pipelines/{pipe['id']}", json={"description": "d", "version": 1}, headers=h)
    assert r.status_code == 200 and r.json()["version"] == 2
    assert client.get(f"/pipelines/{pipe['id']}", headers=h).headers["etag"] == '"2"'
    assert client.get(f"/pipelines/{uuid.uuid4()}", headers=h).json()["code"] == "PIPELINE_NOT_FOUND"
    assert pipe["id"] in {
        p["id"] for p in client.get("/pipelines", params={"limit": 500}, headers=h).json()["items"]
    }


def test_products(client, as_):
    h = as_()
    sku = f"SKU-{uuid.uuid4().hex[:6]}"
    r = client.post(
        "/products", json={"name": "Widget", "sku": sku, "price": "19.99", "category": "hw"}, headers=h
    )
    assert r.status_code == 201
    prod = r.json()
    assert (
        client.post("/products", json={"name": "W2", "sku": sku, "price": "1"}, headers=h).status_code == 409
    )
    r = client.post("/products", json={"name": "W3", "price": "1.234"}, headers=h)
    assert r.status_code == 422 and r.json()["context"]["field"] == "price"
    r = client.patch(f"/products/{prod['id']}", json={"price": "21.00"}, headers=h | {"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["price"] == "21.00"
    r = client.patch(f"/products/{prod['id']}", json={"price": "22.00"}, headers=h | {"If-Match": '"1"'})
    assert r.status_code == 409
    assert client.get("/products", params={"sku": sku}, headers=h).json()["items"][0]["id"] == prod["id"]
    assert client.get(f"/products/{uuid.uuid4()}", headers=h).status_code == 404


def test_customer_stage_health_churn(client, as_, tenants, owner_sql):
    h = as_()
    cid = tenants["a"].customer_id
    r = client.post(f"/customers/{cid}/stage", json={"stage": "ACTIVE"}, headers=h)
    assert r.status_code == 200 and r.json()["lifecycle_stage"] == "ACTIVE" and r.json()["became_customer_at"]
    r = client.post(f"/customers/{cid}/stage", json={"stage": "ACTIVE"}, headers=h)
    assert r.status_code == 409
    r = client.post(f"/customers/{cid}/stage", json={"stage": "ZOMBIE"}, headers=h)
    assert r.status_code == 422 and r.json()["context"]["field"] == "stage"
    assert (
        client.post(f"/customers/{uuid.uuid4()}/stage", json={"stage": "ACTIVE"}, headers=h).status_code
        == 404
    )
    assert owner_sql("SELECT event_type FROM crm.outbox WHERE key = %s ORDER BY id DESC", str(cid))[0][
        "event_type"
    ] == ("crm.customer.updated")
    assert client.get("/customers", params={"lifecycle_stage": "ACTIVE"}, headers=h).status_code == 200
    assert client.get(f"/customers/{cid}", headers=h).json()["id"] == str(cid)
    # no warehouse in this database: health and churn say what is missing (their reads of the
    # marts run against the scored world: test_api_on_demand.py)
    for path, code, table in (
        ("health", "ANALYTICS_UNAVAILABLE", "analytics.customer_health_now"),
        ("churn", "SCORING_SERVICE_UNAVAILABLE", "analytics.ml_features__customers_current"),
        ("next-best-actions", "SCORING_SERVICE_UNAVAILABLE", "analytics.ml_features__customers_current"),
    ):
        r = client.get(f"/customers/{cid}/{path}", headers=h)
        assert r.status_code == 503 and r.json()["code"] == code and r.json()["context"]["table"] == table


def test_segments(client, as_, owner_sql):
    h = as_()
    name = f"seg-{uuid.uuid4().hex[:6]}"
    crit = {"all": [{"field": "lifecycle_stage", "op": "eq", "value": "ACTIVE"}]}
    r = client.post("/segments", json={"name": name, "criteria": crit}, headers=h)
    assert r.status_code == 201, r.text
    seg = r.json()
    r = client.post("/segments", json={"name": name + "x", "criteria": {}}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "SEGMENT_CRITERIA_INVALID"
    assert r.json()["context"]["field"].startswith("criteria")
    r = client.post(f"/segments/{seg['id']}/recalculate", headers=h)
    assert r.status_code == 202 and r.json()["is_stale"] is True
    r = client.patch(f"/segments/{seg['id']}", json={"description": "active ones", "version": 2}, headers=h)
    assert r.status_code == 200
    assert (
        client.post(f"/segments/{uuid.uuid4()}/recalculate", headers=h).json()["code"] == "SEGMENT_NOT_FOUND"
    )
    assert owner_sql("SELECT count(*) AS n FROM crm.outbox WHERE key = %s", seg["id"])[0]["n"] == 3


def test_campaigns(client, as_, tenants):
    h = as_()
    r = client.post("/campaigns", json={"name": "Spring", "type": "EMAIL", "budget": "500"}, headers=h)
    assert r.status_code == 201 and r.json()["status"] == "DRAFT"
    camp = r.json()
    cid = camp["id"]
    r = client.post(
        "/campaigns", json={"name": "x", "type": "EMAIL", "segment_id": str(uuid.uuid4())}, headers=h
    )
    assert r.status_code == 422 and r.json()["context"]["field"] == "segment_id"
    r = client.post(
        "/campaigns",
        json={
            "name": "x",
            "type": "EMAIL",
            "start_date": "2026-05-02T00:00:00Z",
            "end_date": "2026-05-01T00:00:00Z",
        },
        headers=h,
    )
    assert r.status_code == 422 and r.json()["context"]["field"] == "end_date"
    r = client.post(
        f"/campaigns/{cid}/trigger", json={"customer_id": str(tenants["a"].customer_id)}, headers=h
    )
    assert r.status_code == 409  # not active yet
    r = client.post(f"/campaigns/{cid}/status", json={"status": "COMPLETED"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "INVALID_STATUS_TRANSITION"
    for status in ("SCHEDULED", "ACTIVE", "PAUSED", "ACTIVE"):
        r = client.post(f"/campaigns/{cid}/status", json={"status": status}, headers=h)
        assert r.status_code == 200 and r.json()["status"] == status, r.text
    r = client.post(
        f"/campaigns/{cid}/trigger", json={"customer_id": str(tenants["a"].customer_id)}, headers=h
    )
    assert r.status_code == 202
    r = client.post(
        f"/campaigns/{cid}/trigger", json={"customer_id": str(tenants["b"].customer_id)}, headers=h
    )
    assert r.status_code == 404 and r.json()["code"] == "CUSTOMER_NOT_FOUND"
    assert client.get(f"/campaigns/{cid}", headers=h).json()["metrics"] == {"triggered": 1}
    r = client.patch(f"/campaigns/{cid}", json={"spent": "120.50"}, headers=h)
    assert r.status_code == 200 and r.json()["spent"] == "120.50"
    assert client.post(f"/campaigns/{cid}/status", json={"status": "COMPLETED"}, headers=h).status_code == 200
    assert client.patch(f"/campaigns/{cid}", json={"name": "late"}, headers=h).status_code == 409
    assert client.post(f"/campaigns/{cid}/status", json={"status": "ACTIVE"}, headers=h).status_code == 409
    assert client.get("/campaigns", params={"status": "COMPLETED"}, headers=h).json()["items"][0]["id"] == cid


def test_analytics_reads_before_the_marts_exist(client, as_):
    """Without the marts (dbt has not run in this database): the dashboard answers 503
    ANALYTICS_UNAVAILABLE, attribution 503 REVENUE_CALCULATION_ERROR (not even its approximation
    can be computed), a reversed range 422. The reads themselves run against the dbt-built
    marts of the scored world (test_api_mart_reads.py): no stand-in table here."""
    h = as_()
    r = client.get("/analytics/dashboard", headers=h)
    assert r.status_code == 503 and r.json()["code"] == "ANALYTICS_UNAVAILABLE"
    assert r.json()["context"]["table"] == "analytics.metrics_crm_daily"
    r = client.get("/analytics/attribution", headers=h)
    assert r.status_code == 503 and r.json()["code"] == "REVENUE_CALCULATION_ERROR"
    r = client.get(
        "/analytics/dashboard", params={"date_from": "2026-12-01", "date_to": "2026-11-01"}, headers=h
    )
    assert r.status_code == 422 and r.json()["context"]["field"] == "date_from"
