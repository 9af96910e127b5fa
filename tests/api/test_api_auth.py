"""The auth matrix: no token, forged, expired, wrong tenant, wrong role -> 401/403/404 and
nothing written; sales_rep own records; API keys (hashed, scoped, revocable); sign-in;
rate limits."""

from __future__ import annotations

import asyncio
import uuid

import jwt
import pytest
from api_testkit import count_rows


def _count(owner_sql):
    return count_rows(owner_sql)


@pytest.mark.parametrize("case", ["none", "forged", "expired", "garbage", "bad_role", "wrong_aud"])
def test_bad_credentials_are_401_and_write_nothing(client, owner_sql, token, tenants, jwt_settings, case):
    t = tenants["a"]
    claims = {
        "sub": str(t.users["admin"]),
        "tenant": str(t.id),
        "roles": ["admin"],
        "exp": 2_000_000_000,
        "iss": "crm",
        "aud": "crm-api",
    }
    headers = {
        "none": {},
        "forged": {
            "Authorization": "Bearer "
            + jwt.encode(claims, "not-the-secret-but-long-enough-for-hs256-ok", algorithm="HS256")
        },
        "expired": {"Authorization": "Bearer " + token(t, "admin", ttl_s=-60)},
        "garbage": {"Authorization": "Bearer abc.def.ghi"},
        "bad_role": {
            "Authorization": "Bearer "
            + jwt.encode(claims | {"roles": ["god"]}, jwt_settings.core.jwt_secret.get_secret_value())
        },
        "wrong_aud": {
            "Authorization": "Bearer "
            + jwt.encode(claims | {"aud": "other"}, jwt_settings.core.jwt_secret.get_secret_value())
        },
    }[case]
    before = _count(owner_sql)
    r = client.post("/leads", json={"email": "x@y.z", "source": "web"}, headers=headers)
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "UNAUTHENTICATED" and r.headers["www-authenticate"] == "Bearer"
    if case == "expired":
        assert r.json()["message"] == "token expired"
    assert client.get("/leads", headers=headers).status_code == 401
    assert _count(owner_sql) == before


@pytest.mark.parametrize(
    "role, method, path, body, expected",
    [
        ("analyst", "post", "/leads", {"email": "a@b.c", "source": "web"}, 403),
        ("analyst", "get", "/leads", None, 200),
        ("analyst", "get", "/analytics/dashboard", None, (200, 503)),
        ("analyst", "post", "/products", {"name": "p", "price": "1"}, 403),
        (
            "sales_rep",
            "post",
            "/pipelines",
            {"name": "p", "stages": [{"name": "a", "order": 1, "probability": 1}]},
            403,
        ),
        ("sales_rep", "post", "/campaigns", {"name": "c", "type": "EMAIL"}, 403),
        ("sales_rep", "post", "/segments", {"name": "s", "criteria": {"all": []}}, 403),
        ("sales_rep", "get", "/products", None, 200),
        ("manager", "post", "/api-keys", {"name": "k", "scopes": ["leads:read"]}, 403),
        ("manager", "post", "/products", {"name": "p", "price": "1"}, 201),
    ],
)
def test_role_matrix(client, as_, owner_sql, role, method, path, body, expected):
    before = _count(owner_sql)
    r = getattr(client, method)(path, headers=as_("a", role), **({"json": body} if body is not None else {}))
    assert r.status_code in (expected if isinstance(expected, tuple) else (expected,)), r.text
    if r.status_code == 403:
        assert r.json()["code"] == "FORBIDDEN" and r.json()["context"]["permission"]
        assert _count(owner_sql) == before


def test_sales_rep_sees_and_changes_only_its_own(client, as_, tenants, owner_sql):
    rep, rep2 = as_("a", "sales_rep"), as_("a", "sales_rep2")
    lead = client.post("/leads", json={"email": "mine@rep.test", "source": "web"}, headers=rep).json()
    assert lead["assigned_user_id"] == str(tenants["a"].users["sales_rep"])
    other = client.post(
        "/leads",
        json={
            "email": "x@rep.test",
            "source": "web",
            "assigned_user_id": str(tenants["a"].users["sales_rep2"]),
        },
        headers=rep,
    )
    assert other.status_code == 403
    assert client.get(f"/leads/{lead['id']}", headers=rep).status_code == 200
    assert client.get(f"/leads/{lead['id']}", headers=rep2).status_code == 403
    r = client.patch(f"/leads/{lead['id']}", json={"company": "stolen"}, headers=rep2)
    assert r.status_code == 403
    assert owner_sql("SELECT company FROM crm.leads WHERE id = %s", lead["id"])[0]["company"] is None
    ids2 = {x["id"] for x in client.get("/leads", params={"limit": 500}, headers=rep2).json()["items"]}
    assert lead["id"] not in ids2
    ids1 = client.get("/leads", params={"limit": 500}, headers=rep).json()["items"]
    assert ids1 and all(x["assigned_user_id"] == str(tenants["a"].users["sales_rep"]) for x in ids1)
    deal = client.post("/deals", json={"name": "rep deal", "value": "5"}, headers=rep).json()
    assert (
        client.post(f"/deals/{deal['id']}/stage", json={"stage": "Proposal"}, headers=rep2).status_code == 403
    )
    assert (
        client.post(f"/deals/{deal['id']}/stage", json={"stage": "Proposal"}, headers=rep).status_code == 200
    )
    # managers see everything
    assert client.get(f"/leads/{lead['id']}", headers=as_("a", "manager")).status_code == 200


def test_api_keys_scoped_and_revocable(client, as_, owner_sql, tenants):
    r = client.post(
        "/api-keys", json={"name": "forms", "scopes": ["leads:write", "leads:read"]}, headers=as_()
    )
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    stored = owner_sql("SELECT key_hash, key_prefix FROM crm.api_keys WHERE id = %s", r.json()["id"])[0]
    assert (
        key not in stored["key_hash"]
        and stored["key_hash"].startswith("sha256$")
        and stored["key_prefix"] in key
    )
    assert "key_hash" not in r.json()
    kh = {"X-API-Key": key}
    lead = client.post("/leads", json={"email": "form@key.test", "source": "form"}, headers=kh)
    assert lead.status_code == 201
    audit = owner_sql(
        "SELECT actor_type, actor_id FROM crm.audit_log WHERE entity_id = %s", lead.json()["id"]
    )[0]
    assert audit["actor_type"] == "api_key" and str(audit["actor_id"]) == r.json()["id"]
    assert client.get("/deals", headers=kh).status_code == 403
    assert client.get(f"/leads/{lead.json()['id']}", headers=kh).status_code == 200
    # another tenant's key cannot see it
    rb = client.post("/api-keys", json={"name": "b", "scopes": ["leads:read"]}, headers=as_("b")).json()
    assert client.get(f"/leads/{lead.json()['id']}", headers={"X-API-Key": rb["key"]}).status_code == 404
    listed = client.get("/api-keys", headers=as_()).json()["items"]
    assert all("key_hash" not in k for k in listed) and r.json()["id"] in {k["id"] for k in listed}
    assert client.delete(f"/api-keys/{r.json()['id']}", headers=as_()).status_code == 200
    r2 = client.post("/leads", json={"email": "late@key.test", "source": "form"}, headers=kh)
    assert r2.status_code == 401 and "revoked" in r2.json()["message"]
    assert client.get("/leads", headers={"X-API-Key": key[:-3] + "abc"}).status_code == 401
    assert client.get("/leads", headers={"X-API-Key": "nonsense"}).status_code == 401
    r = client.post("/api-keys", json={"name": "x", "scopes": ["everything"]}, headers=as_())
    assert r.status_code == 422 and r.json()["context"]["field"] == "scopes"
    assert client.delete(f"/api-keys/{uuid.uuid4()}", headers=as_()).status_code == 404


def test_sign_in(client, tenants):
    from api_testkit import PASSWORD

    t = tenants["a"]
    r = client.post(
        "/auth/token", json={"tenant": t.slug, "email": "manager@" + t.slug + ".test", "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    tok = r.json()["access_token"]
    assert client.get("/leads", headers={"Authorization": f"Bearer {tok}"}).status_code == 200
    r = client.post(
        "/auth/token", json={"tenant": t.slug, "email": "manager@" + t.slug + ".test", "password": "nope"}
    )
    assert r.status_code == 401
    r = client.post(
        "/auth/token",
        json={"tenant": tenants["b"].slug, "email": "manager@" + t.slug + ".test", "password": PASSWORD},
    )
    assert r.status_code == 401


def test_a_sealed_user_signs_in_by_the_index_and_one_stored_before_encryption_by_its_text(
    client, tenants, owner_sql
):
    """Staff e-mails are stored sealed and found by the deployment's sign-in index (in any case);
    an account stored before encryption is found by its text; an unknown one is a 401 alike."""
    from api_testkit import PASSWORD

    from crm.keys import personal
    from crm.security import hash_password

    t = tenants["a"]
    (stored,) = owner_sql(
        "SELECT email, full_name, email_bidx FROM crm.users WHERE id = %s", t.users["sales_rep"]
    )
    assert (
        personal.is_sealed(stored["email"])
        and personal.is_sealed(stored["full_name"])
        and stored["email_bidx"]
    )
    r = client.post(
        "/auth/token",
        json={"tenant": t.slug, "email": f"Sales_Rep@{t.slug.upper()}.test", "password": PASSWORD},
    )
    assert r.status_code == 200, r.text
    legacy = f"before-{uuid.uuid4().hex[:6]}@{t.slug}.test"
    owner_sql(
        "INSERT INTO crm.users (tenant_id, email, full_name, role, password_hash) VALUES (%s, %s, 'Old', 'analyst', %s)",
        t.id,
        legacy,
        hash_password(PASSWORD),
    )
    r = client.post("/auth/token", json={"tenant": t.slug, "email": legacy.upper(), "password": PASSWORD})
    assert r.status_code == 200, r.text
    lead = client.get("/leads", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert lead.status_code == 200
    for email, password in ((legacy, "nope"), (f"nobody-{uuid.uuid4().hex[:6]}@{t.slug}.test", PASSWORD)):
        r = client.post("/auth/token", json={"tenant": t.slug, "email": email, "password": password})
        assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED"


def test_rate_limit_429_with_retry_after(pg_url, crm_home, token, tenants):
    import httpx
    from api_testkit import start_api, stop_api

    proc, url = start_api(pg_url, crm_home, {"API_RATE_LIMIT": "3", "API_RATE_WINDOW_S": "60"})
    try:
        h = {"Authorization": f"Bearer {token(tenants['a'], 'analyst')}"}
        codes = [httpx.get(f"{url}/leads", headers=h, params={"limit": 1}).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = httpx.get(f"{url}/leads", headers=h)
        assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"
        assert 1 <= int(r.headers["retry-after"]) <= 61
        # limits are per principal: another user is not affected
        h2 = {"Authorization": f"Bearer {token(tenants['a'], 'manager')}"}
        assert httpx.get(f"{url}/leads", headers=h2, params={"limit": 1}).status_code == 200
    finally:
        stop_api(proc)


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_rate_limiter_backends(backend, redis_url):
    from api.core.ratelimit import RateLimited, RateLimiter

    url = redis_url if backend == "redis" else None

    async def run():
        lim = RateLimiter(2, 60, url, f"crm:test:{uuid.uuid4().hex}:")
        try:
            await lim.hit("k")
            await lim.hit("k")
            with pytest.raises(RateLimited) as exc:
                await lim.hit("k")
            await lim.hit("other")
            return exc.value
        finally:
            await lim.close()

    err = asyncio.run(run())
    assert err.status == 429 and err.retry_after >= 1


def test_sign_in_is_throttled_per_account_and_per_client(pg_url, crm_home, tenants):
    """Past the account's limit even the right password is 429 (Retry-After) for a while, an
    unknown account is counted the same way, and one client cannot try account after account."""
    import httpx
    from api_testkit import PASSWORD, start_api, stop_api

    env = {"API_LOGIN_ACCOUNT_LIMIT": "3", "API_LOGIN_CLIENT_LIMIT": "8", "API_LOGIN_WINDOW_S": "60"}
    proc, url = start_api(pg_url, crm_home, env)
    t = tenants["a"]

    def sign_in(email: str, password: str = "wrong") -> httpx.Response:
        return httpx.post(f"{url}/auth/token", json={"tenant": t.slug, "email": email, "password": password})

    try:
        known = f"analyst@{t.slug}.test"
        assert [sign_in(known).status_code for _ in range(3)] == [401, 401, 401]
        r = sign_in(known, PASSWORD)
        assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"
        assert 1 <= int(r.headers["retry-after"]) <= 61
        unknown = f"nobody-{uuid.uuid4().hex[:6]}@{t.slug}.test"
        codes = [sign_in(unknown).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]  # the same answers as for a real account
        # the client has made 8 attempts: any other account is refused too
        r = sign_in(f"manager@{t.slug}.test", PASSWORD)
        assert r.status_code == 429 and "retry-after" in r.headers
    finally:
        stop_api(proc)


def test_rate_limits_are_shared_by_every_api_process(pg_url, crm_home, token, tenants, redis_url):
    """Two API processes on the stack's Redis: one principal's limit counts requests to both
    (per process it would have let through twice as many)."""
    import httpx
    from api_testkit import start_api, stop_api

    prefix = f"crm:test:{uuid.uuid4().hex[:8]}:"  # one deployment: both processes share it
    env = {
        "API_RATE_LIMIT": "6",
        "API_RATE_WINDOW_S": "60",
        "REDIS_URL": redis_url,
        "API_REDIS_PREFIX": prefix,
    }
    a, url_a = start_api(pg_url, crm_home, env)
    b, url_b = start_api(pg_url, crm_home, env)
    try:
        h = {"Authorization": f"Bearer {token(tenants['b'], 'analyst')}"}
        assert httpx.get(f"{url_a}/health").json()["rate_limit_backend"] == "redis"
        codes = [
            httpx.get(f"{u}/leads", headers=h, params={"limit": 1}).status_code for u in (url_a, url_b) * 4
        ]
        assert codes == [200] * 6 + [429, 429]
    finally:
        stop_api(a)
        stop_api(b)


def test_sign_in_counts_are_shared_by_every_api_process_under_keyed_names(
    pg_url, crm_home, tenants, redis_url
):
    """An account's failed sign-ins count across API processes on the stack's Redis, and the
    store names the account by an HMAC under the deployment's secret: not a digest anyone
    could recompute from a guessed e-mail."""
    import hashlib

    import httpx
    import redis
    from api_testkit import start_api, stop_api

    prefix = f"crm:test:{uuid.uuid4().hex[:8]}:"
    env = {
        "API_LOGIN_ACCOUNT_LIMIT": "3",
        "API_LOGIN_CLIENT_LIMIT": "100",
        "API_LOGIN_WINDOW_S": "60",
        "REDIS_URL": redis_url,
        "API_REDIS_PREFIX": prefix,
    }
    a, url_a = start_api(pg_url, crm_home, env)
    b, url_b = start_api(pg_url, crm_home, env)
    t = tenants["a"]
    email = f"analyst@{t.slug}.test"
    try:
        codes = [
            httpx.post(
                f"{u}/auth/token", json={"tenant": t.slug, "email": email, "password": "wrong"}
            ).status_code
            for u in (url_a, url_b, url_a, url_b)
        ]
        assert codes == [401, 401, 401, 429]
        keys = [k.decode() for k in redis.Redis.from_url(redis_url).scan_iter(f"{prefix}login:acct:*")]
        assert len(keys) == 1
        plain = hashlib.sha256(f"{t.slug}\0{email}".encode()).hexdigest()[:32]
        assert plain not in keys[0]
    finally:
        stop_api(a)
        stop_api(b)
