"""The fast lane (api.fastlane) and group-committed plain creates (api.core.batcher), over HTTP.

The test API runs one worker, so lanes are deterministic: the first request with a token this
process has never seen is verified and served by FastAPI; later ones with the same token take
the fast lane unless something in them needs FastAPI (idempotency key, bad body, ...)."""

from __future__ import annotations

import asyncio
import random
import uuid

import httpx
import pytest

from api.schemas.leads import SCORED_FIELDS


@pytest.fixture
def fresh(token, tenants):
    """Headers with a token the API has not seen yet (unique expiry: a new signature)."""

    def make(tenant: str = "a", role: str = "admin") -> dict[str, str]:
        ttl = 3600 + random.randrange(1, 10**6)
        return {"Authorization": f"Bearer {token(tenants[tenant], role, ttl_s=ttl)}"}

    return make


def _warm(client, headers) -> None:
    """One request that verifies the token (any route): afterwards it is in the cache."""
    assert client.get("/leads", params={"limit": 1}, headers=headers).status_code in (200, 403)


def _body(tag: str, **kw) -> dict:
    """A lead found again by its source (the e-mail is stored sealed)."""
    return {"email": f"{tag}-{uuid.uuid4().hex[:6]}@lane.test", "source": f"lane-{tag}", "tags": ["t"]} | kw


def test_both_lanes_answer_alike(client, fresh, owner_sql, tenants, readable):
    h = fresh()
    tag = uuid.uuid4().hex[:8]
    r1 = client.post("/leads", json=_body(tag, company="Acme"), headers=h | {"X-Request-ID": "req-1"})
    r2 = client.post("/leads", json=_body(tag, company="Acme"), headers=h | {"X-Request-ID": "req-2"})
    for r in (r1, r2):
        assert r.status_code == 201, r.text
        assert r.headers["etag"] == '"1"' and r.headers["content-type"] == "application/json"
    b1, b2 = r1.json(), r2.json()
    assert set(b1) == set(b2)
    varying = {"id", "email", "email_bidx", "created_at", "updated_at"}
    assert {k: v for k, v in b1.items() if k not in varying} == {
        k: v for k, v in b2.items() if k not in varying
    }
    assert b1["tenant_id"] == str(tenants["a"].id) and b1["company"] == "Acme" and b1["version"] == 1
    for body, rid in ((b1, "req-1"), (b2, "req-2")):
        assert (body["score"], body["score_reason"]) == (None, None)  # not scored yet
        row = {k: v for k, v in body.items() if k not in SCORED_FIELDS}  # the rest as stored
        stored = owner_sql("SELECT * FROM crm.leads WHERE id = %s", body["id"])[0]
        assert stored["email"].startswith("v2:dk") and readable("leads", stored)["email"] == body["email"]
        audit = owner_sql("SELECT * FROM crm.audit_log WHERE entity_id = %s", body["id"])
        assert len(audit) == 1 and audit[0]["before"] is None
        assert audit[0]["after"]["email"] == stored["email"]  # the row as stored: sealed
        assert {k: readable("leads", audit[0]["after"])[k] for k in row} == row
        assert audit[0]["request_id"] == rid and audit[0]["actor_type"] == "user"
        out = owner_sql("SELECT event_type, payload FROM crm.outbox WHERE key = %s", body["id"])
        assert [o["event_type"] for o in out] == ["crm.lead.created"]
        assert {k: readable("leads", out[0]["payload"]["payload"]["after"])[k] for k in row} == row


def test_what_the_fast_lane_hands_to_fastapi(client, fresh, owner_sql, tenants):
    h = fresh()
    _warm(client, h)
    tag = uuid.uuid4().hex[:8]
    # Idempotency-Key: stored and replayed
    k = {"Idempotency-Key": f"idem-{tag}"}
    body = _body(tag)
    r1, r2 = (client.post("/leads", json=body, headers=h | k) for _ in range(2))
    assert r1.status_code == r2.status_code == 201 and r1.json()["id"] == r2.json()["id"]
    assert r2.headers.get("idempotent-replayed") == "true"
    # invalid bodies: FastAPI's 422 naming the field
    for bad, field in (({"source": "web"}, "email"), (_body(tag, status="CONVERTED"), "status")):
        r = client.post("/leads", json=bad, headers=h)
        assert r.status_code == 422 and r.json()["context"]["field"] == field, r.text
    r = client.post("/leads", content=b'{"email": "x@y.z", "source": "web"', headers=h | _json())
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_ERROR"
    r = client.post("/leads", content=b'{"email": "x@y.z", "source": "web"}', headers=h | _text())
    assert r.status_code == 422
    # assigning another user: checked in the database first
    manager = str(tenants["a"].users["manager"])
    r = client.post("/leads", json=_body(tag, assigned_user_id=manager), headers=h)
    assert r.status_code == 201 and r.json()["assigned_user_id"] == manager
    r = client.post("/leads", json=_body(tag, assigned_user_id=str(tenants["b"].users["admin"])), headers=h)
    assert r.status_code == 422 and r.json()["context"]["field"] == "assigned_user_id"
    # roles: a sales_rep assigning someone else, an analyst at all
    rep = fresh(role="sales_rep")
    _warm(client, rep)
    assert client.post("/leads", json=_body(tag, assigned_user_id=manager), headers=rep).status_code == 403
    own = client.post("/leads", json=_body(tag), headers=rep)
    assert own.status_code == 201 and own.json()["assigned_user_id"] == str(tenants["a"].users["sales_rep"])
    analyst = fresh(role="analyst")
    _warm(client, analyst)
    assert client.post("/leads", json=_body(tag), headers=analyst).status_code == 403
    made = owner_sql("SELECT count(*) AS n FROM crm.leads WHERE source = %s", f"lane-{tag}")[0]["n"]
    assert made == 3  # the idempotent one, the manager's and the sales_rep's own


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def _text() -> dict[str, str]:
    return {"Content-Type": "text/plain"}


def test_concurrent_creates_each_commit_alone_or_not_at_all(api_url, fresh, owner_sql):
    """A burst of creates with the same token (shared statements) where some carry text
    Postgres refuses (NUL): those get 422, every other one 201 with its audit and outbox row."""
    h = fresh()
    tag = uuid.uuid4().hex[:8]
    bodies = [_body(tag, company="bad\x00name" if i % 7 == 3 else f"n{i}") for i in range(42)]

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=api_url, timeout=30) as c:
            await c.get("/leads", params={"limit": 1}, headers=h)
            return await asyncio.gather(*(c.post("/leads", json=b, headers=h) for b in bodies))

    responses = asyncio.run(burst())
    good = [r for b, r in zip(bodies, responses, strict=True) if "\x00" not in b["company"]]
    bad = [r for b, r in zip(bodies, responses, strict=True) if "\x00" in b["company"]]
    assert len(bad) == 6 and all(r.status_code == 422 for r in bad), [r.text for r in bad]
    assert all(r.json()["code"] == "VALIDATION_ERROR" for r in bad)
    assert all(r.status_code == 201 for r in good), [r.text for r in good if r.status_code != 201]
    ids = {r.json()["id"] for r in good}
    rows = owner_sql("SELECT id::text AS id FROM crm.leads WHERE source = %s", f"lane-{tag}")
    assert {r["id"] for r in rows} == ids
    audited = owner_sql(
        "SELECT entity_id::text AS id FROM crm.audit_log WHERE entity = 'leads' AND entity_id::text = ANY(%s)",
        list(ids),
    )
    assert sorted(a["id"] for a in audited) == sorted(ids)
    sent = owner_sql("SELECT key FROM crm.outbox WHERE key = ANY(%s)", list(ids))
    assert sorted(o["key"] for o in sent) == sorted(ids)


def test_a_personal_value_postgres_would_refuse_is_422_in_both_lanes(client, fresh, owner_sql):
    """Sealed, a NUL in a name would be stored; the API refuses it as Postgres did before."""
    h = fresh()
    _warm(client, h)
    tag = uuid.uuid4().hex[:8]
    for k in ({}, {"Idempotency-Key": f"nul-{tag}"}):
        r = client.post("/leads", json=_body(tag, first_name="bad\x00name"), headers=h | k)
        assert r.status_code == 422 and r.json()["context"]["field"] == "first_name", r.text
    assert owner_sql("SELECT count(*) AS n FROM crm.leads WHERE source = %s", f"lane-{tag}")[0]["n"] == 0
