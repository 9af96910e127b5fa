"""Structured logs: one JSON object per line on stderr (`event` names what happened).

The lander's own records go to the `streaming.events` logger with their own handler, so they
stay one clean JSON line each whatever format Faust's worker gives the root logger.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, TextIO

import orjson

events_log = logging.getLogger("streaming.events")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
        }
        fields = getattr(record, "fields", None)
        if fields:
            doc.update(fields)
        else:
            doc["message"] = record.getMessage()
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class JsonHandler(logging.StreamHandler[TextIO]):
    """The handler `setup_logging` installs; `_crm_json` marks it so a second call adds none."""

    _crm_json = True


def setup_logging(level: int = logging.INFO) -> None:
    """Route `streaming.*` loggers to a JSON handler (idempotent)."""
    root = logging.getLogger("streaming")
    if any(getattr(h, "_crm_json", False) for h in root.handlers):
        return
    handler = JsonHandler(sys.__stderr__)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(os.environ.get("LANDER_LOG_LEVEL", logging.getLevelName(level)).upper())
    root.propagate = False


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    if events_log.isEnabledFor(level):
        events_log.log(level, event, extra={"fields": {"event": event, **fields}})
