"""Credentials are only as good as what they name, over HTTP against real Postgres: a token
whose user does not exist, is inactive or belongs to another tenant is 401 and writes nothing;
an API key revoked through one API process stops working in another one long before that
process's key cache (60 s here) would have forgotten it."""

from __future__ import annotations

import time
import uuid

import httpx
from api_testkit import start_api, stop_api


def test_a_token_naming_no_user_is_401_and_writes_nothing(client, jwt_settings, tenants, owner_sql):
    from api.core.auth import mint_token

    t = tenants["a"]
    phantom = uuid.uuid4()
    tok = mint_token(jwt_settings, phantom, t.id, ["admin"])
    before = owner_sql("SELECT count(*) AS n FROM crm.audit_log")[0]["n"]
    r = client.post(
        "/leads", json={"email": "ghost@x.test", "source": "web"}, headers={"Authorization": f"Bearer {tok}"}
    )
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED", r.text
    assert owner_sql("SELECT count(*) AS n FROM crm.audit_log")[0]["n"] == before
    assert owner_sql("SELECT count(*) AS n FROM crm.audit_log WHERE actor_id = %s", phantom)[0]["n"] == 0
    # a real user named under another tenant is not found either
    other = mint_token(jwt_settings, tenants["b"].users["admin"], t.id, ["admin"])
    assert client.get("/leads", headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_inactive_users_and_tenants_are_refused(client, jwt_settings, tenants, owner_sql):
    from api.core.auth import mint_token

    t = tenants["b"]
    uid = uuid.uuid4()
    owner_sql(
        "INSERT INTO crm.users (id, tenant_id, email, full_name, role) VALUES (%s, %s, %s, 'Gone', 'manager')",
        uid,
        t.id,
        f"gone-{uid.hex[:6]}@b.test",
    )
    owner_sql("UPDATE crm.users SET is_active = false WHERE id = %s", uid)
    tok = mint_token(jwt_settings, uid, t.id, ["manager"])
    assert client.get("/leads", headers={"Authorization": f"Bearer {tok}"}).status_code == 401
    slug = f"dormant-{uuid.uuid4().hex[:6]}"
    tid, admin = uuid.uuid4(), uuid.uuid4()
    owner_sql(
        "INSERT INTO crm.tenants (id, slug, name, is_active) VALUES (%s, %s, 'Dormant', false)", tid, slug
    )
    owner_sql(
        "INSERT INTO crm.users (id, tenant_id, email, full_name, role) VALUES (%s, %s, %s, 'A', 'admin')",
        admin,
        tid,
        f"admin@{slug}.test",
    )
    tok = mint_token(jwt_settings, admin, tid, ["admin"])
    assert client.get("/leads", headers={"Authorization": f"Bearer {tok}"}).status_code == 401


def test_revocation_reaches_every_api_process(pg_url, crm_home, as_):
    env = {"API_KEY_CACHE_S": "60"}
    a, url_a = start_api(pg_url, crm_home, env)
    b, url_b = start_api(pg_url, crm_home, env)
    try:
        made = httpx.post(f"{url_a}/api-keys", json={"name": "rev", "scopes": ["leads:read"]}, headers=as_())
        kh = {"X-API-Key": made.json()["key"]}
        for url in (url_a, url_b):  # both processes now hold the key in their caches
            assert httpx.get(f"{url}/leads", headers=kh, params={"limit": 1}).status_code == 200
        assert httpx.delete(f"{url_a}/api-keys/{made.json()['id']}", headers=as_()).status_code == 200
        revoked_at = time.monotonic()
        accepted = 0
        while httpx.get(f"{url_b}/leads", headers=kh, params={"limit": 1}).status_code == 200:
            accepted += 1
            assert time.monotonic() - revoked_at < 30, "process B still trusts its cached key"
        print(f"\nrevocation reached the other process after {accepted} accepted request(s)")
        r = httpx.get(f"{url_b}/leads", headers=kh)
        assert r.status_code == 401 and "revoked" in r.json()["message"]
    finally:
        stop_api(a)
        stop_api(b)
