"""Reads of personal data through the API are recorded in crm.access_log: who (the caller and
its kind), what (the entity, the record for a one-record read), how many rows, which request.
Rows are written only through crm.record_access, for the transaction's signed tenant: the API's
role can neither write them directly nor change them, and a tenant sees only its own."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url


def _logged(owner_sql, request_id: str) -> list[dict]:
    return owner_sql(
        "select tenant_id, channel, actor_type, actor_id, entity, entity_id, row_count"
        " from crm.access_log where request_id = %s",
        request_id,
    )


def test_reads_of_leads_and_customers_are_recorded(client: httpx.Client, as_, tenants, owner_sql) -> None:
    a = tenants["a"]
    made = client.post(
        "/leads",
        json={"email": f"read-{uuid.uuid4().hex[:8]}@example.test", "source": "website"},
        headers=as_(),
    )
    assert made.status_code == 201, made.text
    lead_id = made.json()["id"]

    one = client.get(f"/leads/{lead_id}", headers=as_())
    assert one.status_code == 200
    assert _logged(owner_sql, one.headers["x-request-id"]) == [
        {
            "tenant_id": a.id,
            "channel": "api",
            "actor_type": "user",
            "actor_id": a.users["admin"],
            "entity": "leads",
            "entity_id": uuid.UUID(lead_id),
            "row_count": 1,
        }
    ]

    listed = client.get("/leads", params={"limit": 7}, headers=as_("a", "manager"))
    assert listed.status_code == 200
    shown = len(listed.json()["items"])
    assert shown >= 1
    [row] = _logged(owner_sql, listed.headers["x-request-id"])
    assert (row["entity"], row["entity_id"], row["row_count"], row["actor_id"]) == (
        "leads",
        None,
        shown,
        a.users["manager"],
    )

    customers = client.get("/customers", params={"limit": 3}, headers=as_())
    assert customers.status_code == 200
    [row] = _logged(owner_sql, customers.headers["x-request-id"])
    assert (row["entity"], row["row_count"]) == ("customers", len(customers.json()["items"]))

    # a read that finds nothing it may show records nothing
    missing = client.get(f"/leads/{uuid.uuid4()}", headers=as_())
    assert missing.status_code == 404
    assert _logged(owner_sql, missing.headers["x-request-id"]) == []


def test_the_api_role_only_appends_through_the_function_for_its_own_tenant(pg_url: str, tenants) -> None:
    from crm.db import enter_tenant_pg

    a, b = tenants["a"], tenants["b"]
    api_url = make_url(pg_url).set(username="crm_api", password=None).render_as_string(False)
    with psycopg.connect(api_url) as conn:
        with conn.transaction():
            enter_tenant_pg(conn, a.id)
            conn.execute(
                "select crm.record_access('api', 'user', %s, 'leads', null, 3, 'probe-a')",
                (a.users["admin"],),
            )
            mine = conn.execute(
                "select tenant_id, row_count from crm.access_log where request_id = 'probe-a'"
            )
            assert mine.fetchall() == [(a.id, 3)]
        with conn.transaction():
            enter_tenant_pg(conn, b.id)  # another tenant's session sees none of it
            seen = conn.execute("select count(*) from crm.access_log where request_id = 'probe-a'").fetchone()
            assert seen == (0,)
        for forbidden in (
            "insert into crm.access_log (tenant_id, channel, actor_type, entity, row_count)"
            f" values ('{b.id}', 'api', 'user', 'leads', 1)",
            "update crm.access_log set row_count = 0",
            "delete from crm.access_log",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                enter_tenant_pg(conn, a.id)
                conn.execute(forbidden)
        # without a tenant there is nothing to record a read for
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("select crm.record_access('api', 'user', null, 'leads', null, 1, 'probe-none')")


def test_the_owner_cannot_change_or_remove_access_rows(pg_url: str, tenants) -> None:
    from crm.db import enter_tenant_pg

    a = tenants["a"]
    with psycopg.connect(pg_url) as conn:
        with conn.transaction():
            enter_tenant_pg(conn, a.id)
            conn.execute("select crm.record_access('api', 'system', null, 'leads', null, 1, 'probe-owner')")
        for change in (
            "update crm.access_log set row_count = 0 where request_id = 'probe-owner'",
            "delete from crm.access_log where request_id = 'probe-owner'",
            "truncate crm.access_log",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"), conn.transaction():
                conn.execute(change)
        row = conn.execute("select row_count from crm.access_log where request_id = 'probe-owner'").fetchone()
        assert row == (1,)
