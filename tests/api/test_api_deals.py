"""Deals over HTTP: create in the default pipeline, stage changes checked against the stage
definitions, won/lost, products and totals, activities, versions."""

from __future__ import annotations

import uuid


def _deal(client, headers, **kw):
    r = client.post(
        "/deals", json={"name": f"deal-{uuid.uuid4().hex[:6]}", "value": "1000.00"} | kw, headers=headers
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_create_deal_defaults_and_activity(client, as_, owner_sql, tenants):
    deal = _deal(client, as_())
    assert deal["pipeline_id"] == str(tenants["a"].pipeline_id)
    assert deal["stage"] == "Prospecting" and deal["probability"] == 10 and deal["value"] == "1000.00"
    acts = owner_sql("SELECT type FROM crm.deal_activities WHERE deal_id = %s", deal["id"])
    assert [a["type"] for a in acts] == ["CREATED"]
    changes = owner_sql(
        "SELECT event_type FROM crm.outbox WHERE topic = 'crm-changes' AND key = %s", deal["id"]
    )
    assert changes[0]["event_type"] == "crm.deal.created"


def test_create_deal_failures(client, as_, tenants):
    h = as_()
    r = client.post("/deals", json={"name": "x", "value": "10", "stage": "Nowhere"}, headers=h)
    assert (
        r.status_code == 422
        and r.json()["code"] == "DEAL_STAGE_INVALID"
        and "Proposal" in r.json()["context"]["allowed"]
    )
    r = client.post(
        "/deals", json={"name": "x", "value": "10", "pipeline_id": str(tenants["b"].pipeline_id)}, headers=h
    )
    assert r.status_code == 404 and r.json()["code"] == "PIPELINE_NOT_FOUND"
    r = client.post("/deals", json={"name": "x", "value": "-1"}, headers=h)
    assert r.status_code == 422 and r.json()["context"]["field"] == "value"
    r = client.post("/deals", json={"name": "x", "value": "10", "lead_id": str(uuid.uuid4())}, headers=h)
    assert (
        r.status_code == 422
        and r.json()["code"] == "REFERENCE_NOT_FOUND"
        and r.json()["context"]["field"] == "lead_id"
    )
    r = client.post("/deals", json={"name": "x", "value": "10", "currency": "usd"}, headers=h)
    assert r.status_code == 422 and r.json()["context"]["field"] == "currency"


def test_stage_change_won_lost(client, as_, owner_sql):
    h = as_()
    deal = _deal(client, h)
    r = client.post(f"/deals/{deal['id']}/stage", json={"stage": "Proposal", "version": 1}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "Proposal" and r.json()["probability"] == 60 and r.json()["version"] == 2
    r = client.post(f"/deals/{deal['id']}/stage", json={"stage": "Imaginary"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "DEAL_STAGE_INVALID"
    r = client.post(f"/deals/{deal['id']}/stage", json={"stage": "Negotiation", "version": 1}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "VERSION_CONFLICT"
    r = client.post(f"/deals/{deal['id']}/stage", json={"stage": "Closed Lost"}, headers=h)
    assert r.status_code == 422  # lost needs a reason
    r = client.post(f"/deals/{deal['id']}/won", json={"close_date": "2026-11-20T10:00:00Z"}, headers=h)
    assert r.status_code == 200 and r.json()["stage"] == "Closed Won" and r.json()["probability"] == 100
    assert r.json()["actual_close_date"].startswith("2026-11-20")
    r = client.post(f"/deals/{deal['id']}/stage", json={"stage": "Proposal"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "INVALID_STATUS_TRANSITION"
    types = [
        a["type"]
        for a in owner_sql(
            "SELECT type FROM crm.deal_activities WHERE deal_id = %s ORDER BY created_at, type", deal["id"]
        )
    ]
    assert types.count("STAGE_CHANGED") == 2 and "WON" in types
    assert {
        e["event_type"]
        for e in owner_sql(
            "SELECT event_type FROM crm.outbox WHERE topic = 'crm-changes' AND key = %s", deal["id"]
        )
    } == {"crm.deal.created", "crm.deal.stage_changed", "crm.deal.won"}

    lost = _deal(client, h)
    r = client.post(f"/deals/{lost['id']}/lost", json={}, headers=h)
    assert r.status_code == 422 and r.json()["context"]["field"] == "lost_reason"
    r = client.post(f"/deals/{lost['id']}/lost", json={"lost_reason": "budget"}, headers=h)
    assert r.status_code == 200 and r.json()["lost_reason"] == "budget" and r.json()["actual_close_date"]
    assert client.post(f"/deals/{uuid.uuid4()}/won", json={}, headers=h).status_code == 404


def test_update_deal_activities(client, as_, owner_sql, tenants):
    h = as_()
    deal = _deal(client, h)
    r = client.patch(
        f"/deals/{deal['id']}",
        json={
            "value": "2500.50",
            "probability": 35,
            "assigned_user_id": str(tenants["a"].users["sales_rep"]),
        },
        headers=h | {"If-Match": '"1"'},
    )
    assert r.status_code == 200 and r.json()["value"] == "2500.50"
    types = {
        a["type"] for a in owner_sql("SELECT type FROM crm.deal_activities WHERE deal_id = %s", deal["id"])
    }
    assert {"VALUE_UPDATED", "PROBABILITY_CHANGED", "ASSIGNED"} <= types
    r = client.patch(f"/deals/{deal['id']}", json={"stage": "Proposal"}, headers=h)
    assert r.status_code == 422 and r.json()["context"]["field"] == "stage"
    r = client.post(
        f"/deals/{deal['id']}/activities",
        json={"type": "MEETING_SCHEDULED", "description": "demo"},
        headers=h,
    )
    assert r.status_code == 201
    page = client.get(f"/deals/{deal['id']}/activities", headers=h).json()
    assert "MEETING_SCHEDULED" in {a["type"] for a in page["items"]}
    r = client.get("/deals", params={"assigned_user_id": str(tenants["a"].users["sales_rep"])}, headers=h)
    assert deal["id"] in {d["id"] for d in r.json()["items"]}


def test_deal_products(client, as_, owner_sql, tenants):
    h = as_()
    deal = _deal(client, h)
    pid = tenants["a"].product_id
    r = client.put(f"/deals/{deal['id']}/products/{pid}", json={"quantity": 3, "discount": "50"}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["unit_price"] == "100.00" and r.json()["total_price"] == "250.00"
    r = client.put(
        f"/deals/{deal['id']}/products/{pid}",
        json={"quantity": 2, "unit_price": "80", "discount": "0"},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["total_price"] == "160.00"
    r = client.put(f"/deals/{deal['id']}/products/{pid}", json={"quantity": 1, "discount": "500"}, headers=h)
    assert r.status_code == 422 and r.json()["context"]["field"] == "discount"
    r = client.put(f"/deals/{deal['id']}/products/{pid}", json={"quantity": 0}, headers=h)
    assert r.status_code == 422 and r.json()["context"]["field"] == "quantity"
    r = client.put(f"/deals/{deal['id']}/products/{tenants['b'].product_id}", json={"quantity": 1}, headers=h)
    assert r.status_code == 404 and r.json()["code"] == "PRODUCT_NOT_FOUND"
    got = client.get(f"/deals/{deal['id']}", headers=h).json()
    assert "predicted_probability" in got  # ml.deal_probabilities, null until scored
    assert [(p["quantity"], p["total_price"]) for p in got["products"]] == [(2, "160.00")]
    assert client.delete(f"/deals/{deal['id']}/products/{pid}", headers=h).status_code == 204
    assert client.delete(f"/deals/{deal['id']}/products/{pid}", headers=h).status_code == 404
    events = [
        e["event_type"]
        for e in owner_sql(
            "SELECT event_type FROM crm.outbox WHERE payload->'payload'->'after'->>'deal_id' = %s"
            " OR payload->'payload'->'before'->>'deal_id' = %s ORDER BY id",
            deal["id"],
            deal["id"],
        )
    ]
    assert events == ["crm.deal_product.created", "crm.deal_product.updated", "crm.deal_product.deleted"]
