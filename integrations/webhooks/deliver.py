"""The deliverer: claims due deliveries, sends them signed with several requests in flight,
logs every attempt, retries with backoff and dead-letters after the last attempt.

Claiming moves a delivery's `next_attempt_at` a lease ahead (`FOR UPDATE SKIP LOCKED`), so
several deliverers share the queue and a crashed one's claims come due again. The webhook-id
is the delivery's id: the same on every retry and replay, so a receiver can drop repeats.
A batch's outcomes are written in one transaction (a few set-based statements), so the
database costs the same whether a batch holds one delivery or a thousand. A delivery stores its
event as the outbox holds it (people's values sealed); the request body opens them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import aiohttp
import psycopg
from psycopg.rows import dict_row

from crm.keys.keyring import keyring
from crm.secrets import KeyUnavailable
from integrations.webhooks.config import WebhookSettings
from integrations.webhooks.outbound import body_of, readable, signed_headers, signing_secrets
from integrations.webhooks.retry import backoff_s
from integrations.webhooks.targets import PublicResolver, TargetRefused, check_url

CLAIM = """
UPDATE crm.webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => %(lease)s)
FROM crm.webhook_subscriptions s
WHERE s.id = d.subscription_id AND d.id IN (
    SELECT d2.id FROM crm.webhook_deliveries d2
    JOIN crm.webhook_subscriptions s2 ON s2.id = d2.subscription_id AND s2.is_active
    WHERE d2.status = 'pending' AND d2.next_attempt_at <= now()
    ORDER BY d2.next_attempt_at LIMIT %(batch)s FOR UPDATE OF d2 SKIP LOCKED)
RETURNING d.id, d.tenant_id, d.subscription_id, d.payload, d.attempts, s.url, s.secret_enc,
    s.previous_secret_enc, s.previous_secret_expires_at
"""

RECORD_ATTEMPTS = """
INSERT INTO crm.webhook_delivery_attempts (tenant_id, delivery_id, attempt, status_code, latency_ms, error)
SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::int[], %s::int[], %s::int[], %s::text[])
"""
DELIVERED = """
UPDATE crm.webhook_deliveries d SET status = 'delivered', attempts = v.attempt,
    last_status_code = v.code, last_error = NULL, delivered_at = now()
FROM unnest(%s::uuid[], %s::int[], %s::int[]) AS v(id, attempt, code) WHERE d.id = v.id
"""
RETRY = """
UPDATE crm.webhook_deliveries d SET attempts = v.attempt, last_status_code = v.code,
    last_error = v.error, next_attempt_at = now() + make_interval(secs => v.delay)
FROM unnest(%s::uuid[], %s::int[], %s::int[], %s::text[], %s::float8[]) AS v(id, attempt, code, error, delay)
WHERE d.id = v.id
"""
DEAD = """
UPDATE crm.webhook_deliveries d SET status = 'dead', attempts = v.attempt, last_status_code = v.code,
    last_error = v.error, dead_at = now()
FROM unnest(%s::uuid[], %s::int[], %s::int[], %s::text[]) AS v(id, attempt, code, error) WHERE d.id = v.id
"""


@dataclass
class Outcome:
    row: dict[str, Any]
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


async def send(
    client: aiohttp.ClientSession, row: dict[str, Any], secrets: list[str], body: bytes | None = None
) -> Outcome:
    """One signed POST of a claimed delivery (no redirects followed: a 3xx is a failure).
    `body`: the request body made already (default: the payload as it is)."""
    started = time.perf_counter()
    code: int | None = None
    error: str | None = None
    try:
        check_url(row["url"], resolve=False)  # a name is checked by the resolver, when connecting
        body = body if body is not None else body_of(row["payload"])
        headers = signed_headers(secrets, f"msg_{row['id'].hex}", body)
        async with client.post(row["url"], data=body, headers=headers, allow_redirects=False) as response:
            await response.read()  # the connection goes back to the pool only once read
            code = response.status
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except TargetRefused as exc:
        error = f"target refused: {exc}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    return Outcome(row, code, int((time.perf_counter() - started) * 1000), error)


def record(conn: psycopg.Connection[Any], outcomes: list[Outcome], s: WebhookSettings) -> dict[str, int]:
    """Write a batch's attempts and their deliveries' new states in one transaction."""
    by: dict[str, list[Outcome]] = {"delivered": [], "retry": [], "dead": []}
    for o in outcomes:
        attempt = o.row["attempts"] + 1
        by["delivered" if o.ok else "dead" if attempt >= s.max_attempts else "retry"].append(o)

    def cols(os: list[Outcome]) -> tuple[list[UUID], list[int], list[int | None], list[str | None]]:
        return (
            [o.row["id"] for o in os],
            [o.row["attempts"] + 1 for o in os],
            [o.status_code for o in os],
            [o.error for o in os],
        )

    with conn.transaction():
        ids, attempts, codes, errors = cols(outcomes)
        tenants = [o.row["tenant_id"] for o in outcomes]
        conn.execute(
            RECORD_ATTEMPTS, (tenants, ids, attempts, codes, [o.latency_ms for o in outcomes], errors)
        )
        if by["delivered"]:
            conn.execute(DELIVERED, cols(by["delivered"])[:3])
        if by["dead"]:
            conn.execute(DEAD, cols(by["dead"]))
        if by["retry"]:
            delays = [backoff_s(a, s.retry_base_s, s.retry_cap_s) for a in cols(by["retry"])[1]]
            conn.execute(RETRY, (*cols(by["retry"]), delays))
    return {k: len(v) for k, v in by.items()}


def _secrets(rows: list[dict[str, Any]], url: str) -> dict[UUID, list[str]]:
    """Each subscription's signing secrets, decrypted once per batch."""
    now = datetime.now(UTC)
    out: dict[UUID, list[str]] = {}
    for r in rows:
        if r["subscription_id"] not in out:
            out[r["subscription_id"]] = signing_secrets(r, now, url)
    return out


def _bodies(rows: list[dict[str, Any]], url: str) -> dict[UUID, bytes | str]:
    """Each delivery's request body with people's values opened (`outbound.readable`), or why
    it cannot be made (a value that does not open: the delivery is retried, then dead)."""
    ring = keyring(url)
    out: dict[UUID, bytes | str] = {}
    for r in rows:
        try:
            out[r["id"]] = body_of(readable(r["payload"], ring))
        except (KeyUnavailable, ValueError) as exc:
            out[r["id"]] = f"the payload does not open: {type(exc).__name__}: {exc}"[:500]
    return out


def claim(url: str, s: WebhookSettings) -> list[dict[str, Any]]:
    """Lease up to a batch of due deliveries to this worker."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        return conn.execute(CLAIM, {"lease": s.lease_s, "batch": s.batch}).fetchall()


async def send_all(
    client: aiohttp.ClientSession, rows: list[dict[str, Any]], s: WebhookSettings, url: str
) -> list[Outcome]:
    """Send deliveries claimed from `url`'s database with up to `concurrency` requests in flight."""
    secrets = _secrets(rows, url)
    bodies = _bodies(rows, url)
    gate = asyncio.Semaphore(s.concurrency)

    async def one(row: dict[str, Any]) -> Outcome:
        body = bodies[row["id"]]
        if isinstance(body, str):
            return Outcome(row, None, 0, body)
        async with gate:
            return await send(client, row, secrets[row["subscription_id"]], body)

    return list(await asyncio.gather(*(one(r) for r in rows)))


def record_batch(url: str, outcomes: list[Outcome], s: WebhookSettings) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return record(conn, outcomes, s)


async def deliver_due(url: str, s: WebhookSettings, client: aiohttp.ClientSession) -> dict[str, int]:
    """One round: claim up to a batch of due deliveries, send them, record the batch."""
    rows = claim(url, s)
    if not rows:
        return {"delivered": 0, "retry": 0, "dead": 0}
    return record_batch(url, await send_all(client, rows, s, url), s)


def http_client(s: WebhookSettings) -> aiohttp.ClientSession:
    """The receivers' connection pool (call inside a running loop). aiohttp rather than httpx:
    httpcore's pool checks every pooled connection on each request, which cost 60% of a
    deliverer's CPU at 32 connections; aiohttp's connector does not. Host names are looked up
    once, by a resolver that refuses non-public answers (targets.PublicResolver)."""
    connector = aiohttp.TCPConnector(
        limit=s.concurrency, limit_per_host=s.concurrency, resolver=PublicResolver()
    )
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=s.timeout_s),
        headers={"user-agent": "crm-webhooks/1"},
        connector=connector,
        raise_for_status=False,
    )
