"""The lander's structured logs: one JSON object per line on stderr (`event` names what
happened; see `crm.logs` for the fields every service shares).

The lander's own records go to the `streaming` loggers with their own handler, so they stay one
clean JSON line each whatever format Faust's worker gives the root logger.
"""

from __future__ import annotations

import logging
from typing import Any

from crm import logs

events_log = logging.getLogger("streaming.events")


def setup_logging() -> None:
    """Route `streaming.*` loggers to the structured handler (idempotent); the level is
    LANDER_LOG_LEVEL, else CRM_LOG_LEVEL, else INFO."""
    logs.setup_logging("lander", "streaming", level_env=("LANDER_LOG_LEVEL",))


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    logs.log_event(events_log, event, level, **fields)
