"""api_keys.last_used_at: written when a key is used, at most once per interval per key and
process, off the request path (api.core.key_usage)."""

from __future__ import annotations

import time
import uuid

import pytest

from api.core.auth import new_api_key
from api.core.config import ApiSettings
from api.core.db import Database, Pool
from api.core.key_usage import KeyUsage


def test_using_a_key_records_when(client, as_, owner_sql):
    r = client.post("/api-keys", json={"name": "usage", "scopes": ["leads:read"]}, headers=as_())
    assert r.status_code == 201
    key_id, key = r.json()["id"], r.json()["key"]
    assert owner_sql("SELECT last_used_at FROM crm.api_keys WHERE id = %s", key_id)[0]["last_used_at"] is None
    assert client.get("/leads", params={"limit": 1}, headers={"X-API-Key": key}).status_code == 200
    deadline = time.monotonic() + 30  # written in the background after the response
    while (row := owner_sql("SELECT * FROM crm.api_keys WHERE id = %s", key_id)[0])["last_used_at"] is None:
        assert time.monotonic() < deadline, "last_used_at was never written"
        time.sleep(0.1)
    assert row["last_used_at"] >= row["created_at"]
    # the listing shows it (admins spot unused keys there)
    listed = {k["id"]: k for k in client.get("/api-keys", headers=as_()).json()["items"]}
    assert listed[key_id]["last_used_at"] is not None


@pytest.fixture
async def db(pg_url):
    pool = Pool(ApiSettings().db_url(), 2)
    await pool.open(1)
    try:
        yield Database(pool)
    finally:
        await pool.close()


async def test_at_most_once_per_interval(db, tenants, owner_sql):
    t = tenants["a"]
    key_id = uuid.uuid4()
    _, prefix, digest = new_api_key()
    owner_sql(
        "INSERT INTO crm.api_keys (id, tenant_id, name, key_prefix, key_hash) VALUES (%s, %s, 'k', %s, %s)",
        key_id,
        t.id,
        prefix,
        digest,
    )

    def used() -> object:
        return owner_sql("SELECT last_used_at FROM crm.api_keys WHERE id = %s", key_id)[0]["last_used_at"]

    clock = [1000.0]
    usage = KeyUsage(db, interval_s=60, clock=lambda: clock[0])
    assert usage.note(key_id, t.id) is True
    await usage.flush()
    assert used() is not None
    owner_sql("UPDATE crm.api_keys SET last_used_at = NULL WHERE id = %s", key_id)
    clock[0] += 59
    assert usage.note(key_id, t.id) is False  # within the interval: no write at all
    await usage.flush()
    assert used() is None
    clock[0] += 2
    assert usage.note(key_id, t.id) is True
    await usage.flush()
    assert used() is not None
    # another process wrote it a moment ago: the UPDATE leaves it alone
    first = used()
    other = KeyUsage(db, interval_s=60)
    assert other.note(key_id, t.id) is True
    await other.flush()
    assert used() == first
