"""Dagster runs log as every other service does (`crm.logs`): one JSON line per run event in
`.crm/logs/dagster-runs.log` (the instance adds the handler to every run, `orchestration.instance`),
carrying the run id, the job and the step; a run's start and end lines carry the trace ids its
tags name (`orchestration.sensors`), so a write's trace id finds the refresh that took it in.
Dagster's own coloured console lines stay as they are in `.crm/logs/dagster.log`."""

from __future__ import annotations

import logging

from dagster import DagsterEventType

from crm.logs import JsonFormatter, log_level

RUN_EVENTS = frozenset(
    {DagsterEventType.RUN_START, DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE}
)
LIFECYCLE = RUN_EVENTS | {
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.ASSET_MATERIALIZATION,
}
TRACE_TAGS = ("crm/traced_events", "crm/trace_ids")


class DagsterJsonFormatter(JsonFormatter):
    """The shared JSON line, fields taken from Dagster's metadata on the record."""

    def format(self, record: logging.LogRecord) -> str:
        meta = record.__dict__.get("dagster_meta")
        if meta is None:
            return super().format(record)
        event = meta.get("dagster_event")
        fields = {
            "event": event.event_type_value if event is not None else "log",
            "message": meta.get("orig_message"),
            "run_id": meta.get("run_id"),
            "job": meta.get("job_name"),
            "step": meta.get("step_key"),
        }
        if event is not None and event.event_type in RUN_EVENTS:
            tags = meta.get("job_tags") or {}
            if tags.get(TRACE_TAGS[0]):
                fields["traced_events"] = int(tags[TRACE_TAGS[0]])
                fields["trace_ids"] = [t for t in tags.get(TRACE_TAGS[1], "").split(",") if t]
        clean = logging.makeLogRecord(
            {
                "name": record.name,
                "levelno": record.levelno,
                "levelname": record.levelname,
                "created": record.created,
                "msecs": record.msecs,
                "process": record.process,
                "exc_info": record.exc_info,
                "fields": {k: v for k, v in fields.items() if v is not None},
            }
        )
        return super().format(clean)


RUN_LOG = "dagster-runs.log"
"""Beside the services' logs: `.crm/logs/dagster-runs.log`."""


class RunLogHandler(logging.FileHandler):
    """The handler the instance adds to every run (dagster.yaml `python_logs`,
    `orchestration.instance`): JSON lines appended to `.crm/logs/dagster-runs.log`, at
    CRM_LOG_LEVEL (INFO by default)."""

    _crm_json = True

    def __init__(self) -> None:
        from crm.settings import get_settings

        folder = get_settings().home / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        super().__init__(folder / RUN_LOG, encoding="utf-8", delay=True)
        self.threshold = logging.getLevelName(log_level())
        self.setFormatter(DagsterJsonFormatter("dagster"))

    def filter(self, record: logging.LogRecord) -> bool:
        """Lines at CRM_LOG_LEVEL and above, and the run's and steps' lifecycle events (Dagster
        logs those at DEBUG)."""
        if isinstance(self.threshold, int) and record.levelno >= self.threshold:
            return super().filter(record)
        meta = record.__dict__.get("dagster_meta") or {}
        event = meta.get("dagster_event")
        return event is not None and event.event_type in LIFECYCLE and super().filter(record)
