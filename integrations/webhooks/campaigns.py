"""Campaign delivery: each `crm.campaign.triggered` event becomes one send to the triggered
customer, or one per member of the campaign's segment (a trigger without a customer), by
e-mail (EMAIL campaigns, over SMTP) or through the tenant's signed webhook subscriptions (every
other type), recorded in `crm.campaign_deliveries` once per (campaign, trigger, recipient)
and retried with backoff like a webhook."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from integrations.webhooks.config import WebhookSettings
from integrations.webhooks.cursor import behind, read_new
from integrations.webhooks.outbound import matches
from integrations.webhooks.retry import backoff_s

CONSUMER = "campaigns"
TRIGGERED = "crm.campaign.triggered"

CAMPAIGN = """
SELECT c.id AS campaign_id, c.type,
    EXISTS (SELECT 1 FROM crm.webhook_subscriptions s WHERE s.tenant_id = c.tenant_id AND s.is_active
            AND s.event_types && %s::text[]) AS subscribed
FROM crm.marketing_campaigns c WHERE c.id = %s AND c.tenant_id = %s
"""
# the triggered customer (kept even if unknown, to record why nothing went out), or the
# segment's members as the send is planned
RECIPIENTS = """
SELECT %(customer)s::uuid AS customer_id,
    (SELECT email FROM crm.customers WHERE id = %(customer)s::uuid AND tenant_id = %(tenant)s) AS email
WHERE %(customer)s::uuid IS NOT NULL
UNION ALL
SELECT m.customer_id, cu.email
FROM crm.customer_segment_memberships m
JOIN crm.customers cu ON cu.id = m.customer_id AND cu.tenant_id = m.tenant_id
WHERE %(customer)s::uuid IS NULL AND m.segment_id = %(segment)s::uuid AND m.tenant_id = %(tenant)s
"""
INSERT = (
    "INSERT INTO crm.campaign_deliveries (tenant_id, campaign_id, trigger_id, customer_id, recipient, channel,"
    " status, last_error, sent_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
    " CASE WHEN %s = 'sent' THEN now() END) ON CONFLICT (campaign_id, trigger_id, recipient) DO NOTHING"
)


def _subscribed_patterns() -> list[str]:
    return ["*", "crm.*", "crm.campaign.*", TRIGGERED]


def _send_row(
    campaign: dict[str, Any], customer: UUID, email: str | None
) -> tuple[str, str, str, str | None]:
    """(channel, recipient, status, reason) of one recipient's send."""
    if campaign["type"] == "EMAIL":
        if email:
            return "email", email, "pending", None
        return "email", f"customer:{customer}", "skipped", "the customer has no e-mail address"
    # delivered by the signed webhook deliveries of the same event
    if campaign["subscribed"]:
        return "webhook", f"customer:{customer}", "sent", None
    return "webhook", f"customer:{customer}", "skipped", f"no subscription to {TRIGGERED}"


def _plan_rows(conn: psycopg.Connection[Any], tenant_id: UUID, rows: list[dict[str, Any]]) -> int:
    n = 0
    for r in rows:
        body = r["payload"].get("payload", {})
        after = body.get("after") or {}
        customer, segment = after.get("triggered_for"), after.get("triggered_segment")
        c = conn.execute(CAMPAIGN, (_subscribed_patterns(), body.get("entity_id"), tenant_id)).fetchone()
        if c is None or (customer is None and segment is None):
            continue
        targets = conn.execute(RECIPIENTS, {"customer": customer, "segment": segment, "tenant": tenant_id})
        params = []
        for t in targets.fetchall():
            channel, recipient, status, error = _send_row(c, t["customer_id"], t["email"])
            key = (tenant_id, c["campaign_id"], r["event_id"], t["customer_id"], recipient, channel)
            params.append((*key, status, error, status))
        with conn.cursor() as cur:
            cur.executemany(INSERT, params)
        n += len(params)
    return n


def plan(url: str, s: WebhookSettings) -> int:
    """Record the sends of every tenant's new triggers (recent ones only, see config)."""
    with psycopg.connect(url, autocommit=True) as conn:
        active = {r[0] for r in conn.execute("SELECT id FROM crm.tenants WHERE is_active").fetchall()}
        conn.execute(
            "INSERT INTO crm.webhook_cursors (tenant_id, consumer, settled_id)"
            " SELECT id, %s, 0 FROM crm.tenants WHERE is_active ON CONFLICT DO NOTHING",
            (CONSUMER,),
        )
        tenants = sorted(t for t, _ in behind(conn, [CONSUMER]) if t in active)
    where = "event_type = %s AND created_at > now() - make_interval(days => %s)"
    total = 0
    for t in tenants:

        def handle(c: psycopg.Connection[Any], rows: list[dict[str, Any]], t: UUID = t) -> int:
            return _plan_rows(c, t, rows)

        total += read_new(url, t, CONSUMER, where, (TRIGGERED, s.trigger_max_age_days), handle)
    return total


CLAIM = """
UPDATE crm.campaign_deliveries d SET next_attempt_at = now() + make_interval(secs => %(lease)s)
FROM crm.marketing_campaigns c
WHERE c.id = d.campaign_id AND d.id IN (
    SELECT id FROM crm.campaign_deliveries WHERE status = 'pending' AND channel = 'email'
    AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
RETURNING d.id, d.tenant_id, d.recipient, d.attempts, c.name, c.description
"""


def message(row: dict[str, Any], s: WebhookSettings) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = s.mail_from
    msg["To"] = row["recipient"]
    msg["Subject"] = row["name"]
    # one id per delivery: a receiving server can drop a retried copy
    msg["Message-ID"] = make_msgid(idstring=row["id"].hex, domain="crm.localhost")
    msg["X-CRM-Delivery"] = str(row["id"])
    msg.set_content(row["description"] or row["name"])
    return msg


def send_due(url: str, s: WebhookSettings) -> dict[str, int]:
    """Send the due e-mails over one SMTP connection; a refusal is retried, then dead."""
    counts = {"sent": 0, "retry": 0, "dead": 0}
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        rows = conn.execute(CLAIM, {"lease": s.lease_s, "batch": s.batch}).fetchall()
        if not rows:
            return counts
        smtp: smtplib.SMTP | None = None
        for row in rows:
            error: str | None = None
            try:
                if smtp is None:
                    smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_s)
                smtp.send_message(message(row, s))
            except smtplib.SMTPResponseException as exc:
                error = f"SMTP {exc.smtp_code}: {exc.smtp_error.decode(errors='replace') if isinstance(exc.smtp_error, bytes) else exc.smtp_error}"
            except (smtplib.SMTPException, OSError) as exc:
                error, smtp = f"{type(exc).__name__}: {exc}", None
            counts[_record(conn, row, error, s)] += 1
        if smtp is not None:
            smtp.quit()
    return counts


def _record(conn: psycopg.Connection[Any], row: dict[str, Any], error: str | None, s: WebhookSettings) -> str:
    attempt = row["attempts"] + 1
    if error is None:
        conn.execute(
            "UPDATE crm.campaign_deliveries SET status = 'sent', attempts = %s, last_error = NULL, sent_at = now()"
            " WHERE id = %s",
            (attempt, row["id"]),
        )
        return "sent"
    if attempt >= s.max_attempts:
        conn.execute(
            "UPDATE crm.campaign_deliveries SET status = 'dead', attempts = %s, last_error = %s WHERE id = %s",
            (attempt, error, row["id"]),
        )
        return "dead"
    conn.execute(
        "UPDATE crm.campaign_deliveries SET attempts = %s, last_error = %s,"
        " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
        (attempt, error, backoff_s(attempt, s.retry_base_s, s.retry_cap_s), row["id"]),
    )
    return "retry"


__all__ = ["CONSUMER", "TRIGGERED", "matches", "plan", "send_due"]
