"""`Idempotency-Key` on creates: the first request's response is stored in the same
transaction as its write and replayed for a retry with the same key and body by the same
actor (user or API key): a key is scoped to who sent it, so another user of the tenant
replaying it gets nothing of the first one's.

A concurrent retry waits on the key's primary key until the first commits, then replays;
the same key with a different body is a 422 (`IDEMPOTENCY_KEY_REUSED`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from psycopg.types.json import Jsonb

from api.core.auth import Principal
from api.core.db import Conn, fetchone
from crm.errors import CRMError, CRMErrorCode


def request_hash(method: str, path: str, body: Any) -> str:
    raw = orjson.dumps([method, path, body], option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(raw).hexdigest()


async def claim(conn: Conn, p: Principal, key: str, req_hash: str) -> dict[str, Any] | None:
    """None: go ahead (the key is now ours). Otherwise the stored {status, body} to replay."""
    got = await fetchone(
        conn,
        "INSERT INTO crm.idempotency_keys (tenant_id, actor_id, key, request_hash) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING 1 AS ok",
        (p.tenant_id, p.actor_id, key, req_hash),
    )
    if got is not None:
        return None
    row = await fetchone(
        conn,
        "SELECT request_hash, response_status, response_body FROM crm.idempotency_keys"
        " WHERE actor_id = %s AND key = %s",
        (p.actor_id, key),
    )
    if row is None or row["response_status"] is None:  # pragma: no cover - vanished/rolled back
        raise CRMError(
            CRMErrorCode.DUPLICATE, "a request with this Idempotency-Key is in progress", {"key": key}
        )
    if row["request_hash"] != req_hash:
        raise CRMError(
            CRMErrorCode.IDEMPOTENCY_KEY_REUSED,
            "Idempotency-Key was already used with a different request",
            {"field": "Idempotency-Key", "key": key},
        )
    return {"status": row["response_status"], "body": row["response_body"]}


async def store(conn: Conn, p: Principal, key: str, status: int, body: Any) -> None:
    await conn.execute(
        "UPDATE crm.idempotency_keys SET response_status = %s, response_body = %s"
        " WHERE actor_id = %s AND key = %s",
        (status, Jsonb(body), p.actor_id, key),
    )
