"""Campaign sends count as touchpoints: a sent delivery shows in int_touchpoints and in the
campaign's fct_campaign_performance row, a pending one does not until it goes out, and an
incremental run takes in a send that went out after the last run (dbt over its own database)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

MODELS = "+fct_campaign_performance"


class Warehouse:
    """A migrated database and dbt over it, with its own target folder."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.target = Path(tempfile.mkdtemp(prefix="crm-campaign-touches-dbt-"))

    def dbt(self, *args: str) -> None:
        from warehouse.dbt import run_dbt

        done = run_dbt(
            [*args, "--quiet", "--select", MODELS],
            self.url,
            target_path=self.target / "target",
            log_path=self.target / "logs",
            check=False,
            capture=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout[-4000:]

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(query, params or None)
            return cur.fetchall() if cur.description else []


@pytest.fixture(scope="module")
def wh(create_database: Callable[[str], str]) -> Warehouse:
    from crm import migrate

    url = create_database("crm_campaign_touches")
    migrate.upgrade(url)
    return Warehouse(url)


def _send(
    wh: Warehouse, tenant: uuid.UUID, campaign: uuid.UUID, customer: uuid.UUID, status: str
) -> uuid.UUID:
    (row,) = wh.sql(
        "INSERT INTO crm.campaign_deliveries (tenant_id, campaign_id, trigger_id, customer_id, recipient,"
        " channel, status, sent_at) VALUES (%s, %s, %s, %s, %s, 'email', %s,"
        " CASE WHEN %s = 'sent' THEN now() END) RETURNING id",
        tenant,
        campaign,
        uuid.uuid4(),
        customer,
        f"c-{customer}@example.test",
        status,
        status,
    )
    return row[0]


def _touchpoints(wh: Warehouse, campaign: uuid.UUID) -> int:
    (row,) = wh.sql(
        "SELECT touchpoints FROM analytics.fct_campaign_performance WHERE campaign_id = %s", campaign
    )
    return row[0]


def test_a_sent_campaign_delivery_is_a_campaign_touchpoint(wh: Warehouse) -> None:
    tenant, campaign = uuid.uuid4(), uuid.uuid4()
    customers = [uuid.uuid4(), uuid.uuid4()]
    wh.sql(
        "INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, 'Touches')", tenant, f"t-{tenant.hex[:8]}"
    )
    for c in customers:
        wh.sql(
            "INSERT INTO crm.customers (id, tenant_id, email) VALUES (%s, %s, %s)",
            c,
            tenant,
            f"{c}@example.test",
        )
    wh.sql(
        "INSERT INTO crm.marketing_campaigns (id, tenant_id, name, type, status) VALUES (%s, %s, 'Spring', 'EMAIL', 'ACTIVE')",
        campaign,
        tenant,
    )
    sent = _send(wh, tenant, campaign, customers[0], "sent")
    pending = _send(wh, tenant, campaign, customers[1], "pending")

    wh.dbt("build")
    assert _touchpoints(wh, campaign) == 1
    rows = wh.sql(
        "SELECT touchpoint_id, touchpoint_source, channel, customer_id FROM intermediate.int_touchpoints"
        " WHERE campaign_id = %s",
        campaign,
    )
    assert rows == [(sent, "campaign_delivery", "email", customers[0])]

    # the pending one goes out after the run: the next (incremental) run takes it in, once
    wh.sql("UPDATE crm.campaign_deliveries SET status = 'sent', sent_at = now() WHERE id = %s", pending)
    wh.dbt("run")
    wh.dbt("run")
    assert _touchpoints(wh, campaign) == 2
