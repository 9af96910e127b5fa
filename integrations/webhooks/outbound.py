"""Webhooks out: which events a subscription takes, how a request is signed, and planning
deliveries from `crm.outbox` (one row per subscription and event)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
import psycopg
from standardwebhooks import Webhook

from integrations.webhooks.crypto import decrypt
from integrations.webhooks.cursor import read_new, start_at

SECRET_PURPOSE = "webhook-subscription"
PATTERN = re.compile(r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$")
"""An event type (`crm.deal.won`), a prefix wildcard (`crm.deal.*`) or everything (`*`)."""


def matches(patterns: list[str], event_type: str) -> bool:
    for p in patterns:
        if p == "*" or p == event_type:
            return True
        if p.endswith(".*") and event_type.startswith(p[:-1]):
            return True
    return False


def body_of(envelope: dict[str, Any]) -> bytes:
    """The request body: the event envelope as JSON (the bytes that are signed)."""
    return orjson.dumps(envelope)


def signature_header(secrets: list[str], msg_id: str, at: datetime, body: bytes) -> str:
    """`webhook-signature`: one `v1,<base64>` per secret, space-separated (a receiver holding
    either secret verifies during a rotation's overlap)."""
    return " ".join(Webhook(s).sign(msg_id, at, body) for s in secrets)


def signed_headers(
    secrets: list[str], msg_id: str, body: bytes, at: datetime | None = None
) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature_header(secrets, msg_id, at, body),
    }


def signing_secrets(sub: dict[str, Any], now: datetime) -> list[str]:
    """The subscription's current secret, plus the replaced one while its overlap lasts."""
    tenant = sub["tenant_id"]
    out = [decrypt(sub["secret_enc"], tenant, SECRET_PURPOSE)]
    expires = sub.get("previous_secret_expires_at")
    if sub.get("previous_secret_enc") and expires is not None and expires > now:
        out.append(decrypt(sub["previous_secret_enc"], tenant, SECRET_PURPOSE))
    return out


def subscription_cursor(conn: psycopg.Connection[Any], tenant_id: UUID, subscription_id: UUID) -> None:
    """A new subscription starts after the tenant's newest event (no history is sent)."""
    row = conn.execute(
        "SELECT coalesce(max(id), 0) FROM crm.outbox WHERE tenant_id = %s", (tenant_id,)
    ).fetchone()
    start_at(conn, tenant_id, str(subscription_id), row[0] if row else 0)


INSERT_DELIVERY = (
    "INSERT INTO crm.webhook_deliveries (tenant_id, subscription_id, event_id, event_type, occurred_at, payload)"
    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (subscription_id, event_id) DO NOTHING"
)


def _plan_one(url: str, sub: dict[str, Any]) -> int:
    def handle(conn: psycopg.Connection[Any], rows: list[dict[str, Any]]) -> int:
        from psycopg.types.json import Jsonb

        todo = [
            (
                sub["tenant_id"],
                sub["id"],
                r["event_id"],
                r["event_type"],
                r["created_at"],
                Jsonb(r["payload"]),
            )
            for r in rows
            if matches(sub["event_types"], r["event_type"])
        ]
        if todo:
            with conn.cursor() as cur:
                cur.executemany(INSERT_DELIVERY, todo)
        return len(todo)

    return read_new(url, sub["tenant_id"], str(sub["id"]), "true", (), handle)


def plan(url: str) -> int:
    """Plan the deliveries of every active subscription's new events; returns rows considered."""
    from psycopg.rows import dict_row

    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        subs = conn.execute(
            "SELECT id, tenant_id, event_types FROM crm.webhook_subscriptions WHERE is_active"
        ).fetchall()
    return sum(_plan_one(url, s) for s in subs)
