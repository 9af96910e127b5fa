"""Leads over HTTP: create, list/filter/page, read, update with versions, assign, activities,
convert, idempotent creates. Scores are read against the scored world (test_api_on_demand.py)."""

from __future__ import annotations

import uuid

import pytest


def _lead(client, headers, **kw):
    body = {"email": f"{uuid.uuid4().hex[:8]}@lead.test", "source": "web"} | kw
    r = client.post("/leads", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_create_lead_writes_row_audit_and_outbox(client, as_, owner_sql, tenants, readable):
    lead = _lead(client, as_(), first_name="Ada", tags=["vip"], custom_fields={"size": 10})
    assert lead["status"] == "NEW" and lead["version"] == 1 and lead["tenant_id"] == str(tenants["a"].id)
    assert (lead["score"], lead["score_reason"]) == (None, None)  # the lead scoring has not scored it
    assert lead["first_name"] == "Ada"
    row = readable("leads", owner_sql("SELECT * FROM crm.leads WHERE id = %s", lead["id"])[0])
    assert row["first_name"] == "Ada" and row["tags"] == ["vip"] and row["custom_fields"] == {"size": 10}
    audit = owner_sql("SELECT * FROM crm.audit_log WHERE entity_id = %s", lead["id"])
    assert [a["action"] for a in audit] == ["created"] and audit[0]["before"] is None
    assert readable("leads", audit[0]["after"])["email"] == lead["email"] and audit[0]["actor_type"] == "user"
    out = owner_sql("SELECT * FROM crm.outbox WHERE topic = 'crm-changes' AND key = %s", lead["id"])
    assert [o["event_type"] for o in out] == ["crm.lead.created"]
    env = out[0]["payload"]
    assert env["tenant_id"] == str(tenants["a"].id) and env["payload"]["after"]["id"] == lead["id"]
    assert env["source"] == "crm-api" and env["event_id"] == str(out[0]["event_id"])


@pytest.mark.parametrize(
    "body, field",
    [
        ({"source": "web"}, "email"),
        ({"email": "not-an-email", "source": "web"}, "email"),
        ({"email": "a@b.c"}, "source"),
        ({"email": "a@b.c", "source": "web", "status": "BOGUS"}, "status"),
        ({"email": "a@b.c", "source": "web", "colour": "red"}, "colour"),
        ({"email": "a@b.c", "source": "web", "status": "CONVERTED"}, "status"),
        ({"email": "a@b.c", "source": "web", "assigned_user_id": str(uuid.uuid4())}, "assigned_user_id"),
    ],
)
def test_create_lead_validation_names_the_field(client, as_, owner_sql, body, field):
    before = owner_sql("SELECT count(*) AS n FROM crm.leads")[0]["n"]
    r = client.post("/leads", json=body, headers=as_())
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["code"] in ("VALIDATION_ERROR", "REFERENCE_NOT_FOUND") and err["context"]["field"] == field
    assert owner_sql("SELECT count(*) AS n FROM crm.leads")[0]["n"] == before


def test_malformed_json_is_422(client, as_):
    r = client.post("/leads", content=b"{nope", headers=as_() | {"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_ERROR"


def test_list_filter_and_page(client, as_, tenants):
    src = f"src-{uuid.uuid4().hex[:6]}"
    ids = {_lead(client, as_(), source=src)["id"] for _ in range(5)}
    r = client.get("/leads", params={"source": src, "limit": 2}, headers=as_())
    assert r.status_code == 200
    page1 = r.json()
    assert len(page1["items"]) == 2 and page1["next_offset"] == 2
    seen = {i["id"] for i in page1["items"]}
    offset = page1["next_offset"]
    while offset is not None:
        page = client.get(
            "/leads", params={"source": src, "limit": 2, "offset": offset}, headers=as_()
        ).json()
        seen |= {i["id"] for i in page["items"]}
        offset = page["next_offset"]
    assert seen == ids
    r = client.get("/leads", params={"status": "NOPE"}, headers=as_())
    assert r.status_code == 422 and r.json()["context"]["field"] == "status"
    r = client.get("/leads", params={"limit": 0}, headers=as_())
    assert r.status_code == 422 and r.json()["context"]["field"] == "limit"


def test_get_lead_404(client, as_):
    r = client.get(f"/leads/{uuid.uuid4()}", headers=as_())
    assert r.status_code == 404 and r.json()["code"] == "LEAD_NOT_FOUND"
    r = client.get("/leads/not-a-uuid", headers=as_())
    assert r.status_code == 422 and r.json()["context"]["field"] == "lead_id"


def test_update_with_version_and_conflict(client, as_, owner_sql):
    lead = _lead(client, as_())
    r = client.patch(
        f"/leads/{lead['id']}", json={"status": "CONTACTED"}, headers=as_() | {"If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    assert r.json()["score"] is None  # an update answers the lead scoring's score: none yet
    # stale version: 409 and nothing written
    r = client.patch(f"/leads/{lead['id']}", json={"company": "X", "version": 1}, headers=as_())
    assert r.status_code == 409 and r.json()["code"] == "VERSION_CONFLICT"
    assert r.json()["context"]["current_version"] == 2
    assert owner_sql("SELECT company FROM crm.leads WHERE id = %s", lead["id"])[0]["company"] is None
    # status change leaves an activity row; audit has before/after
    acts = owner_sql("SELECT type, metadata FROM crm.lead_activities WHERE lead_id = %s", lead["id"])
    assert acts[0]["metadata"]["kind"] == "status_changed"
    audit = owner_sql(
        "SELECT before, after FROM crm.audit_log WHERE entity_id = %s AND action='updated'", lead["id"]
    )
    assert audit[0]["before"]["status"] == "NEW" and audit[0]["after"]["status"] == "CONTACTED"
    r = client.patch(f"/leads/{lead['id']}", json={}, headers=as_())
    assert r.status_code == 422
    r = client.patch(f"/leads/{lead['id']}", json={"email": None}, headers=as_())
    assert r.status_code == 422 and r.json()["context"]["field"] == "email"
    r = client.patch(f"/leads/{lead['id']}", json={"score": 100}, headers=as_())
    assert r.status_code == 422 and r.json()["context"]["field"] == "score"  # the lead scoring's
    r = client.patch(f"/leads/{lead['id']}", json={"company": "X"}, headers=as_() | {"If-Match": "garbage"})
    assert r.status_code == 422 and r.json()["context"]["field"] == "If-Match"
    r = client.patch(f"/leads/{uuid.uuid4()}", json={"company": "X"}, headers=as_())
    assert r.status_code == 404


def test_assign_and_activities(client, as_, tenants, owner_sql):
    lead = _lead(client, as_())
    rep = tenants["a"].users["sales_rep"]
    r = client.post(f"/leads/{lead['id']}/assign", json={"user_id": str(rep)}, headers=as_())
    assert r.status_code == 200 and r.json()["assigned_user_id"] == str(rep)
    r = client.post(
        f"/leads/{lead['id']}/assign", json={"user_id": str(tenants["b"].users["sales_rep"])}, headers=as_()
    )
    assert r.status_code == 422 and r.json()["code"] == "REFERENCE_NOT_FOUND"
    r = client.post(
        f"/leads/{lead['id']}/activities", json={"type": "CALL_MADE", "description": "intro"}, headers=as_()
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/leads/{lead['id']}/activities", json={"type": "DANCED", "description": "x"}, headers=as_()
    )
    assert r.status_code == 422 and r.json()["context"]["field"] == "type"
    r = client.post(
        f"/leads/{uuid.uuid4()}/activities", json={"type": "CALL_MADE", "description": "x"}, headers=as_()
    )
    assert r.status_code == 404
    r = client.get(f"/leads/{lead['id']}/activities", headers=as_())
    assert {a["type"] for a in r.json()["items"]} == {"CALL_MADE", "NOTE_ADDED"}
    assert owner_sql("SELECT last_activity_at FROM crm.leads WHERE id = %s", lead["id"])[0][
        "last_activity_at"
    ]
    hist = client.get(f"/leads/{lead['id']}/history", headers=as_()).json()["items"]
    assert [h["action"] for h in hist] == ["created", "updated"]


def test_convert_creates_then_links_customer(client, as_, owner_sql, tenants, readable):
    email = f"{uuid.uuid4().hex[:8]}@convert.test"
    lead = _lead(client, as_(), email=email, company="Initech")
    r = client.post(f"/leads/{lead['id']}/convert", json={}, headers=as_())
    assert r.status_code == 200, r.text
    out = r.json()
    assert (
        out["customer_created"] is True
        and out["lead"]["status"] == "CONVERTED"
        and out["lead"]["converted_at"]
    )
    cust = readable(
        "customers", owner_sql("SELECT * FROM crm.customers WHERE id = %s", out["customer"]["id"])[0]
    )
    assert out["customer"]["email"] == email and cust["email"] == email and cust["company"] == "Initech"
    # history kept: the lead row, its activities and the audit trail stay
    assert (
        owner_sql("SELECT customer_id FROM crm.leads WHERE id = %s", lead["id"])[0]["customer_id"]
        == cust["id"]
    )
    assert {
        o["event_type"]
        for o in owner_sql(
            "SELECT event_type FROM crm.outbox WHERE topic = 'crm-changes' AND key IN (%s, %s)",
            lead["id"],
            str(cust["id"]),
        )
    } == {"crm.lead.created", "crm.lead.converted", "crm.customer.created"}
    r = client.post(f"/leads/{lead['id']}/convert", json={}, headers=as_())
    assert r.status_code == 409 and r.json()["code"] == "LEAD_ALREADY_CONVERTED"
    # a second lead with the same e-mail links the same customer
    lead2 = _lead(client, as_(), email=email)
    out2 = client.post(f"/leads/{lead2['id']}/convert", json={}, headers=as_()).json()
    assert out2["customer_created"] is False and out2["customer"]["id"] == str(cust["id"])
    # explicit customer; a customer of another tenant is not found
    lead3 = _lead(client, as_())
    r = client.post(
        f"/leads/{lead3['id']}/convert", json={"customer_id": str(tenants["b"].customer_id)}, headers=as_()
    )
    assert r.status_code == 404 and r.json()["code"] == "CUSTOMER_NOT_FOUND"
    r = client.post(
        f"/leads/{lead3['id']}/convert", json={"customer_id": str(tenants["a"].customer_id)}, headers=as_()
    )
    assert r.status_code == 200 and r.json()["customer"]["id"] == str(tenants["a"].customer_id)
    r = client.patch(f"/leads/{lead3['id']}", json={"status": "LOST"}, headers=as_())
    assert r.status_code == 409


def test_idempotent_create(client, as_, owner_sql):
    key = uuid.uuid4().hex
    body = {"email": "idem@lead.test", "source": f"idem-{key[:6]}"}
    r1 = client.post("/leads", json=body, headers=as_() | {"Idempotency-Key": key})
    r2 = client.post("/leads", json=body, headers=as_() | {"Idempotency-Key": key})
    assert r1.status_code == r2.status_code == 201
    assert r1.json()["id"] == r2.json()["id"] and r2.headers.get("idempotent-replayed") == "true"
    assert r1.json()["score"] is None and r2.json()["score"] is None
    assert owner_sql("SELECT count(*) AS n FROM crm.leads WHERE source = %s", body["source"])[0]["n"] == 1
    r3 = client.post("/leads", json=body | {"first_name": "Other"}, headers=as_() | {"Idempotency-Key": key})
    assert r3.status_code == 422 and r3.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
