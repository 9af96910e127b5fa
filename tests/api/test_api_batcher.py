"""The group-committing insert (api.core.batcher) in-process, against the real database as the
API's role: concurrent writes share one statement; a write Postgres refuses fails alone; RLS
still decides what a tenant may insert."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from api.core.auth import Principal
from api.core.batcher import InsertBatcher
from api.core.config import ApiSettings
from api.core.db import Pool
from api.routes.leads import created_rows, new_lead
from api.schemas.leads import LeadCreate


@pytest.fixture
async def pool(pg_url):
    p = Pool(ApiSettings().db_url(), 4)
    await p.open(1)
    try:
        yield p
    finally:
        await p.close()


def _principal(tenant) -> Principal:
    uid = tenant.users["admin"]
    return Principal(tenant.id, uid, "user", frozenset({"leads:write"}), user_id=uid)


def _write(p: Principal, email: str, **kw) -> list:
    """A lead's rows, the lead found again by its source (`batch-<tag>`, the e-mail's prefix):
    its e-mail is stored sealed."""
    row = new_lead(p, LeadCreate(email=email, source=f"batch-{email.split('-')[0]}", **kw))
    return created_rows(p, row, None)


async def test_concurrent_writes_share_one_statement(pool, tenants, owner_sql):
    p = _principal(tenants["a"])
    tag = uuid.uuid4().hex[:8]
    batcher = InsertBatcher(pool, max_batch=64, max_inflight=1)
    writes = [_write(p, f"{tag}-{i}@batch.test") for i in range(20)]
    await asyncio.gather(*(batcher.insert(p.tenant_id, w) for w in writes))
    # the first write starts a statement; the 19 queued meanwhile share the next
    assert batcher.writes == 20 and batcher.statements <= 2
    ids = sorted(str(w[0][1]["id"]) for w in writes)
    leads = owner_sql("SELECT id::text AS id FROM crm.leads WHERE source = %s ORDER BY 1", f"batch-{tag}")
    assert [r["id"] for r in leads] == ids
    audit = owner_sql("SELECT count(*) AS n FROM crm.audit_log WHERE entity_id::text = ANY(%s)", ids)
    outbox = owner_sql("SELECT count(*) AS n FROM crm.outbox WHERE key = ANY(%s)", ids)
    assert audit[0]["n"] == outbox[0]["n"] == 20


async def test_a_refused_write_fails_alone(pool, tenants, owner_sql):
    p = _principal(tenants["a"])
    other = _principal(tenants["b"])
    tag = uuid.uuid4().hex[:8]
    batcher = InsertBatcher(pool, max_batch=64, max_inflight=1)
    writes = [_write(p, f"{tag}-{i}@batch.test") for i in range(8)]
    writes[2] = _write(p, f"{tag}-nul@batch.test", company="a\x00b")  # jsonb refuses NUL
    writes[5] = _write(other, f"{tag}-b@batch.test")  # tenant b's rows under tenant a: RLS refuses
    results = await asyncio.gather(*(batcher.insert(p.tenant_id, w) for w in writes), return_exceptions=True)
    assert isinstance(results[2], psycopg.DataError)
    assert isinstance(results[5], psycopg.errors.InsufficientPrivilege)
    assert [r for i, r in enumerate(results) if i not in (2, 5)] == [None] * 6
    stored = owner_sql("SELECT id FROM crm.leads WHERE source = %s", f"batch-{tag}")
    assert sorted(r["id"] for r in stored) == sorted(
        w[0][1]["id"] for i, w in enumerate(writes) if i not in (2, 5)
    )


async def test_tenants_never_share_a_statement(pool, tenants, owner_sql):
    a, b = _principal(tenants["a"]), _principal(tenants["b"])
    tag = uuid.uuid4().hex[:8]
    batcher = InsertBatcher(pool, max_batch=64, max_inflight=1)
    writes = [(a, _write(a, f"{tag}-a{i}@batch.test")) for i in range(5)]
    writes += [(b, _write(b, f"{tag}-b{i}@batch.test")) for i in range(5)]
    await asyncio.gather(*(batcher.insert(who.tenant_id, w) for who, w in writes))
    assert batcher.statements >= 2 and batcher.writes == 10
    rows = owner_sql("SELECT tenant_id, id FROM crm.leads WHERE source = %s", f"batch-{tag}")
    assert {(r["tenant_id"], r["id"]) for r in rows} == {(who.tenant_id, w[0][1]["id"]) for who, w in writes}
