"""Tenant isolation: through the API, and directly as the API's database role (`crm_api`),
whose row-level security holds even for a query with no tenant filter at all."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from api_testkit import WRITE_TABLES, count_rows
from sqlalchemy.engine import make_url

from crm.db import enter_tenant_pg

CRITERIA = {"all": [{"field": "lifecycle_stage", "op": "eq", "value": "ACTIVE"}]}
CRM_TABLES = (*WRITE_TABLES, "users", "tenants", "customer_segment_memberships", "idempotency_keys")


@pytest.fixture(scope="module")
def a_records(client, as_, tenants):
    h = as_("a")
    lead = client.post("/leads", json={"email": "secret@a.test", "source": "web"}, headers=h).json()
    deal = client.post("/deals", json={"name": "secret deal", "value": "9"}, headers=h).json()
    seg = client.post(
        "/segments", json={"name": f"s-{uuid.uuid4().hex[:6]}", "criteria": CRITERIA}, headers=h
    ).json()
    camp = client.post("/campaigns", json={"name": "c", "type": "SMS"}, headers=h).json()
    return {"lead": lead, "deal": deal, "segment": seg, "campaign": camp}


def test_other_tenant_cannot_read_or_write_through_the_api(client, as_, a_records, owner_sql, tenants):
    b = as_("b")
    before = count_rows(owner_sql)
    lead, deal = a_records["lead"], a_records["deal"]
    for path in (
        f"/leads/{lead['id']}",
        f"/deals/{deal['id']}",
        f"/segments/{a_records['segment']['id']}",
        f"/campaigns/{a_records['campaign']['id']}",
        f"/customers/{tenants['a'].customer_id}",
        f"/products/{tenants['a'].product_id}",
        f"/pipelines/{tenants['a'].pipeline_id}",
        f"/leads/{lead['id']}/activities",
        f"/leads/{lead['id']}/history",
    ):
        assert client.get(path, headers=b).status_code == 404, path
    writes = [
        ("patch", f"/leads/{lead['id']}", {"company": "pwned"}),
        ("post", f"/leads/{lead['id']}/convert", {}),
        ("post", f"/leads/{lead['id']}/assign", {"user_id": str(tenants["b"].users["admin"])}),
        ("post", f"/leads/{lead['id']}/activities", {"type": "NOTE_ADDED", "description": "x"}),
        ("post", f"/deals/{deal['id']}/stage", {"stage": "Proposal"}),
        ("post", f"/deals/{deal['id']}/won", {}),
        ("put", f"/deals/{deal['id']}/products/{tenants['b'].product_id}", {"quantity": 1}),
        ("post", f"/customers/{tenants['a'].customer_id}/stage", {"stage": "CHURNED"}),
        ("patch", f"/segments/{a_records['segment']['id']}", {"name": "pwned"}),
        ("post", f"/campaigns/{a_records['campaign']['id']}/status", {"status": "CANCELLED"}),
        ("patch", f"/products/{tenants['a'].product_id}", {"name": "pwned"}),
        # references into tenant a from tenant b's writes
        ("post", "/deals", {"name": "x", "value": "1", "lead_id": lead["id"]}),
        ("post", "/deals", {"name": "x", "value": "1", "pipeline_id": str(tenants["a"].pipeline_id)}),
        (
            "post",
            "/leads",
            {"email": "x@b.test", "source": "w", "assigned_user_id": str(tenants["a"].users["admin"])},
        ),
    ]
    for method, path, body in writes:
        r = getattr(client, method)(path, json=body, headers=b)
        assert r.status_code in (404, 422), (path, r.status_code, r.text)
    assert count_rows(owner_sql) == before
    lists = {
        x["id"]
        for p in ("/leads", "/deals", "/segments", "/campaigns", "/customers", "/products", "/pipelines")
        for x in client.get(p, params={"limit": 500}, headers=b).json()["items"]
    }
    assert not lists & {lead["id"], deal["id"], str(tenants["a"].customer_id), str(tenants["a"].product_id)}


@pytest.fixture
def as_crm_api(pg_url):
    url = make_url(pg_url).set(username="crm_api", password=None).render_as_string(False)
    with psycopg.connect(url) as conn:
        yield conn


def test_crm_api_role_is_not_owner_and_cannot_bypass(as_crm_api):
    row = as_crm_api.execute(
        "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False, True)
    owned = as_crm_api.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'crm' AND tableowner = 'crm_api'"
    ).fetchone()
    assert owned == (0,)
    no_rls = as_crm_api.execute(
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'crm' AND c.relkind = 'r' AND NOT c.relrowsecurity"
    ).fetchall()
    assert no_rls == []


def test_crm_api_sees_nothing_without_a_tenant(as_crm_api, a_records):
    for table in CRM_TABLES:
        assert as_crm_api.execute(f"SELECT count(*) FROM crm.{table}").fetchone() == (0,), table


def test_crm_api_sees_only_its_tenant_even_unfiltered(as_crm_api, owner_sql, tenants, a_records):
    a, b = tenants["a"].id, tenants["b"].id
    with as_crm_api.transaction(force_rollback=True):
        enter_tenant_pg(as_crm_api, a)
        for table in CRM_TABLES:
            col = "id" if table == "tenants" else "tenant_id"
            got = as_crm_api.execute(
                f"SELECT count(*), count(*) FILTER (WHERE {col} <> %s) FROM crm.{table}", (a,)
            ).fetchone()
            want = owner_sql(f"SELECT count(*) AS n FROM crm.{table} WHERE {col} = %s", a)[0]["n"]
            assert got == (want, 0), table
        # an UPDATE with no WHERE touches only tenant a
        n = as_crm_api.execute("UPDATE crm.leads SET company = 'bulk'").rowcount
        assert n == owner_sql("SELECT count(*) AS n FROM crm.leads WHERE tenant_id = %s", a)[0]["n"]
        # deleting everything deletes nothing of tenant b
        as_crm_api.execute("DELETE FROM crm.lead_activities")
    assert (
        owner_sql("SELECT count(*) AS n FROM crm.leads WHERE tenant_id = %s AND company = 'bulk'", b)[0]["n"]
        == 0
    )


def test_crm_api_cannot_write_into_another_tenant(as_crm_api, tenants):
    a, b = tenants["a"].id, tenants["b"].id
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_crm_api.transaction():
        enter_tenant_pg(as_crm_api, a)
        as_crm_api.execute(
            "INSERT INTO crm.leads (tenant_id, email, source) VALUES (%s, 'x@y.z', 'sql')", (b,)
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_crm_api.transaction():
        enter_tenant_pg(as_crm_api, a)
        as_crm_api.execute("UPDATE crm.leads SET tenant_id = %s", (b,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_crm_api.transaction():
        enter_tenant_pg(as_crm_api, a)
        as_crm_api.execute("UPDATE crm.audit_log SET action = 'forged'")  # append-only
    # the setting is per transaction: the next one sees nothing again
    assert as_crm_api.execute("SELECT count(*) FROM crm.leads").fetchone() == (0,)


def test_require_row_respects_tenants(as_crm_api, tenants):
    with pytest.raises(psycopg.errors.ForeignKeyViolation), as_crm_api.transaction():
        enter_tenant_pg(as_crm_api, tenants["a"].id)
        as_crm_api.execute(
            "SELECT crm.require_row('users', %s, 'assigned_user_id')", (tenants["b"].users["admin"],)
        )
