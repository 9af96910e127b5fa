"""Signals into `crm.conversation_signals`: from the landed `conversation.message` events
(`analyze_new_messages`, run by the orchestration's conversation sensor) and from texts the API
is asked to store. Idempotent by message: a message already analysed by this analyser version
is skipped, and a row already there is left alone (ON CONFLICT DO NOTHING).

A landed message's text is sealed (the lander seals it, `crm.keys.event_text`): it is opened
under the tenant's key to be analysed. A signal's evidence quotes a span of it, so it is stored
sealed too (randomised, purpose `conversation-evidence`) and opened by what shows it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from crm import db
from crm.audit import record_job_write
from crm.events.topics import Topic
from crm.keys import event_text
from crm.keys.keyring import Keyring, keyring
from integrations.conversations.analyzer import ANALYZER_VERSION, MessageAnalysis, extract_sales_signals

COMPETITORS_SETTING = "conversation_competitors"
"""Key of `crm.tenants.settings`: the tenant's competitor names, added to the default list."""

COLUMNS = (
    "tenant_id",
    "conversation_id",
    "message_event_id",
    "customer_id",
    "lead_id",
    "deal_id",
    "signal_type",
    "value",
    "confidence",
    "evidence",
    "span_start",
    "span_end",
    "detail",
    "analyzer_version",
    "occurred_at",
)
INSERT = (
    f"INSERT INTO crm.conversation_signals ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    " ON CONFLICT ON CONSTRAINT uq_conversation_signals_message DO NOTHING"
)

NEW_MESSAGES = """
SELECT r.event_id, r.tenant_id, r.occurred_at, r.payload
FROM raw.conversations r
WHERE r.event_type = 'conversation.message'
  AND NOT EXISTS (
    SELECT 1 FROM crm.conversation_signals s
    WHERE s.tenant_id = r.tenant_id AND s.message_event_id = r.event_id AND s.analyzer_version = %s)
ORDER BY r.received_at, r.event_id
LIMIT %s
"""


@dataclass(frozen=True)
class MessageRef:
    """Where a message belongs: its tenant, conversation, event id, subjects and time."""

    tenant_id: UUID
    conversation_id: UUID
    message_event_id: UUID
    occurred_at: datetime
    customer_id: UUID | None = None
    lead_id: UUID | None = None
    deal_id: UUID | None = None


def signal_rows(
    ref: MessageRef, analysis: MessageAnalysis, ring: Keyring | None = None
) -> list[tuple[Any, ...]]:
    """The rows of one analysed message, in `COLUMNS` order, the evidence sealed. `ring`: the
    keys of the database they go to (default: this process's)."""
    if not analysis.signals:
        return []
    seal = event_text.seal_evidence(ref.tenant_id, ring)
    return [
        (
            ref.tenant_id,
            ref.conversation_id,
            ref.message_event_id,
            ref.customer_id,
            ref.lead_id,
            ref.deal_id,
            s.type,
            s.value,
            s.confidence,
            seal(s.evidence),
            s.start,
            s.end,
            Jsonb(s.detail),
            ANALYZER_VERSION,
            ref.occurred_at,
        )
        for s in analysis.signals
    ]


def opened(
    tenant_id: UUID, rows: Sequence[dict[str, Any]], ring: Keyring | None = None
) -> list[dict[str, Any]]:
    """Stored signal rows with their evidence readable (for what shows or uses it)."""
    return [r | {"evidence": event_text.open_evidence(tenant_id, r["evidence"], ring)} for r in rows]


def competitors_of(settings: dict[str, Any] | None) -> tuple[str, ...]:
    names = (settings or {}).get(COMPETITORS_SETTING) or []
    return tuple(str(n) for n in names if isinstance(n, str) and n.strip())


def _uuid(payload: dict[str, Any], key: str) -> UUID | None:
    value = payload.get(key)
    return UUID(value) if value else None


def analyze_new_messages(url: str | None = None, *, batch: int = 2000) -> dict[str, int]:
    """Analyse every landed message not yet analysed by this analyser version (as the owner,
    all tenants), in batches; returns the messages and signal rows written."""
    messages = rows = 0
    ring = keyring(db.libpq_url(url))
    with db.connect(url) as conn:
        settings: dict[Any, Any] = dict(conn.execute("SELECT id, settings FROM crm.tenants").fetchall())
        while True:
            found = conn.execute(NEW_MESSAGES, (ANALYZER_VERSION, batch)).fetchall()
            if not found:
                break
            out: list[tuple[Any, ...]] = []
            for event_id, tenant_id, occurred_at, payload in found:
                ref = MessageRef(
                    tenant_id=tenant_id,
                    conversation_id=UUID(payload["conversation_id"]),
                    message_event_id=event_id,
                    occurred_at=occurred_at,
                    customer_id=_uuid(payload, "customer_id"),
                    lead_id=_uuid(payload, "lead_id"),
                    deal_id=_uuid(payload, "deal_id"),
                )
                text = event_text.open_field(
                    tenant_id, Topic.CONVERSATIONS, "text", payload.get("text"), ring
                )
                analysis = extract_sales_signals(
                    text or "",
                    competitors=competitors_of(settings.get(tenant_id)),
                    reference_date=occurred_at.date(),
                )
                out += signal_rows(ref, analysis, ring)
            with conn.cursor() as cur:
                cur.executemany(INSERT, out)
            record_job_write(conn, "crm.conversation_signals", Counter(r[0] for r in out), mode="insert")
            conn.commit()
            messages += len(found)
            rows += len(out)
            if len(found) < batch:
                break
    return {"messages": messages, "signals": rows}


def store_analysis(
    conn: psycopg.Connection[Any], ref: MessageRef, analysis: MessageAnalysis, ring: Keyring | None = None
) -> int:
    """Write one analysed message's signals in the caller's transaction (rows already there
    stay); returns the rows offered."""
    rows: Sequence[tuple[Any, ...]] = signal_rows(ref, analysis, ring)
    with conn.cursor() as cur:
        cur.executemany(INSERT, rows)
    return len(rows)


def pending(url: str | None = None) -> tuple[int, str | None]:
    """How many landed messages wait for analysis, and the latest landing time among them
    (the conversation sensor's cursor)."""
    sql = f"SELECT count(*), max(received_at)::text FROM ({NEW_MESSAGES.replace('r.event_id, r.tenant_id, r.occurred_at, r.payload', 'r.received_at')}) q"
    with db.connect(url) as conn:
        row = conn.execute(sql, (ANALYZER_VERSION, 1_000_000)).fetchone()
    return (int(row[0]), row[1]) if row else (0, None)
