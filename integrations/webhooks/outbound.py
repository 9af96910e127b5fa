"""Webhooks out: which events a subscription takes, how a request is signed, and planning
deliveries from `crm.outbox` (one row per subscription and event).

A lead's or customer's event carries its row images with people's values sealed, as stored
(`crm.keys.personal`), and an activity's events its note sealed (`crm.keys.notes`); a delivery
keeps them so, and the request opens them (`readable`), so subscribers receive the values as
they were written."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import orjson
import psycopg
from standardwebhooks import Webhook

from crm.keys import notes, personal
from crm.keys.columns import WEBHOOK_SUBSCRIPTION
from crm.keys.keyring import Keyring
from integrations.webhooks.crypto import decrypt
from integrations.webhooks.cursor import behind, read_new, start_at

SECRET_PURPOSE = WEBHOOK_SUBSCRIPTION
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


PEOPLE = {"lead": "leads", "customer": "customers"}
"""Change events whose images hold people's values: entity -> crm table."""


NOTED = ("lead_activity", "deal_activity")
"""Change events whose images hold a note (an activity's description, `crm.keys.notes`)."""
ACTIVITY_PARENTS = ("lead", "deal")
"""The first part of an activity event's type (`lead.note_added`: `crm.events.activities`)."""


def readable(envelope: dict[str, Any], ring: Keyring | None = None) -> dict[str, Any]:
    """The event as subscribers receive it: a lead's or customer's `before` and `after` with
    people's values opened and the index columns left out, an activity's note opened in its
    change images and in its own event (other events as they are). Raises KeyUnavailable or
    ValueError when a value does not open."""
    body = envelope.get("payload")
    if not isinstance(body, dict):
        return envelope
    tenant = UUID(str(envelope["tenant_id"]))
    if body.get("entity") in NOTED:
        images = {
            s: notes.opened_row(tenant, body[s], ring)
            for s in ("before", "after")
            if isinstance(body.get(s), dict)
        }
        return envelope | {"payload": body | images}
    if "activity_id" in body and str(envelope.get("event_type", "")).partition(".")[0] in ACTIVITY_PARENTS:
        return envelope | {"payload": notes.opened_payload(tenant, body, ring)}
    if body.get("entity") not in PEOPLE:
        return envelope
    table = PEOPLE[body["entity"]]
    out = dict(body)
    for side in ("before", "after"):
        image = body.get(side)
        if isinstance(image, dict):
            opened = personal.open_row(tenant, table, image, ring)
            out[side] = {k: v for k, v in opened.items() if k not in personal.LOOKUP_KEYS}
    if isinstance(body.get("changed_fields"), list):
        out["changed_fields"] = [f for f in body["changed_fields"] if f not in personal.LOOKUP_KEYS]
    return envelope | {"payload": out}


def signature_header(secrets: list[str], msg_id: str, at: datetime, body: bytes) -> str:
    """`webhook-signature`: one `v1,<base64>` per secret, space-separated (a receiver holding
    either secret verifies during a rotation's overlap)."""
    return " ".join(_webhook(s).sign(msg_id, at, body) for s in secrets)


@lru_cache(maxsize=256)
def _webhook(secret: str) -> Webhook:
    """The signer of a secret, parsed once (every request of a subscription reuses it)."""
    return Webhook(secret)


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


def signing_secrets(sub: dict[str, Any], now: datetime, url: str | None = None) -> list[str]:
    """The subscription's current secret, plus the replaced one while its overlap lasts
    (`url`: the database the subscription was read from)."""
    tenant = sub["tenant_id"]
    out = [decrypt(sub["secret_enc"], tenant, SECRET_PURPOSE, url=url)]
    expires = sub.get("previous_secret_expires_at")
    if sub.get("previous_secret_enc") and expires is not None and expires > now:
        out.append(decrypt(sub["previous_secret_enc"], tenant, SECRET_PURPOSE, url=url))
    return out


def subscription_cursor(conn: psycopg.Connection[Any], tenant_id: UUID, subscription_id: UUID) -> None:
    """A new subscription starts after the tenant's newest event (no history is sent)."""
    row = conn.execute(
        "SELECT coalesce(max(id), 0) FROM crm.outbox WHERE tenant_id = %s", (tenant_id,)
    ).fetchone()
    start_at(conn, tenant_id, str(subscription_id), row[0] if row else 0)


PLAN_DELIVERIES = """
INSERT INTO crm.webhook_deliveries (tenant_id, subscription_id, event_id, event_type, occurred_at, payload)
SELECT o.tenant_id, %s, o.event_id, o.event_type, o.created_at, o.payload
FROM crm.outbox o WHERE o.id = ANY(%s) ORDER BY o.id
ON CONFLICT (subscription_id, event_id) DO NOTHING
"""


def _plan_one(url: str, sub: dict[str, Any], limit: int) -> int:
    """Plan one subscription's unsettled events: matched on their types here, copied in the
    database (the payloads never travel to the deliverer and back)."""

    def handle(conn: psycopg.Connection[Any], rows: list[dict[str, Any]]) -> int:
        ids = [r["id"] for r in rows if matches(sub["event_types"], r["event_type"])]
        return conn.execute(PLAN_DELIVERIES, (sub["id"], ids)).rowcount if ids else 0

    return read_new(url, sub["tenant_id"], str(sub["id"]), "true", (), handle, limit, "id, event_type")


def plan(url: str, limit: int = 2000) -> int:
    """Plan the deliveries of every active subscription's new events; how many were new."""
    from psycopg.rows import dict_row

    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        subs = conn.execute(
            "SELECT id, tenant_id, event_types FROM crm.webhook_subscriptions WHERE is_active"
        ).fetchall()
        due = behind(conn, [str(s["id"]) for s in subs]) if subs else set()
    return sum(_plan_one(url, s, limit) for s in subs if (s["tenant_id"], str(s["id"])) in due)
