"""Tenant-wide lead rescores asked for through the API (`crm.lead_rescore_requests`).

The API only records the request (POST /leads/rescore): scores are written by the ML jobs
alone, the one writer of schema `ml`. The orchestration's rescore sensor hands each due request
to a run, whose step is `rescore`: it takes the request (running), scores the tenant's leads
exactly as the scoring job does (`scoring.score_model` with `specs.LEAD`: the active model, else
the rules, a full refresh of the tenant's rows) and records the outcome on the request (done
with its rows, method and fallback reason, or failed with its error).

A request never stays running for ever: one running longer than `RUNNING_BOUND` without a live
run is due again (`due`), up to `MAX_ATTEMPTS` runs, then failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from crm.db import connect
from crm.errors import CRMError, CRMErrorCode

RUNNING_BOUND = timedelta(minutes=15)
"""How long a request may stay running before it counts as abandoned (scoring a tenant of
1M leads takes under a minute: bench-scoring)."""
MAX_ATTEMPTS = 3
"""Runs a request gets before it is failed for good (the client can ask again)."""
ERROR_CHARS = 2000


@dataclass(frozen=True)
class Due:
    """A request waiting for a run: pending, or running past `RUNNING_BOUND`."""

    id: str
    tenant_id: str
    status: str


def due(url: str | None, bound: timedelta = RUNNING_BOUND, limit: int = 100) -> list[Due]:
    """Pending requests and those running longer than `bound`, oldest first."""
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT id::text, tenant_id::text, status FROM crm.lead_rescore_requests"
            " WHERE status = 'pending' OR (status = 'running' AND started_at < now() - %s)"
            " ORDER BY requested_at LIMIT %s",
            (bound, limit),
        ).fetchall()
    return [Due(*r) for r in rows]


def take(url: str | None, request_id: str) -> str | None:
    """Mark the request running (again, when a run picks up an abandoned one) and return its
    tenant; None when it is finished or unknown (nothing left to do)."""
    with connect(url) as conn:
        row = conn.execute(
            "UPDATE crm.lead_rescore_requests SET status = 'running', started_at = now(),"
            " finished_at = NULL, error = NULL"
            " WHERE id = %s AND status IN ('pending', 'running') RETURNING tenant_id::text",
            (request_id,),
        ).fetchone()
    return row[0] if row else None


def finish(url: str | None, request_id: str, summary: dict[str, Any]) -> None:
    """Record a finished rescore: rows, method, rows per method, why the rules answered."""
    with connect(url) as conn:
        conn.execute(
            "UPDATE crm.lead_rescore_requests SET status = 'done', finished_at = now(), rows = %s,"
            " method = %s, methods = %s, fallback_reason = %s, error = NULL WHERE id = %s",
            (
                summary["rows"],
                summary["method"],
                Jsonb(summary["methods"]),
                summary.get("fallback_reason"),
                request_id,
            ),
        )


def fail(url: str | None, request_id: str, error: str) -> None:
    """Record a rescore that did not happen, with why (the client can ask again)."""
    with connect(url) as conn:
        conn.execute(
            "UPDATE crm.lead_rescore_requests SET status = 'failed', finished_at = now(), error = %s"
            " WHERE id = %s AND status IN ('pending', 'running')",
            (error[:ERROR_CHARS], request_id),
        )


def describe(exc: BaseException) -> str:
    """An error as the request records it."""
    message = exc.message if isinstance(exc, CRMError) else str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def rescore(
    url: str | None,
    request_id: str,
    *,
    as_of: datetime | None = None,
    seed: int = 42,
    force_rules: bool = False,
) -> dict[str, Any]:
    """Act on one request: take it, score its tenant's leads, record the outcome. Returns the
    scoring summary (with `tenant_id`), or `{"skipped": ...}` for a finished or unknown
    request. A failure is recorded on the request and raised (the run fails with it)."""
    from ml import marts, scoring, specs

    tenant = take(url, request_id)
    if tenant is None:
        return {"request_id": request_id, "skipped": "finished or unknown"}
    try:
        run = scoring.score_model(
            url, specs.LEAD, as_of=as_of, seed=seed, force_rules=force_rules, tenants=[tenant]
        )
        if not run.tenants:
            raise CRMError(
                CRMErrorCode.SCORING_SERVICE_UNAVAILABLE,
                "no lead features for the tenant yet (the warehouse has not built them)",
                {"table": marts.LEADS},
            )
    except Exception as exc:
        fail(url, request_id, describe(exc))
        raise
    summary = run.summary()
    if tenant in run.fallback:  # this tenant's reason, without the run's "<tenant>: " prefix
        summary["fallback_reason"] = run.fallback[tenant]
    finish(url, request_id, summary)
    return {"request_id": request_id, "tenant_id": tenant, **summary}
