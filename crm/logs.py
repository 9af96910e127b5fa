"""Structured logs and the trace context, shared by every process (API, outbox relay, lander,
Dagster runs), so one grep for a trace id finds a write in each of their logs.

A log line is one JSON object: `ts`, `level`, `service`, `logger`, then `event` and its fields
(`log_event`) or `message`, then what the context carries (`trace_id`, `request_id`, a
`tenant_id` the request annotated, a Dagster `run_id`). `CRM_LOG_LEVEL` sets the level (a
service may read its own variable first, e.g. `LANDER_LOG_LEVEL`); `CRM_LOG_FORMAT=text` gives
one readable line instead (`auto`, the default: text on a terminal, JSON otherwise).

The trace context is W3C Trace Context's `traceparent` (`00-<trace id>-<span id>-<flags>`,
the header OpenTelemetry propagates): the API takes it from the request or starts one, the
outbox row and the Kafka record carry it, the landed row keeps it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TextIO

import orjson

LEVEL_ENV = "CRM_LOG_LEVEL"
FORMAT_ENV = "CRM_LOG_FORMAT"
TRACEPARENT = "traceparent"
"""The header name, on HTTP requests and responses and on Kafka records."""

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^\s]*)?")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


@dataclass(frozen=True, slots=True)
class Trace:
    """One span's place in a trace: the trace id every step shares, this step's span id."""

    trace_id: str
    span_id: str
    flags: str = "01"

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> Trace:
        """A span of this trace whose parent is this one (the API's span of a caller's trace)."""
        return Trace(self.trace_id, os.urandom(8).hex(), self.flags)


def new_trace() -> Trace:
    return Trace(os.urandom(16).hex(), os.urandom(8).hex())


def parse_traceparent(value: str | bytes | None) -> Trace | None:
    """The trace of a `traceparent` value; None when it is missing or not valid (W3C: version
    ff, an all-zero id, or a version 00 value with anything after the flags is refused)."""
    if not value:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    m = _TRACEPARENT.fullmatch(value.strip().lower())
    if m is None:
        return None
    version, trace_id, span_id, flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return Trace(trace_id, span_id, flags)


def trace_id_of(traceparent: str | bytes | None) -> str | None:
    trace = parse_traceparent(traceparent)
    return trace.trace_id if trace is not None else None


# --- context ----------------------------------------------------------------------------------

_trace: ContextVar[Trace | None] = ContextVar("crm_trace", default=None)
_fields: ContextVar[dict[str, Any] | None] = ContextVar("crm_log_fields", default=None)


def current_trace() -> Trace | None:
    return _trace.get()


def current_traceparent() -> str | None:
    """What a row written now records as its trace (None outside a traced request or job)."""
    trace = _trace.get()
    return trace.traceparent if trace is not None else None


def current_field(name: str) -> Any:
    fields = _fields.get()
    return fields.get(name) if fields else None


def annotate(**fields: Any) -> None:
    """Add fields to every later line of the current context (a request learns its tenant)."""
    current = _fields.get()
    if current is None:
        _fields.set(dict(fields))
    else:
        current.update(fields)


@contextmanager
def traced(trace: Trace | None = None, **fields: Any) -> Iterator[Trace]:
    """Run the block in `trace` (a new one when None), with `fields` on every line it logs."""
    trace = trace or new_trace()
    t_token = _trace.set(trace)
    f_token = _fields.set({**(_fields.get() or {}), **fields})
    try:
        yield trace
    finally:
        _fields.reset(f_token)
        _trace.reset(t_token)


# --- formatting -------------------------------------------------------------------------------

_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "fields", "taskName"}
"""LogRecord attributes that are not fields of the line (anything else came in `extra=`)."""


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """A record's own fields: `event` and its fields (`log_event`), else `message`, plus
    anything passed with `extra=`, then the context's (which never override the record's)."""
    doc: dict[str, Any] = {}
    fields = getattr(record, "fields", None)
    if fields:
        doc.update(fields)
    else:
        doc["message"] = record.getMessage()
    for key, value in record.__dict__.items():
        if key not in _STANDARD and key not in doc:
            doc[key] = value
    context = _fields.get()
    if context:
        for key, value in context.items():
            doc.setdefault(key, value)
    trace = _trace.get()
    if trace is not None:
        doc.setdefault("trace_id", trace.trace_id)
    return doc


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module doc for the fields)."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname.lower()}
        if self.service:
            doc["service"] = self.service
        doc["logger"] = record.name
        doc["pid"] = record.process
        doc.update(record_fields(record))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class TextFormatter(logging.Formatter):
    """The same fields as one readable line (a terminal)."""

    def format(self, record: logging.LogRecord) -> str:
        doc = record_fields(record)
        head = doc.pop("event", None) or doc.pop("message", "")
        rest = " ".join(f"{k}={v}" for k, v in doc.items())
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {head}" + (
            f" {rest}" if rest else ""
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def log_level(*env: str, default: str = "INFO") -> str:
    """The first of `env` (then CRM_LOG_LEVEL) that is set, upper-cased."""
    for name in (*env, LEVEL_ENV):
        value = os.environ.get(name)
        if value:
            return value.strip().upper()
    return default


def formatter(service: str | None, stream: TextIO) -> logging.Formatter:
    wanted = os.environ.get(FORMAT_ENV, "auto").strip().lower()
    text = wanted == "text" or (wanted == "auto" and getattr(stream, "isatty", lambda: False)())
    return TextFormatter() if text else JsonFormatter(service)


class CrmHandler(logging.StreamHandler[TextIO]):
    """The handler `setup_logging` installs (`_crm_json` marks it, so a second call adds none)."""

    _crm_json = True


def setup_logging(
    service: str,
    logger: str | None = None,
    *,
    level_env: tuple[str, ...] = (),
    stream: TextIO | None = None,
) -> logging.Logger:
    """Send `logger` (the root logger when None) to stderr as structured lines (idempotent).
    A named logger stops propagating, so a framework's own root format (Faust's) never
    rewrites its lines."""
    target = logging.getLogger(logger)
    if not any(getattr(h, "_crm_json", False) for h in target.handlers):
        out = stream or sys.__stderr__ or sys.stderr
        handler = CrmHandler(out)
        handler.setFormatter(formatter(service, out))
        if logger is None:  # the root: ours replaces whatever basicConfig put there
            for old in list(target.handlers):
                target.removeHandler(old)
        target.addHandler(handler)
        if logger is not None:
            target.propagate = False
    target.setLevel(log_level(*level_env))
    return target


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """One line whose `event` names what happened, with its fields."""
    if logger.isEnabledFor(level):
        # no caller lookup (a stack walk per line): the event names where it comes from
        record = logger.makeRecord(logger.name, level, "", 0, event, (), None)
        record.fields = {"event": event, **fields}
        logger.handle(record)
