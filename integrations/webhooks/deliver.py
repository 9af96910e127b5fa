"""The deliverer: claims due deliveries, sends each signed, logs every attempt, retries with
backoff and dead-letters after the last attempt.

Claiming moves a delivery's `next_attempt_at` a lease ahead (`FOR UPDATE SKIP LOCKED`), so
several deliverers share the queue and a crashed one's claims come due again. The webhook-id
is the delivery's id: the same on every retry and replay, so a receiver can drop repeats.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from integrations.webhooks.config import WebhookSettings
from integrations.webhooks.outbound import body_of, signed_headers, signing_secrets
from integrations.webhooks.retry import backoff_s
from integrations.webhooks.targets import TargetRefused, check_url

CLAIM = """
UPDATE crm.webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => %(lease)s)
FROM crm.webhook_subscriptions s
WHERE s.id = d.subscription_id AND d.id IN (
    SELECT d2.id FROM crm.webhook_deliveries d2
    JOIN crm.webhook_subscriptions s2 ON s2.id = d2.subscription_id AND s2.is_active
    WHERE d2.status = 'pending' AND d2.next_attempt_at <= now()
    ORDER BY d2.next_attempt_at LIMIT %(batch)s FOR UPDATE OF d2 SKIP LOCKED)
RETURNING d.id, d.tenant_id, d.payload, d.attempts, s.url, s.secret_enc,
    s.previous_secret_enc, s.previous_secret_expires_at
"""

RECORD_ATTEMPT = (
    "INSERT INTO crm.webhook_delivery_attempts (tenant_id, delivery_id, attempt, status_code, latency_ms, error)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)
DELIVERED = (
    "UPDATE crm.webhook_deliveries SET status = 'delivered', attempts = %s, last_status_code = %s,"
    " last_error = NULL, delivered_at = now() WHERE id = %s"
)
RETRY = (
    "UPDATE crm.webhook_deliveries SET attempts = %s, last_status_code = %s, last_error = %s,"
    " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s"
)
DEAD = (
    "UPDATE crm.webhook_deliveries SET status = 'dead', attempts = %s, last_status_code = %s,"
    " last_error = %s, dead_at = now() WHERE id = %s"
)


@dataclass
class Outcome:
    row: dict[str, Any]
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def send(client: httpx.Client, row: dict[str, Any]) -> Outcome:
    """One signed POST of a claimed delivery (no redirects followed: a 3xx is a failure)."""
    started = time.perf_counter()
    code: int | None = None
    error: str | None = None
    try:
        check_url(row["url"])
        body = body_of(row["payload"])
        headers = signed_headers(signing_secrets(row, datetime.now(UTC)), f"msg_{row['id'].hex}", body)
        response = client.post(row["url"], content=body, headers=headers)
        code = response.status_code
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except TargetRefused as exc:
        error = f"target refused: {exc}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    return Outcome(row, code, int((time.perf_counter() - started) * 1000), error)


def record(conn: psycopg.Connection[Any], o: Outcome, s: WebhookSettings) -> str:
    attempt = o.row["attempts"] + 1
    delivery = o.row["id"]
    conn.execute(
        RECORD_ATTEMPT, (o.row["tenant_id"], delivery, attempt, o.status_code, o.latency_ms, o.error)
    )
    if o.ok:
        conn.execute(DELIVERED, (attempt, o.status_code, delivery))
        return "delivered"
    if attempt >= s.max_attempts:
        conn.execute(DEAD, (attempt, o.status_code, o.error, delivery))
        return "dead"
    conn.execute(
        RETRY, (attempt, o.status_code, o.error, backoff_s(attempt, s.retry_base_s, s.retry_cap_s), delivery)
    )
    return "retry"


def deliver_due(
    url: str, s: WebhookSettings, client: httpx.Client, pool: ThreadPoolExecutor
) -> dict[str, int]:
    """One round: claim up to a batch of due deliveries, send them concurrently, record each."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        rows = conn.execute(CLAIM, {"lease": s.lease_s, "batch": s.batch}).fetchall()
        counts: dict[str, int] = {"delivered": 0, "retry": 0, "dead": 0}
        for outcome in pool.map(lambda r: send(client, r), rows):
            with conn.transaction():
                counts[record(conn, outcome, s)] += 1
    return counts


def http_client(s: WebhookSettings) -> httpx.Client:
    return httpx.Client(
        timeout=s.timeout_s,
        follow_redirects=False,
        headers={"user-agent": "crm-webhooks/1"},
        limits=httpx.Limits(max_connections=s.concurrency),
    )
