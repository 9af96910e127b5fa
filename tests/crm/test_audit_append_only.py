"""The audit log is append-only for every role, the owner included: updates, deletes and
truncation are refused (42501), while a tenant removed whole still takes its own audit rows
with it, and no other tenant's."""

from __future__ import annotations

import uuid

import psycopg
import pytest


def _tenant(conn: psycopg.Connection) -> str:
    tenant = str(uuid.uuid4())
    conn.execute(
        "insert into crm.tenants (id, slug, name) values (%s, %s, 'Audited')", (tenant, f"audit-{tenant[:8]}")
    )
    for action in ("create", "update"):
        conn.execute(
            "insert into crm.audit_log (tenant_id, actor_type, action, entity) values (%s, 'system', %s, 'leads')",
            (tenant, action),
        )
    return tenant


def _audit_rows(conn: psycopg.Connection, tenant: str) -> int:
    row = conn.execute("select count(*) from crm.audit_log where tenant_id = %s", (tenant,)).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize(
    "change",
    [
        "update crm.audit_log set action = 'forged' where tenant_id = %(t)s",
        "delete from crm.audit_log where tenant_id = %(t)s",
        "truncate crm.audit_log",
        "truncate crm.audit_log cascade",
    ],
)
def test_the_owner_cannot_change_or_remove_audit_rows(migrated_db: str, change: str) -> None:
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        owner = conn.execute(
            "select current_user = tableowner from pg_tables where schemaname = 'crm' and tablename = 'audit_log'"
        ).fetchone()
        assert owner == (True,)
        tenant = _tenant(conn)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(change, {"t": tenant})
        assert _audit_rows(conn, tenant) == 2
        assert conn.execute(
            "select count(*) from crm.audit_log where tenant_id = %s and action = 'forged'", (tenant,)
        ).fetchone() == (0,)


def test_a_tenant_removed_whole_takes_only_its_own_audit_rows(migrated_db: str) -> None:
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        gone, kept = _tenant(conn), _tenant(conn)
        conn.execute("delete from crm.tenants where id = %s", (gone,))
        assert _audit_rows(conn, gone) == 0
        assert _audit_rows(conn, kept) == 2
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from crm.audit_log where tenant_id = %s", (kept,))


def test_the_api_role_can_append_but_not_change(migrated_db: str) -> None:
    from sqlalchemy.engine import make_url

    with psycopg.connect(migrated_db, autocommit=True) as conn:
        tenant = _tenant(conn)
    from crm.db import enter_tenant_pg

    api_url = make_url(migrated_db).set(username="crm_api", password=None).render_as_string(False)
    with psycopg.connect(api_url) as conn:
        with conn.transaction():
            enter_tenant_pg(conn, tenant)
            conn.execute(
                "insert into crm.audit_log (tenant_id, actor_type, action, entity) values (%s, 'system', 'read', 'leads')",
                (tenant,),
            )
        for change in ("delete from crm.audit_log", "update crm.audit_log set action = 'forged'"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                enter_tenant_pg(conn, tenant)
                conn.execute(change)
    with psycopg.connect(migrated_db) as conn:
        assert _audit_rows(conn, tenant) == 3
