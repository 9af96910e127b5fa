"""Run one named query for one tenant: the only place the app touches the database.

Every query runs in its own transaction that first names its tenant, signed for the session
(`crm.db.enter_tenant`: the row-level security key) and a statement timeout, as the `crm_reader` role. A missing mart, column or
grant becomes `DataUnavailable` with a sentence a manager can read, never a traceback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from app.data.queries import QUERIES, Query
from crm.db import enter_tenant

log = logging.getLogger(__name__)

STATEMENT_TIMEOUT = "20s"

_MISSING = {
    "42P01": "is not built yet",
    "42703": "does not have the expected columns yet",
    "42501": "is not readable by the dashboards' role yet",
    "3F000": "is not built yet",
}


class DataUnavailable(RuntimeError):
    """The data behind a view is missing (mart not built, not granted) or the database is down."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@dataclass
class Timing:
    name: str
    ms: float
    rows: int


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None)


def run_query(
    engine: Engine,
    tenant_id: str,
    name: str,
    params: Mapping[str, object] | None = None,
    timings: list[Timing] | None = None,
) -> pd.DataFrame:
    """The named query's rows for `tenant_id`, as a DataFrame (uncached: see `app.data.fetch`)."""
    q: Query = QUERIES[name]
    bound = {**q.defaults, **(params or {}), "tenant_id": str(tenant_id)}
    t0 = time.perf_counter()
    try:
        with engine.begin() as conn:
            enter_tenant(conn, tenant_id)
            conn.execute(text("select set_config('statement_timeout', :st, true)"), {"st": STATEMENT_TIMEOUT})
            result = conn.execute(text(q.sql), bound)
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    except OperationalError as exc:
        if _sqlstate(exc) is None:
            raise DataUnavailable("The analytics database cannot be reached right now.", str(exc)) from exc
        raise _unavailable(q, exc) from exc
    except DBAPIError as exc:
        raise _unavailable(q, exc) from exc
    if timings is not None:
        timings.append(Timing(name, (time.perf_counter() - t0) * 1000, len(frame)))
    return frame


RECORD_VIEW = text(
    "select crm.record_access('dashboard', 'user', cast(:user_id as uuid), :entity,"
    " cast(:entity_id as uuid), :rows, null)"
)


def record_access(
    engine: Engine, tenant_id: str, user_id: str, entity: str, entity_id: object | None, rows: int
) -> None:
    """Record that `user_id` was shown `rows` rows of `entity` (the record's id when the page is
    about one) in crm.access_log, through `crm.record_access`: the tenant is the transaction's
    signed one. Raises what the database raises."""
    with engine.begin() as conn:
        enter_tenant(conn, tenant_id)
        conn.execute(
            RECORD_VIEW,
            {
                "user_id": user_id,
                "entity": entity,
                "entity_id": str(entity_id) if entity_id else None,
                "rows": rows,
            },
        )


def record_view(
    engine: Engine, tenant_id: str, user_id: str, name: str, params: Mapping[str, object], rows: int
) -> None:
    """Record that `user_id` was shown `rows` rows of personal query `name` (`record_access`);
    a query without personal data records nothing. A failure is logged and the page still shows."""
    personal = QUERIES[name].personal
    if personal is None:
        return
    entity, key = personal
    try:
        record_access(engine, tenant_id, user_id, entity, params.get(key) if key else None, rows)
    except DBAPIError as exc:
        log.warning("view of %s not recorded: %s", name, exc)


def _unavailable(q: Query, exc: DBAPIError) -> DataUnavailable:
    state = _sqlstate(exc)
    what = " or ".join(q.relations) or "the data"
    if state in _MISSING:
        return DataUnavailable(f"{what} {_MISSING[state]}.", str(exc.orig))
    if state == "57014":
        return DataUnavailable("This view took too long to load; try a narrower filter.", str(exc.orig))
    return DataUnavailable(f"Could not load {what}.", str(exc.orig))
