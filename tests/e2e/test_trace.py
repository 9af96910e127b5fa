"""One trace id from an API write to its landed row: the request's `traceparent` is continued
by the API (answered in the response), kept on the outbox row, sent by the relay as the Kafka
header, kept by the lander on the raw row, and named on each step's JSON log line (the API's
access line, the relay's batch line, the lander's batch line)."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest
from streaming_harness import wait_until

from crm.logs import parse_traceparent

pytestmark = pytest.mark.slow

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = f"00-{TRACE}-00f067aa0ba902b7-01"


def _json_lines(text: str) -> list[dict]:
    return [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_one_trace_id_from_the_request_to_the_landed_row(stack, crm_home, caplog) -> None:
    from api.outbox import OutboxRelay

    api, h = stack.api, stack.headers
    r = api.post(
        "/leads",
        json={"email": "trace@lead.test", "source": "webinar", "company": "Trace"},
        headers=h | {"traceparent": INCOMING, "X-Request-ID": "req-trace-1"},
    )
    assert r.status_code == 201, r.text
    answered = parse_traceparent(r.headers["traceparent"])
    assert answered is not None and answered.trace_id == TRACE and answered.span_id != INCOMING[36:52]
    assert r.headers["x-request-id"] == "req-trace-1"
    lead = r.json()["id"]

    # a request without one gets a trace of its own
    other = api.patch(f"/leads/{lead}", json={"status": "CONTACTED"}, headers=h)
    assert other.status_code == 200, other.text
    fresh = parse_traceparent(other.headers["traceparent"])
    assert fresh is not None and fresh.trace_id != TRACE

    # the outbox rows keep the traceparent the API answered
    rows = stack.sql(
        "select event_id, traceparent from crm.outbox where payload -> 'payload' ->> 'entity_id' = %s"
        " order by id",
        lead,
    )
    assert [tp for _, tp in rows] == [r.headers["traceparent"], other.headers["traceparent"]]
    created_event = rows[0][0]
    assert stack.sql("select request_id from crm.audit_log where entity_id = %s order by id", lead)[0] == (
        "req-trace-1",
    )

    # the relay sends it as the Kafka header, and names the trace on its batch line
    async def relay() -> int:
        async with OutboxRelay(stack.url, stack.lander.bootstrap, topic_prefix=stack.lander.prefix) as rel:
            return await rel.drain()

    with caplog.at_level(logging.INFO, logger="api.outbox"):
        assert asyncio.run(relay()) >= 2
    sent = [rec.fields for rec in caplog.records if getattr(rec, "fields", {}).get("event") == "outbox_sent"]
    assert any(TRACE in f["trace_ids"] for f in sent), sent
    records = [
        rec
        for rec in stack.lander.consume_all("crm-changes")
        if orjson.loads(rec.value)["event_id"] == str(created_event)
    ]
    assert len(records) == 1 and dict(records[0].headers)["traceparent"] == r.headers["traceparent"].encode()

    # the lander keeps it with the landed row and names it on its batch line
    def landed() -> list[tuple]:
        return stack.sql("select traceparent from raw.crm_changes where event_id = %s", created_event)

    wait_until(lambda: bool(landed()), 120, "the API's event landed")
    assert landed() == [(r.headers["traceparent"],)]
    lander_lines = [
        line
        for w in stack.lander.workers
        for line in _json_lines(w.log())
        if line.get("event") == "batch_landed" and TRACE in line.get("trace_ids", [])
    ]
    assert lander_lines and lander_lines[0]["topic"] == "crm-changes"

    # the API's access line: route, status, duration, tenant, request and trace ids
    port = api.base_url.port
    access = [
        line
        for line in _json_lines((crm_home / f"api-test-{port}.log").read_text())
        if line.get("event") == "request" and line.get("trace_id") == TRACE
    ]
    assert len(access) == 1, access
    line = access[0]
    assert (line["method"], line["route"], line["status"], line["request_id"], line["tenant_id"]) == (
        "POST",
        "/leads",
        201,
        "req-trace-1",
        str(stack.tenant),
    )
    assert line["duration_ms"] >= 0 and line["service"] == "api"
