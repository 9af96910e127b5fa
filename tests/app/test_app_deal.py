"""The Deal page shows a deal's real stage history (analytics.fct_deal_stage_transitions) and the
signals of the conversations that named it (analytics.fct_conversation_signals, after the
conversation job analysed the world's messages), equal to the marts, with their quoted evidence
opened from crm.conversation_signals where it is sealed; other tenants' deals are not found."""

from __future__ import annotations

from typing import Any

import psycopg

from crm.keys import event_text
from crm.keys.keyring import keyring


def one(conn: psycopg.Connection, sql: str, params: tuple) -> Any:
    """The first column of the first row (which must exist)."""
    row = conn.execute(sql, params).fetchone()
    assert row is not None, sql
    return row[0]


def test_deal_page_shows_stage_history_and_conversation_signals(run_page, conversation_signals) -> None:
    world = conversation_signals
    manager = world.managers[0]
    with psycopg.connect(world.url) as conn:
        row = conn.execute(
            """select s.deal_id::text, count(*) from analytics.fct_conversation_signals s
               where s.tenant_id = %s and s.signal_type not in ('sentiment', 'intent')
                 and exists (select 1 from analytics.fct_deal_stage_transitions t
                             where t.deal_id = s.deal_id and t.stage_sequence > 1)
               group by s.deal_id order by count(*) desc, s.deal_id limit 1""",
            (manager.tenant_id,),
        ).fetchone()
        assert row is not None, "no deal with both stage changes and conversation signals"
        deal_id, n = row
        stages = [
            r[0]
            for r in conn.execute(
                "select stage_name from analytics.fct_deal_stage_transitions where deal_id = %s order by stage_sequence",
                (deal_id,),
            )
        ]
        stored = conn.execute(
            """select c.tenant_id, c.evidence from analytics.fct_conversation_signals s
               join crm.conversation_signals c on c.id = s.signal_id
               where s.deal_id = %s and s.signal_type not in ('sentiment', 'intent')""",
            (deal_id,),
        ).fetchall()
        assert stored and all(e.startswith("v2:dk") for _, e in stored)  # sealed, opened for the page
        ring = keyring(world.url)
        evidence = {event_text.open_evidence(t, e, ring) for t, e in stored}
        name = one(conn, "select deal_name from analytics.fct_deals where deal_id = %s", (deal_id,))
        customer = one(
            conn, "select customer_id::text from analytics.fct_deals where deal_id = %s", (deal_id,)
        )
    at = run_page("Deal", query={"deal": deal_id})
    assert not at.exception, at.exception
    assert any(name in s.value for s in at.subheader)
    history = next(df.value for df in at.dataframe if "from_stage" in df.value.columns)
    assert list(history["stage"]) == stages
    signals = next(df.value for df in at.dataframe if "evidence" in df.value.columns)
    assert len(signals) == min(n, 200)
    assert set(signals["evidence"]) == evidence
    assert set(signals.columns) >= {"occurred_at", "signal_type", "signal_value", "confidence"}
    # Customer 360 opens its deals on this page
    at = run_page("Customer 360", query={"customer": customer})
    assert not at.exception
    assert any(o.startswith(f"{name} · ") for o in at.selectbox(key="customer_deal_pick").options)


def test_deal_page_picks_open_deals_first_and_hides_other_tenants(run_page, world) -> None:
    first, other = world.managers[0], world.managers[1]
    at = run_page("Deal", who=first)
    assert not at.exception, at.exception
    with psycopg.connect(world.url) as conn:
        top = one(
            conn,
            """select deal_name from analytics.fct_deals where tenant_id = %s
               order by is_open desc, deal_value desc nulls last, deal_id limit 1""",
            (first.tenant_id,),
        )
        foreign = one(
            conn,
            "select deal_id::text from analytics.fct_deals where tenant_id = %s limit 1",
            (other.tenant_id,),
        )
    assert at.selectbox(key="deal_select").value.startswith(f"{top} · ")
    at = run_page("Deal", who=first, query={"deal": foreign})
    assert not at.exception
    assert any("does not exist in your workspace" in i.value for i in at.info)
