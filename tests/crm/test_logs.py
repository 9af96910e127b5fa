"""crm.logs: W3C traceparent parsing, the trace context, and the JSON line every service writes."""

from __future__ import annotations

import io
import logging

import orjson

from crm import logs

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_traceparent_parsing_follows_w3c() -> None:
    trace = logs.parse_traceparent(VALID)
    assert trace is not None and trace.traceparent == VALID
    assert logs.parse_traceparent(VALID.upper().encode()) == trace
    assert logs.parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later") is not None
    for bad in (
        None,
        "",
        "garbage",
        VALID + "-extra",  # version 00 has nothing after the flags
        "ff" + VALID[2:],
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
    ):
        assert logs.parse_traceparent(bad) is None, bad
    child = trace.child()
    assert child.trace_id == trace.trace_id and child.span_id != trace.span_id


def test_lines_are_json_with_the_context_fields() -> None:
    out = io.StringIO()
    logger = logging.getLogger("crm.test.logs")
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter("test"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        assert logs.current_traceparent() is None
        with logs.traced(logs.parse_traceparent(VALID), request_id="r-1"):
            logs.annotate(tenant_id="t-1")
            logs.log_event(logger, "did_something", count=2, tenant_id="own")
            logger.info("plain %s", "text", extra={"extra_field": 1})
            assert logs.current_traceparent() == VALID
        assert logs.current_traceparent() is None
        logs.log_event(logger, "outside")
    finally:
        logger.removeHandler(handler)
    first, second, third = (orjson.loads(line) for line in out.getvalue().splitlines())
    assert first["event"] == "did_something" and first["count"] == 2 and first["service"] == "test"
    assert (first["trace_id"], first["request_id"], first["tenant_id"]) == (VALID[3:35], "r-1", "own")
    assert second["message"] == "plain text" and second["extra_field"] == 1 and second["tenant_id"] == "t-1"
    assert "trace_id" not in third and "request_id" not in third
