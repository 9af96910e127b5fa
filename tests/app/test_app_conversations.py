"""Customer 360 shows the customer's conversation signals from analytics.fct_conversation_signals:
the world's landed conversation messages analysed by the conversation job, the mart built by
dbt, and the page's table equal to the mart, with the sealed evidence opened."""

from __future__ import annotations

import psycopg


def test_customer_360_shows_conversation_signals(run_page, conversation_signals) -> None:
    world = conversation_signals
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
    assert "signal_id" not in shown.columns
    # the evidence is sealed in crm.conversation_signals and the mart leaves it out: opened here
    assert shown["evidence"].notna().all() and not shown["evidence"].str.startswith("v2:").any()
