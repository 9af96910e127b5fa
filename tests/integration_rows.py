"""Rows of the integrations' operational tables as their writers leave them (the webhook
deliverer, the ticket enricher, the external sync), placed in time `ago` before now: what the
Dagster checks and the Integrations page are tested over."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

HOUR = timedelta(hours=1)


def returning(conn: psycopg.Connection, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> uuid.UUID:
    """The id an `insert ... returning id` made."""
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def subscription(conn: psycopg.Connection, tenant: str) -> uuid.UUID:
    return returning(
        conn,
        "insert into crm.webhook_subscriptions (tenant_id, url, event_types, secret_enc)"
        " values (%s, 'https://hooks.example.com/crm', array['*'], 'x') returning id",
        (tenant,),
    )


def delivery(
    conn: psycopg.Connection,
    tenant: str,
    sub: uuid.UUID,
    status: str,
    ago: timedelta,
    codes: list[int | None],
) -> uuid.UUID:
    """A delivery planned `ago`, one attempt a minute per status code (None: refused); the last
    attempt's time is its delivered_at or dead_at by `status`."""
    last = ago - timedelta(minutes=len(codes))
    delivery_id = returning(
        conn,
        """insert into crm.webhook_deliveries (tenant_id, subscription_id, event_id, event_type, occurred_at,
               payload, status, attempts, last_status_code, last_error, delivered_at, dead_at, created_at)
           values (%(t)s, %(s)s, gen_random_uuid(), 'crm.deal.won', now() - %(ago)s, '{}', %(st)s, %(n)s, %(code)s,
               %(err)s, case when %(st)s = 'delivered' then now() - %(last)s end,
               case when %(st)s = 'dead' then now() - %(last)s end, now() - %(ago)s)
           returning id""",
        {
            "t": tenant,
            "s": sub,
            "ago": ago,
            "last": last,
            "st": status,
            "n": len(codes),
            "code": codes[-1] if codes else None,
            "err": None if status == "delivered" else "HTTP 503",
        },
    )
    for n, code in enumerate(codes, 1):
        conn.execute(
            "insert into crm.webhook_delivery_attempts (tenant_id, delivery_id, attempt, attempted_at, status_code,"
            " latency_ms, error) values (%s, %s, %s, now() - %s, %s, %s, %s)",
            (
                tenant,
                delivery_id,
                n,
                ago - timedelta(minutes=n),
                code,
                40 * n,
                None if code == 200 else "refused",
            ),
        )
    return delivery_id


def connection(conn: psycopg.Connection, tenant: str) -> uuid.UUID:
    return returning(
        conn,
        "insert into crm.sync_connections (tenant_id, provider, name, credentials_enc, key_id)"
        " values (%s, 'hubspot', %s, '\\x00', 'k1') returning id",
        (tenant, f"portal-{uuid.uuid4().hex[:6]}"),
    )


def sync_run(
    conn: psycopg.Connection, tenant: str, conn_id: uuid.UUID, status: str, ago: timedelta, counts: dict
) -> uuid.UUID:
    return returning(
        conn,
        """insert into crm.sync_runs (tenant_id, connection_id, provider, status, requested_at, started_at,
               finished_at, counts, failures, error)
           values (%s, %s, 'hubspot', %s, now() - %s, now() - %s, now() - %s + interval '40 seconds', %s, %s, %s)
           returning id""",
        (
            tenant,
            conn_id,
            status,
            ago,
            ago,
            ago,
            Jsonb(counts),
            Jsonb([{"code": "INTEGRATION_SYNC_FAILED"}] if status == "failed" else []),
            "hubspot unreachable" if status == "failed" else None,
        ),
    )


def retry_item(
    conn: psycopg.Connection, tenant: str, conn_id: uuid.UUID, status: str, ago: timedelta
) -> None:
    """An item queued `ago` + 1 h, last changed `ago` (when a done or dead item passed or gave up)."""
    conn.execute(
        """insert into crm.sync_retry_queue (tenant_id, connection_id, direction, object, record_id, status,
               attempts, last_error, created_at, updated_at)
           values (%s, %s, 'inbound', 'deals', %s, %s, 8, 'value: not a number', now() - %s, now() - %s)""",
        (tenant, conn_id, uuid.uuid4().hex[:8], status, ago + HOUR, ago),
    )


def enrichment(
    conn: psycopg.Connection, tenant: str, latency_ms: float, ago: timedelta, requester: str
) -> None:
    conn.execute(
        """insert into crm.ticket_enrichments (tenant_id, ticket_id, source_event_id, event_id, requester,
               ticket_occurred_at, enriched_at, latency_ms)
           values (%s, gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), %s, now() - %s, now() - %s, %s)""",
        (tenant, requester, ago, ago, latency_ms),
    )


def campaign_send(conn: psycopg.Connection, tenant: str, status: str, ago: timedelta) -> None:
    campaign = returning(
        conn,
        "insert into crm.marketing_campaigns (tenant_id, name, type) values (%s, 'Spring', 'EMAIL') returning id",
        (tenant,),
    )
    conn.execute(
        """insert into crm.campaign_deliveries (tenant_id, campaign_id, trigger_id, recipient, channel, status,
               attempts, last_error, sent_at, created_at, updated_at)
           values (%s, %s, gen_random_uuid(), 'ana@example.com', 'email', %s, 1, %s,
               case when %s = 'sent' then now() - %s end, now() - %s, now() - %s)""",
        (tenant, campaign, status, "SMTP 550" if status == "dead" else None, status, ago, ago, ago),
    )
