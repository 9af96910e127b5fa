"""Campaign delivery: each `crm.campaign.triggered` event becomes one send to the triggered
customer, or one per member of the campaign's segment (a trigger without a customer), by
e-mail (EMAIL campaigns, over SMTP) or through the tenant's signed webhook subscriptions (every
other type), recorded in `crm.campaign_deliveries` once per (campaign, trigger, customer)
and retried with backoff like a webhook.

A customer's e-mail is stored sealed (`crm.keys.personal`), and so is a delivery's `recipient`
(as a person's e-mail is: `customer:<id>` stands for a customer without one, readable); the
address is opened only to send. A sealed value differs each time it is sealed, so a trigger read
again (the outbox cursor re-reads until it settles) skips the customers it already has a
delivery for, instead of relying on the recipient's uniqueness."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from crm.keys import personal
from crm.keys.keyring import Keyring, keyring
from crm.secrets import KeyUnavailable
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
INSERT = """
INSERT INTO crm.campaign_deliveries (tenant_id, campaign_id, trigger_id, customer_id, recipient, channel,
    status, last_error, sent_at)
SELECT %(tenant)s, %(campaign)s, %(trigger)s, %(customer)s, %(recipient)s, %(channel)s, %(status)s, %(error)s,
    CASE WHEN %(status)s = 'sent' THEN now() END
WHERE NOT EXISTS (SELECT 1 FROM crm.campaign_deliveries WHERE campaign_id = %(campaign)s
    AND trigger_id = %(trigger)s AND customer_id = %(customer)s)
ON CONFLICT (campaign_id, trigger_id, recipient) DO NOTHING
"""


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


def _opened(tenant_id: UUID, stored: str | None, ring: Keyring) -> tuple[str | None, str | None]:
    """(the customer's readable e-mail or None, why a stored one does not open): a customer
    whose address does not open is skipped, not a trigger that never settles."""
    try:
        return personal.open_value(tenant_id, "email", stored, ring), None
    except (KeyUnavailable, ValueError) as exc:
        return None, f"the customer's e-mail does not open: {type(exc).__name__}"


def _plan_rows(
    conn: psycopg.Connection[Any], tenant_id: UUID, rows: list[dict[str, Any]], ring: Keyring
) -> int:
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
            email, unreadable = _opened(tenant_id, t["email"], ring)
            channel, recipient, status, error = _send_row(c, t["customer_id"], email)
            if unreadable is not None and channel == "email":
                error = unreadable
            sealed = personal.seal_value(tenant_id, "email", email, ring) if recipient == email else None
            params.append(
                {
                    "tenant": tenant_id,
                    "campaign": c["campaign_id"],
                    "trigger": r["event_id"],
                    "customer": t["customer_id"],
                    "recipient": sealed or recipient,
                    "channel": channel,
                    "status": status,
                    "error": error,
                }
            )
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
    ring = keyring(url)
    for t in tenants:

        def handle(c: psycopg.Connection[Any], rows: list[dict[str, Any]], t: UUID = t) -> int:
            return _plan_rows(c, t, rows, ring)

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


def _address(row: dict[str, Any], ring: Keyring) -> tuple[str | None, str | None]:
    """(the claimed delivery's readable address, None), or (None, why it does not open: the
    delivery is retried, then dead, like a refusal)."""
    try:
        return personal.open_value(row["tenant_id"], "email", row["recipient"], ring), None
    except (KeyUnavailable, ValueError) as exc:
        return None, f"the recipient does not open: {type(exc).__name__}: {exc}"[:500]


def _scrubbed(error: str, address: str) -> str:
    """A send's failure as it is recorded: a server's refusal names the address, which is not
    kept readable beside the sealed recipient."""
    return error.replace(address, "<recipient>")


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
        ring = keyring(url)
        smtp: smtplib.SMTP | None = None
        for row in rows:
            address, error = _address(row, ring)
            if address is not None:
                try:
                    if smtp is None:
                        smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_s)
                    smtp.send_message(message(row | {"recipient": address}, s))
                except smtplib.SMTPResponseException as exc:
                    text = (
                        exc.smtp_error.decode(errors="replace")
                        if isinstance(exc.smtp_error, bytes)
                        else exc.smtp_error
                    )
                    error = _scrubbed(f"SMTP {exc.smtp_code}: {text}", address)
                except (smtplib.SMTPException, OSError) as exc:
                    error, smtp = _scrubbed(f"{type(exc).__name__}: {exc}", address), None
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
