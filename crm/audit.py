"""System audit rows: what a job, a command or a maintenance step did to one tenant's data.

Who (the system, and in `after` which job), what (the action and the entity: a table or a
record kind), when (the row's time) and how much (`after`: counts, never the values), written
in the caller's transaction, so a change and its record commit together or not at all. Jobs'
bulk writes (scores, segment memberships) are recorded per tenant as `job.write` rows with
their row counts (`record_job_write`). A person's changes are audited by the write path
(`crm.changes`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from crm.changes import jsonable

INSERT = (
    "INSERT INTO crm.audit_log (tenant_id, actor_type, action, entity, entity_id, after, request_id)"
    " VALUES (%s, 'system', %s, %s, %s, %s, %s)"
)


def record_system(
    conn: psycopg.Connection[Any],
    tenant: UUID | str,
    action: str,
    entity: str,
    after: dict[str, Any],
    entity_id: UUID | str | None = None,
) -> None:
    conn.execute(INSERT, (tenant, action, entity, entity_id, Jsonb(jsonable(after)), None))


RUN_ID_ENV = "CRM_JOB_RUN_ID"
"""The run a job's process is carrying out (set by the orchestrator beside PGAPPNAME), kept as
the audit rows' `request_id`."""


def job_name(conn: psycopg.Connection[Any]) -> str:
    """Who a job write is by: the connection's `application_name` (PGAPPNAME; the orchestrator
    names each run's process after its job), else the command that runs it."""
    name = conn.info.parameter_status("application_name")
    if name:
        return name
    argv = [os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python", *sys.argv[1:3]]
    return " ".join(a for a in argv if not a.startswith("-"))[:200]


def record_job_write(
    conn: psycopg.Connection[Any], table: str, rows: Mapping[Any, int], **detail: Any
) -> None:
    """One `job.write` audit row per tenant that `rows` counts written rows of `table` for (in
    the caller's transaction): the job, the count and `detail` (how it wrote), never values."""
    who = job_name(conn)
    run = os.environ.get(RUN_ID_ENV) or None
    params = [
        (tenant, "job.write", table, None, Jsonb(jsonable({"job": who, "rows": int(n), **detail})), run)
        for tenant, n in sorted(rows.items(), key=lambda kv: str(kv[0]))
        if n
    ]
    if params:
        with conn.cursor() as cur:
            cur.executemany(INSERT, params)
