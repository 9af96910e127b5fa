"""Writes that touch more than their own record, over HTTP: making a pipeline the default
changes the old default as a versioned, audited change with its event; a sales_rep cannot
point its deal at another rep's lead; an Idempotency-Key belongs to the user who sent it."""

from __future__ import annotations

import uuid

STAGES = [
    {"name": "Open", "order": 1, "probability": 10},
    {"name": "Won", "order": 2, "probability": 100, "is_won": True},
]


def test_a_new_default_pipeline_flips_the_old_one_audited(client, as_, owner_sql, tenants):
    t = tenants["b"]
    old = owner_sql("SELECT * FROM crm.sales_pipelines WHERE tenant_id = %s AND is_default", t.id)
    assert len(old) == 1
    r = client.post(
        "/pipelines",
        json={"name": f"New {uuid.uuid4().hex[:4]}", "stages": STAGES, "is_default": True},
        headers=as_("b"),
    )
    assert r.status_code == 201, r.text
    new_id = r.json()["id"]
    after = owner_sql("SELECT * FROM crm.sales_pipelines WHERE id = %s", old[0]["id"])[0]
    assert after["is_default"] is False and after["version"] == old[0]["version"] + 1
    audit = owner_sql(
        "SELECT action, before, after FROM crm.audit_log WHERE entity = 'sales_pipelines' AND entity_id = %s",
        old[0]["id"],
    )
    assert [(a["action"], a["before"]["is_default"], a["after"]["is_default"]) for a in audit] == [
        ("updated", True, False)
    ]
    events = owner_sql(
        "SELECT payload FROM crm.outbox WHERE event_type = 'crm.pipeline.updated' AND key = %s",
        str(old[0]["id"]),
    )
    assert [e["payload"]["payload"]["changed_fields"] for e in events] == [["is_default"]]
    # and back through an update: the same rule
    r = client.patch(f"/pipelines/{old[0]['id']}", json={"is_default": True}, headers=as_("b"))
    assert r.status_code == 200, r.text
    flipped = owner_sql("SELECT is_default, version FROM crm.sales_pipelines WHERE id = %s", new_id)[0]
    assert flipped == {"is_default": False, "version": 2}
    assert (
        owner_sql("SELECT count(*) AS n FROM crm.sales_pipelines WHERE tenant_id = %s AND is_default", t.id)[
            0
        ]["n"]
        == 1
    )


def test_a_sales_rep_cannot_attach_another_reps_lead(client, as_, owner_sql):
    rep, rep2 = as_("a", "sales_rep"), as_("a", "sales_rep2")
    theirs = client.post("/leads", json={"email": "theirs@rep.test", "source": "web"}, headers=rep2).json()
    before = owner_sql("SELECT count(*) AS n FROM crm.deals")[0]["n"]
    r = client.post("/deals", json={"name": "grab", "value": "5", "lead_id": theirs["id"]}, headers=rep)
    assert r.status_code == 403 and r.json()["context"]["field"] == "lead_id", r.text
    assert owner_sql("SELECT count(*) AS n FROM crm.deals")[0]["n"] == before
    mine = client.post("/leads", json={"email": "mine@rep.test", "source": "web"}, headers=rep).json()
    ok = client.post("/deals", json={"name": "mine", "value": "5", "lead_id": mine["id"]}, headers=rep)
    assert ok.status_code == 201, ok.text
    # a manager may link any lead
    r = client.post(
        "/deals", json={"name": "any", "value": "5", "lead_id": theirs["id"]}, headers=as_("a", "manager")
    )
    assert r.status_code == 201


def test_an_idempotency_key_belongs_to_the_user_who_sent_it(client, as_, owner_sql, tenants):
    key = uuid.uuid4().hex
    body = {"email": "idem-scope@x.test", "source": "web"}
    admin = client.post("/leads", json=body, headers=as_("a", "admin") | {"Idempotency-Key": key})
    assert admin.status_code == 201
    again = client.post("/leads", json=body, headers=as_("a", "admin") | {"Idempotency-Key": key})
    assert again.headers.get("idempotent-replayed") == "true" and again.json()["id"] == admin.json()["id"]
    rep = client.post("/leads", json=body, headers=as_("a", "sales_rep") | {"Idempotency-Key": key})
    assert rep.status_code == 201 and "idempotent-replayed" not in rep.headers
    assert rep.json()["id"] != admin.json()["id"]
    assert rep.json()["assigned_user_id"] == str(tenants["a"].users["sales_rep"])
    rows = owner_sql("SELECT actor_id FROM crm.idempotency_keys WHERE key = %s ORDER BY created_at", key)
    assert {r["actor_id"] for r in rows} == {tenants["a"].users["admin"], tenants["a"].users["sales_rep"]}
