"""One pass of every webhook and campaign step, and the foreground loop around it
(`crm webhooks deliver`; the Dagster job runs single passes)."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from crm.db import libpq_url
from integrations.webhooks import campaigns, outbound
from integrations.webhooks.config import WebhookSettings, get_webhook_settings
from integrations.webhooks.deliver import deliver_due, http_client

log = logging.getLogger(__name__)


def run_once(url: str | None = None, s: WebhookSettings | None = None) -> dict[str, int]:
    """Plan new events, send what is due (webhooks and e-mails); the counts of this pass."""
    s = s or get_webhook_settings()
    db = libpq_url(url)
    counts = {"planned": outbound.plan(db), "campaign_planned": campaigns.plan(db, s)}
    with http_client(s) as client, ThreadPoolExecutor(s.concurrency) as pool:
        counts |= deliver_due(db, s, client, pool)
    counts |= {f"email_{k}": v for k, v in campaigns.send_due(db, s).items()}
    return counts


def run_forever(interval_s: float = 1.0, url: str | None = None) -> None:
    """Loop until interrupted; idle passes sleep `interval_s`."""
    s = get_webhook_settings()
    while True:
        try:
            counts = run_once(url, s)
        except Exception:  # a database restart must not end the worker
            log.exception("webhook pass failed")
            counts = {}
        if any(v for k, v in counts.items() if "planned" not in k):
            log.info("webhooks %s", counts)
        else:
            time.sleep(interval_s)


def backlog(url: str | None = None) -> dict[str, int]:
    """Due webhook deliveries and e-mails, and the subscriptions and tenants with outbox rows
    past their cursors: whether a pass has anything to do."""
    import psycopg

    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM crm.webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now()),"
            " (SELECT count(*) FROM crm.campaign_deliveries WHERE status = 'pending' AND next_attempt_at <= now()),"
            " (SELECT count(*) FROM crm.webhook_cursors c WHERE EXISTS (SELECT 1 FROM crm.outbox o"
            "   WHERE o.id > c.settled_id AND o.tenant_id = c.tenant_id))"
        ).fetchone()
    due, emails, behind = row if row else (0, 0, 0)
    return {"due_deliveries": due, "due_emails": emails, "cursors_behind": behind}
