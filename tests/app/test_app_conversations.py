"""Customer 360 shows the customer's conversation signals from analytics.fct_conversation_signals:
the world's landed conversation messages analysed by the conversation job, the mart built by
dbt, and the page's table equal to the mart."""

from __future__ import annotations

import tempfile
from pathlib import Path

import psycopg

from orchestration.integrations_conversations import conversation_signals_job
from orchestration.resources import PostgresResource
from warehouse.dbt import run_dbt


def test_customer_360_shows_conversation_signals(run_page, world) -> None:
    assert conversation_signals_job.execute_in_process(
        resources={"postgres": PostgresResource(database_url=world.url)}
    ).success
    target = Path(tempfile.mkdtemp(prefix="crm-app-conv-"))
    done = run_dbt(
        ["build", "--quiet", "--select", "fct_conversation_signals"],
        world.url,
        target_path=target / "target",
        log_path=target / "logs",
        check=False,
        capture=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    manager = world.managers[0]
    with psycopg.connect(world.url) as conn:
        row = conn.execute(
            """select customer_id::text, count(*) from analytics.fct_conversation_signals
               where tenant_id = %s and customer_id is not null and signal_type not in ('sentiment', 'intent')
               group by customer_id order by count(*) desc, customer_id limit 1""",
            (manager.tenant_id,),
        ).fetchone()
    assert row is not None, "the world's conversations gave no signals"
    customer_id, n = row
    at = run_page("Customer 360", query={"customer": customer_id})
    assert not at.exception
    shown = next(df.value for df in at.dataframe if "evidence" in df.value.columns)
    assert len(shown) == min(n, 100)
    assert set(shown.columns) >= {"signal_type", "signal_value", "confidence", "evidence"}
