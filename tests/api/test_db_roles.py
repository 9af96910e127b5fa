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
from crm.keys import staff
from crm.keys.keyring import Keyring, keyring
from crm.security import SET_TENANT, hash_password, hash_with, tenant_mac

ROLES = ("crm_api", "crm_reader")
ROLES_SEEDED = {"admin", "manager", "sales_rep", "analyst", "sales_rep2", "Old Timer"}
"""The full names the API's test tenants' users have (api_testkit), and the one stored before
encryption here."""


def _role_url(pg_url: str, role: str) -> str:
    return make_url(pg_url).set(username=role, password=None).render_as_string(False)


def _connect(pg_url: str, role: str) -> psycopg.Connection:
    return psycopg.connect(_role_url(pg_url, role))


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
                "SELECT email FROM crm.users",
                "SELECT role FROM crm.users",
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
        else:  # what the dashboards need to name an owner (opened and recorded): its tenant's ids and names
            rows = conn.execute("SELECT tenant_id, full_name FROM crm.users").fetchall()
            assert len(rows) >= 4 and {r[0] for r in rows} == {tenants["a"].id}
            ring = keyring(pg_url)  # the keys of this database, whatever DATABASE_URL names
            names = {staff.open_value(r[0], "full_name", r[1], ring) for r in rows}
            assert {"admin", "manager", "sales_rep", "analyst"} <= names  # opened; other tests add users too
        for gone in ("crm.user_for_login('x', 'y')", "crm.reader_signin_candidates('y')"):
            with pytest.raises(psycopg.errors.UndefinedFunction):
                conn.execute(f"SELECT * FROM {gone}")
            conn.rollback()


CHALLENGE = "SELECT settings, hash_len FROM crm.signin_challenge(%(email_bidx)s, %(email)s, %(tenant)s)"
VERIFY = "SELECT user_id, role, email, full_name FROM crm.signin_verify(%(email_bidx)s, %(email)s, %(hashes)s, %(tenant)s)"


@pytest.mark.parametrize("role", ROLES)
def test_sign_in_functions_never_return_a_hash(pg_url, owner_sql, tenants, role):
    from api_testkit import PASSWORD

    t = tenants["a"]
    email = f"manager@{t.slug}.test"
    stored = owner_sql("SELECT password_hash FROM crm.users WHERE id = %s", t.users["manager"])[0][
        "password_hash"
    ]
    ring = Keyring(url=_role_url(pg_url, role))  # the role reads the sign-in index key to look up
    found = staff.email_params("  Manager@" + t.slug.upper() + ".TEST ", ring) | {"tenant": t.slug}
    assert found["email_bidx"] and "manager" not in str(found["email_bidx"])
    nobody = staff.email_params("nobody@nowhere.test", ring) | {"tenant": t.slug}
    with _connect(pg_url, role) as conn:
        rows = conn.execute(CHALLENGE, found).fetchall()
        assert len(rows) == 1 and stored.startswith(rows[0][0] + "$") and stored not in rows[0][0]
        assert rows[0][0].count("$") == 4  # kind, version, parameters, salt: no hash
        unknown = conn.execute(CHALLENGE, nobody).fetchall()
        assert len(unknown) == 1 and unknown[0][0].count("$") == 4  # looks the same, no account
        again = conn.execute(CHALLENGE, nobody)
        assert again.fetchone()[0] == unknown[0][0]  # stable: asking twice tells nothing either
        right = hash_with(rows[0][0], rows[0][1], PASSWORD)
        wrong = hash_with(rows[0][0], rows[0][1], PASSWORD + "!")
        assert conn.execute(VERIFY, found | {"hashes": [wrong]}).fetchall() == []
        ((uid, got_role, sealed_email, sealed_name),) = conn.execute(
            VERIFY, found | {"hashes": [right]}
        ).fetchall()
        assert (uid, got_role) == (t.users["manager"], "manager")
        # e-mail and name as stored, sealed: the caller opens them under the tenant it now knows
        assert sealed_email.startswith("v2:dk") and sealed_name.startswith("v2:dk")
        assert staff.open_row(t.id, {"email": sealed_email, "full_name": sealed_name}, keyring(pg_url)) == {
            "email": email,
            "full_name": "manager",
        }
        assert conn.execute(VERIFY, found | {"hashes": [right], "tenant": tenants["b"].slug}).fetchall() == []
        assert conn.execute(VERIFY, found | {"hashes": [hash_password(PASSWORD)]}).fetchall() == []


@pytest.mark.parametrize("role", ROLES)
def test_a_user_stored_before_encryption_signs_in_by_its_text(pg_url, owner_sql, tenants, role):
    from api_testkit import PASSWORD

    t = tenants["a"]
    email = f"Legacy-{role}@{t.slug}.test"
    owner_sql(
        "INSERT INTO crm.users (tenant_id, email, full_name, role, password_hash) VALUES (%s, %s, 'Old Timer',"
        " 'analyst', %s)",
        t.id,
        email,
        hash_password(PASSWORD),
    )
    found = staff.email_params(email.lower(), Keyring(url=_role_url(pg_url, role))) | {"tenant": None}
    with _connect(pg_url, role) as conn:
        ((settings, hash_len),) = conn.execute(CHALLENGE, found).fetchall()
        right = hash_with(settings, hash_len, PASSWORD)
        rows = conn.execute(VERIFY, found | {"hashes": [right]}).fetchall()
    assert [r[1:] for r in rows] == [("analyst", email, "Old Timer")]  # readable as it was stored


def test_every_policy_and_view_keys_on_the_signed_tenant(owner_sql):
    raw = owner_sql(
        "SELECT schemaname || '.' || tablename || ' ' || policyname AS what FROM pg_policies"
        " WHERE coalesce(qual, '') || coalesce(with_check, '') LIKE '%%app.tenant_id%%'"
        " UNION ALL SELECT schemaname || '.' || viewname FROM pg_views"
        " WHERE definition LIKE '%%app.tenant_id%%' AND schemaname NOT IN ('pg_catalog', 'information_schema')"
    )
    assert raw == [], "read crm.current_tenant(), never the setting itself"
    restricted = owner_sql(  # but the deployment's keys, which belong to no tenant (sign-in's index key)
        "SELECT tablename FROM pg_policies WHERE roles && ARRAY['crm_api', 'crm_reader']::name[]"
        " AND coalesce(qual, with_check) NOT LIKE '%%crm.current_tenant()%%'"
    )
    assert restricted == [{"tablename": "deployment_keys"}]
