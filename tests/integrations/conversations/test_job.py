"""The conversation job against real Postgres: landed messages (their text sealed, as the lander
lands it, or readable, as landed before sealing) analysed into crm.conversation_signals by the
Dagster job the sensor launches, once per message, the quoted evidence stored sealed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from dagster import build_sensor_context
from psycopg.types.json import Jsonb

from crm.secrets import Undecryptable
from orchestration.integrations_conversations import conversation_signals_job, conversation_signals_sensor
from orchestration.resources import PostgresResource


def _land(
    conn: psycopg.Connection,
    tenant: uuid.UUID,
    conversation: uuid.UUID,
    deal: uuid.UUID,
    text: str,
    sealed: bool = True,
) -> None:
    """A message in raw.conversations as the lander writes it (`sealed`), or as it was landed
    before the lander sealed text."""
    from crm.keys import event_text
    from crm.keys.keyring import keyring

    payload = {
        "conversation_id": str(conversation),
        "deal_id": str(deal),
        "channel": "EMAIL",
        "direction": "inbound",
        "text": text,
    }
    if sealed:
        dsn = conn.info.dsn
        version, key = keyring(dsn).current(tenant)
        payload = event_text.sealer("conversations", tenant, version, key)(payload) or payload
        assert text not in str(payload)
    conn.execute(
        "INSERT INTO raw.conversations (event_id, tenant_id, event_type, schema_version, occurred_at, source, payload)"
        " VALUES (%s, %s, 'conversation.message', 1, %s, 'ticketing', %s)",
        (uuid.uuid4(), tenant, datetime(2026, 5, 12, tzinfo=UTC), Jsonb(payload)),
    )


def test_landed_messages_are_analysed_once(migrated_db: str) -> None:
    tenant, conversation, deal = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO crm.tenants (id, slug, name, settings) VALUES (%s, 'conv', 'Conv', %s)",
            (tenant, Jsonb({"conversation_competitors": ["Nimble"]})),
        )
        _land(conn, tenant, conversation, deal, "Nimble is cheaper, but we're ready to sign by end of Q3.")
        _land(conn, tenant, conversation, deal, "Let's schedule a call next week.", sealed=False)
    postgres = PostgresResource(database_url=migrated_db)

    ask = conversation_signals_sensor(build_sensor_context(resources={"postgres": postgres}))
    assert ask.run_key.endswith("/2")
    assert conversation_signals_job.execute_in_process(resources={"postgres": postgres}).success
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "SELECT signal_type, value, deal_id, detail FROM crm.conversation_signals WHERE tenant_id = %s",
            (tenant,),
        ).fetchall()
    kinds = {(r[0], r[1]) for r in rows}
    assert {("competitor", "Nimble"), ("buying_signal", "ready_to_buy"), ("next_step", "meeting")} <= kinds
    assert all(r[2] == deal for r in rows)
    assert next(r[3] for r in rows if r[0] == "timeline" and r[3].get("resolved"))["resolved"] == "2026-09-30"
    # the evidence quotes the message: stored sealed, opened to the span
    from crm.keys import event_text
    from crm.keys.keyring import keyring

    with psycopg.connect(migrated_db) as conn:
        stored = conn.execute(
            "SELECT value, evidence, t::text FROM crm.conversation_signals t WHERE tenant_id = %s", (tenant,)
        ).fetchall()
    assert all(e.startswith("v2:dk1:") for _, e, _ in stored)
    for plain in ("Nimble is cheaper", "ready to sign", "schedule a call"):
        assert not any(plain in row for _, _, row in stored), plain
    ring = keyring(migrated_db)
    evidence = {v: event_text.open_evidence(tenant, e, ring) for v, e, _ in stored}
    assert evidence["ready_to_buy"] == "ready to sign"
    assert evidence["meeting"] == "Let's schedule a call next week."
    with pytest.raises(Undecryptable):  # in another purpose it does not open
        event_text.open_field(tenant, "conversations", "text", stored[0][1], ring)

    skip = conversation_signals_sensor(build_sensor_context(resources={"postgres": postgres}))
    assert "no conversation message" in skip.skip_message
    assert conversation_signals_job.execute_in_process(resources={"postgres": postgres}).success
    with psycopg.connect(migrated_db) as conn:
        again = conn.execute("SELECT count(*) FROM crm.conversation_signals").fetchone()
    assert again is not None and again[0] == len(rows)
    # the job's write was audited once, for its tenant, with the rows; the second run wrote none
    with psycopg.connect(migrated_db) as conn:
        audited = conn.execute(
            "SELECT after->>'job', (after->>'rows')::int FROM crm.audit_log"
            " WHERE tenant_id = %s AND action = 'job.write' AND entity = 'crm.conversation_signals'",
            (tenant,),
        ).fetchall()
    assert audited == [("dagster conversation_signals", len(rows))]


def test_the_mart_carries_the_signals_with_the_deals_customer(migrated_db: str, tmp_path) -> None:
    """The conversation job's signals through a real dbt build of fct_conversation_signals (its
    staging, contract, data and unit tests), the customer taken from the deal."""
    from warehouse.dbt import run_dbt

    tenant, conversation = uuid.uuid4(), uuid.uuid4()
    deal, customer, pipeline = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        conn.execute("INSERT INTO crm.tenants (id, slug, name) VALUES (%s, 'mart', 'Mart')", (tenant,))
        conn.execute(
            "INSERT INTO crm.customers (id, tenant_id, email) VALUES (%s, %s, 'c@mart.test')",
            (customer, tenant),
        )
        conn.execute(
            "INSERT INTO crm.sales_pipelines (id, tenant_id, name, stages) VALUES (%s, %s, 'Sales', '[]')",
            (pipeline, tenant),
        )
        conn.execute(
            "INSERT INTO crm.deals (id, tenant_id, customer_id, name, value, stage, pipeline_id)"
            " VALUES (%s, %s, %s, 'D', 100, 'Prospecting', %s)",
            (deal, tenant, customer, pipeline),
        )
        _land(conn, tenant, conversation, deal, "The price is too high, we'd need a bigger discount.")
    assert conversation_signals_job.execute_in_process(
        resources={"postgres": PostgresResource(database_url=migrated_db)}
    ).success
    done = run_dbt(
        ["build", "--select", "+fct_conversation_signals", "--exclude", "resource_type:seed"],
        migrated_db,
        target_path=tmp_path,
        log_path=tmp_path / "logs",
        check=False,
        capture=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "SELECT signal_type, signal_value, customer_id FROM analytics.fct_conversation_signals"
            " WHERE tenant_id = %s",
            (tenant,),
        ).fetchall()
        carried = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics'"
            " AND table_name IN ('fct_conversation_signals', 'stg_crm__conversation_signals')"
        ).fetchall()
    assert ("objection", "price", customer) in rows
    assert {r[2] for r in rows} == {customer}
    assert carried and ("evidence",) not in carried  # sealed in crm.conversation_signals only
