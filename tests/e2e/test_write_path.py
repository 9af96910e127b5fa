"""One path from every write to the marts: a lead created, worked (activities through the API
and through Kafka, one of them reported by both) and converted, and its deal moved through
every stage and won, all through the API over HTTP; the outbox relay and a lander worker bring
the events into raw.*, `dbt build` runs green, and every mart that should see the lead and the
deal holds each of them, each activity and each stage entry exactly once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from streaming_harness import wait_until

from crm.events import build_event, key_for

pytestmark = pytest.mark.slow

STAGES = ["Qualification", "Needs Analysis", "Proposal", "Negotiation"]


def _ok(r, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


def test_a_lead_worked_through_the_api_and_kafka_reaches_every_mart_once(stack, tmp_path) -> None:
    from api.outbox import OutboxRelay
    from warehouse.dbt import run_dbt

    api, h = stack.api, stack.headers
    lead = _ok(
        api.post("/leads", json={"email": "e2e@lead.test", "source": "webinar", "company": "E2E"}, headers=h),
        201,
    )
    for body in (
        {"type": "EMAIL_SENT", "description": "intro", "metadata": {"email_id": "em-1"}},
        {"type": "CALL_ANSWERED", "description": "discovery", "metadata": {"duration_seconds": 420}},
        {"type": "MEETING_COMPLETED", "description": "demo", "metadata": {"is_demo": True}},
    ):
        _ok(api.post(f"/leads/{lead['id']}/activities", json=body, headers=h), 201)
    call_id = stack.sql(
        "select id from crm.lead_activities where lead_id = %s and type = 'CALL_ANSWERED'", lead["id"]
    )[0][0]
    _ok(api.patch(f"/leads/{lead['id']}", json={"status": "QUALIFIED"}, headers=h))
    deal = _ok(
        api.post("/deals", json={"name": "E2E deal", "value": "12000", "lead_id": lead["id"]}, headers=h), 201
    )
    _ok(
        api.post(
            f"/deals/{deal['id']}/activities", json={"type": "CALL_MADE", "description": "pricing"}, headers=h
        ),
        201,
    )
    for stage in STAGES:
        _ok(api.post(f"/deals/{deal['id']}/stage", json={"stage": stage}, headers=h))
    before_win = datetime.now(UTC) - timedelta(seconds=1)
    _ok(api.post(f"/deals/{deal['id']}/won", json={}, headers=h))
    converted = _ok(api.post(f"/leads/{lead['id']}/convert", json={}, headers=h))

    async def relay() -> int:
        async with OutboxRelay(stack.url, stack.lander.bootstrap, topic_prefix=stack.lander.prefix) as r:
            return await r.drain()

    assert asyncio.run(relay()) > 0
    api_lead_events = 5  # three logged, the status note, the conversion note
    api_deal_events = 2 + len(STAGES) + 2  # created, the call, each stage, the closing stage change and won

    def landed(table: str, key: str, value: str) -> int:
        return stack.sql(f"select count(*) from raw.{table} where payload ->> '{key}' = %s", value)[0][0]

    wait_until(
        lambda: landed("lead_activities", "lead_id", lead["id"]) == api_lead_events, 120, "API lead events"
    )
    wait_until(
        lambda: landed("deal_activities", "deal_id", deal["id"]) == api_deal_events, 120, "API deal events"
    )

    # the e-mail tool reports an open; the dialer reports the call the rep logged (same activity)
    others = [
        build_event(
            "lead.email_opened",
            stack.tenant,
            {"activity_id": uuid.uuid4(), "lead_id": lead["id"], "email_id": "em-1"},
            occurred_at=before_win,
            source="email-tool",
        ),
        build_event(
            "lead.call_answered",
            stack.tenant,
            {"activity_id": call_id, "lead_id": lead["id"], "duration_seconds": 420},
            occurred_at=before_win,
            source="dialer",
        ),
    ]
    stack.lander.produce((e.topic, key_for(e), e.to_bytes()) for e in others)
    wait_until(
        lambda: landed("lead_activities", "lead_id", lead["id"]) == api_lead_events + 2, 120, "Kafka events"
    )

    target = tmp_path / "dbt"
    done = run_dbt(
        ["build"], stack.url, target_path=target, log_path=target, check=False, capture=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-4000:]

    # the lead: once in the dimension, converted, with six activities (the dialer's report of the
    # logged call is the same activity), once in the lead features
    dim = stack.sql(
        "select is_converted, customer_id::text, activity_count, deal_count, won_deal_count"
        " from analytics.dim_leads where lead_id = %s",
        lead["id"],
    )
    assert dim == [(True, converted["customer"]["id"], 6, 1, 1)]
    acts = stack.sql(
        "select event_id, activity_id, activity_type from analytics.fct_lead_activities where lead_id = %s",
        lead["id"],
    )
    assert len(acts) == len({a[1] for a in acts}) == 6
    assert sorted(a[2] for a in acts) == sorted(
        ["EMAIL_SENT", "CALL_ANSWERED", "MEETING_COMPLETED", "NOTE_ADDED", "NOTE_ADDED", "EMAIL_OPENED"]
    )
    assert [a[0] for a in acts if a[1] == call_id] == [call_id]  # the first report: the CRM's own
    assert stack.sql("select count(*) from analytics.ml_features__leads where lead_id = %s", lead["id"]) == [
        (1,)
    ]

    # the deal: once, won, every stage entered once in order
    assert stack.sql(
        "select is_won, lead_id::text, stages_entered, deal_value from analytics.fct_deals where deal_id = %s",
        deal["id"],
    ) == [(True, lead["id"], 6, Decimal("12000.00"))]
    stages = stack.sql(
        "select stage_sequence, from_stage, stage_name, is_current from analytics.fct_deal_stage_transitions"
        " where deal_id = %s order by stage_sequence",
        deal["id"],
    )
    names = ["Prospecting", *STAGES, "Closed Won"]
    assert stages == [
        (i + 1, names[i - 1] if i else None, name, name == "Closed Won") for i, name in enumerate(names)
    ]

    # attribution: the lead's and the deal's touchpoints, each once, credit the won value in full
    touches = stack.sql(
        "select touchpoint_source, touchpoint_type from intermediate.int_touchpoints"
        " where lead_id = %s or deal_id = %s",
        lead["id"],
        deal["id"],
    )
    assert sorted(touches) == sorted(
        [
            ("lead_activity", "call"),
            ("lead_activity", "demo"),
            ("lead_activity", "email"),
            ("deal_activity", "call"),
        ]
    )
    credits = stack.sql(
        "select attribution_model, sum(credit), count(*), count(distinct touchpoint_id)"
        " from analytics.fct_revenue_attribution where deal_id = %s group by 1",
        deal["id"],
    )
    assert credits and all(total == Decimal("12000.00") and n == d == 4 for _, total, n, d in credits)
