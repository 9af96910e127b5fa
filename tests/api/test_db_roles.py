"""What each restricted database role can and cannot do, connected as that role (the threat
model of docs/operators.md): a leaked `crm_api` or `crm_reader` password gives one session,
and that session cannot name another tenant (a forged or replayed `app.tenant_id` is refused),
cannot read a password hash or the signing keys, and signs users in only through functions
that never return a hash."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy.engine import make_url

from crm.db import enter_tenant_pg
from crm.security import SET_TENANT, hash_password, hash_with, tenant_mac

ROLES = ("crm_api", "crm_reader")


def _connect(pg_url: str, role: str) -> psycopg.Connection:
    return psycopg.connect(make_url(pg_url).set(username=role, password=None).render_as_string(False))


@pytest.fixture(scope="module")
def seeded(owner_sql, tenants):
    """A lead and an ML score in tenant b: rows a forged session would want."""
    b = tenants["b"].id
    lead = uuid.uuid4()
    owner_sql(
        "INSERT INTO crm.leads (id, tenant_id, email, source) VALUES (%s, %s, 'secret@b.test', 'sql')",
        lead,
        b,
    )
    owner_sql(
        "INSERT INTO ml.lead_scores (tenant_id, lead_id, score, confidence, method, model_version)"
        " VALUES (%s, %s, 90, 0.9, 'rules', 'rules@1')",
        b,
        lead,
    )
    return lead


@pytest.mark.parametrize("role", ROLES)
def test_a_forged_tenant_setting_is_refused(pg_url, tenants, seeded, role):
    table = "crm.leads" if role == "crm_api" else "ml.lead_scores"
    with _connect(pg_url, role) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenants["b"].id),))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not signed"):
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        conn.rollback()
        # a MAC seen in another session (pg_stat_activity shows other sessions' statements) is no use
        with _connect(pg_url, role) as other:
            nonce = other.execute("SELECT crm.session_nonce()").fetchone()[0]
        conn.execute(SET_TENANT, (str(tenants["b"].id), tenant_mac(tenants["b"].id, nonce)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        conn.rollback()
        # a MAC made with another key (not the server's) neither
        conn.execute(SET_TENANT, (str(tenants["b"].id), tenant_mac(tenants["b"].id, "x", secret="guess")))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        conn.rollback()
        # signed for this session: its own tenant's rows, and only those
        enter_tenant_pg(conn, tenants["b"].id)
        assert conn.execute(
            f"SELECT count(*) FROM {table} WHERE tenant_id <> %s", (tenants["b"].id,)
        ).fetchone() == (0,)
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= 1
        conn.rollback()
        enter_tenant_pg(conn, tenants["a"].id)
        assert conn.execute(
            f"SELECT count(*) FROM {table} WHERE tenant_id = %s", (tenants["b"].id,)
        ).fetchone() == (0,)


@pytest.mark.parametrize("role", ROLES)
def test_no_session_reads_hashes_audit_or_signing_keys(pg_url, tenants, role):
    with _connect(pg_url, role) as conn:
        enter_tenant_pg(conn, tenants["a"].id)
        refused = [
            "SELECT password_hash FROM crm.users",
            "SELECT * FROM crm_secret.tenant_context_keys",
            "SELECT * FROM crm_secret.signin_salt_key",
        ]
        if role == "crm_reader":
            refused += [
                "SELECT id FROM crm.users",
                "SELECT * FROM crm.audit_log",
                "SELECT * FROM crm.api_keys",
            ]
        for sql in refused:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
            conn.rollback()
            enter_tenant_pg(conn, tenants["a"].id)
        if role == "crm_api":  # what the API needs: the user's own-tenant columns, the audit trail
            assert conn.execute("SELECT count(*) FROM crm.users WHERE is_active").fetchone()[0] >= 4
            conn.execute("SELECT entity, action FROM crm.audit_log LIMIT 1")
        for gone in ("crm.user_for_login('x', 'y')", "crm.reader_signin_candidates('y')"):
            with pytest.raises(psycopg.errors.UndefinedFunction):
                conn.execute(f"SELECT * FROM {gone}")
            conn.rollback()


@pytest.mark.parametrize("role", ROLES)
def test_sign_in_functions_never_return_a_hash(pg_url, owner_sql, tenants, role):
    from api_testkit import PASSWORD

    t = tenants["a"]
    email = f"manager@{t.slug}.test"
    stored = owner_sql("SELECT password_hash FROM crm.users WHERE email = %s", email)[0]["password_hash"]
    with _connect(pg_url, role) as conn:
        rows = conn.execute(
            "SELECT settings, hash_len FROM crm.signin_challenge(%s, %s)", (email, t.slug)
        ).fetchall()
        assert len(rows) == 1 and stored.startswith(rows[0][0] + "$") and stored not in rows[0][0]
        assert rows[0][0].count("$") == 4  # kind, version, parameters, salt: no hash
        unknown = conn.execute(
            "SELECT settings, hash_len FROM crm.signin_challenge(%s, %s)", ("nobody@nowhere.test", t.slug)
        ).fetchall()
        assert len(unknown) == 1 and unknown[0][0].count("$") == 4  # looks the same, no account
        again = conn.execute(
            "SELECT settings FROM crm.signin_challenge(%s, %s)", ("nobody@nowhere.test", t.slug)
        )
        assert again.fetchone()[0] == unknown[0][0]  # stable: asking twice tells nothing either
        right = hash_with(rows[0][0], rows[0][1], PASSWORD)
        wrong = hash_with(rows[0][0], rows[0][1], PASSWORD + "!")
        verify = "SELECT user_id, role FROM crm.signin_verify(%s, %s, %s)"
        assert conn.execute(verify, (email, [wrong], t.slug)).fetchall() == []
        assert conn.execute(verify, (email, [right], t.slug)).fetchall() == [(t.users["manager"], "manager")]
        assert conn.execute(verify, (email, [right], tenants["b"].slug)).fetchall() == []
        assert conn.execute(verify, (email, [hash_password(PASSWORD)], t.slug)).fetchall() == []


def test_every_policy_and_view_keys_on_the_signed_tenant(owner_sql):
    raw = owner_sql(
        "SELECT schemaname || '.' || tablename || ' ' || policyname AS what FROM pg_policies"
        " WHERE coalesce(qual, '') || coalesce(with_check, '') LIKE '%%app.tenant_id%%'"
        " UNION ALL SELECT schemaname || '.' || viewname FROM pg_views"
        " WHERE definition LIKE '%%app.tenant_id%%' AND schemaname NOT IN ('pg_catalog', 'information_schema')"
    )
    assert raw == [], "read crm.current_tenant(), never the setting itself"
    restricted = owner_sql(
        "SELECT count(*) AS n FROM pg_policies WHERE roles && ARRAY['crm_api', 'crm_reader']::name[]"
        " AND coalesce(qual, with_check) NOT LIKE '%%crm.current_tenant()%%'"
    )
    assert restricted[0]["n"] == 0
