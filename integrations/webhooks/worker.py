"""One pass of every webhook and campaign step, and the foreground loop around it
(`crm webhooks deliver`; the Dagster job runs single passes)."""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from crm.db import libpq_url
from integrations.webhooks import campaigns, outbound
from integrations.webhooks.config import WebhookSettings, get_webhook_settings
from integrations.webhooks.deliver import deliver_due, http_client

log = logging.getLogger(__name__)


async def _pass(db: str, s: WebhookSettings, client: aiohttp.ClientSession) -> dict[str, int]:
    """Plan new events, send what is due (webhooks and e-mails); the counts of this pass."""
    counts = {"planned": outbound.plan(db, s.plan_batch), "campaign_planned": campaigns.plan(db, s)}
    counts |= await deliver_due(db, s, client)
    counts |= {f"email_{k}": v for k, v in campaigns.send_due(db, s).items()}
    return counts


def run_once(url: str | None = None, s: WebhookSettings | None = None) -> dict[str, int]:
    """One pass with a client of its own (the Dagster job, `--once`, tests)."""
    s = s or get_webhook_settings()

    async def go() -> dict[str, int]:
        async with http_client(s) as client:
            return await _pass(libpq_url(url), s, client)

    return asyncio.run(go())


async def run_async(idle_s: float = 0.25, url: str | None = None, s: WebhookSettings | None = None) -> None:
    """Pass after pass until cancelled, keeping one connection pool to the receivers; a pass
    that sent nothing is followed by `idle_s` of sleep. (Sending a batch while the previous
    one's outcomes are written, in a thread, measured slower: the two contend for the GIL.)"""
    s = s or get_webhook_settings()
    db = libpq_url(url)
    async with http_client(s) as client:
        while True:
            try:
                counts = await _pass(db, s, client)
            except Exception:  # a database restart must not end the worker
                log.exception("webhook pass failed")
                counts = {}
            if not any(v for k, v in counts.items() if "planned" not in k):
                await asyncio.sleep(idle_s)


def run_forever(interval_s: float = 0.25, url: str | None = None) -> None:
    asyncio.run(run_async(interval_s, url))


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
