"""Segment recalculation: evaluate a segment's criteria over `analytics.dim_customers` and
replace its memberships, count and last_calculated in one transaction.

Recovery (the seed's "use cached segment memberships and schedule recalculation"): when
anything fails (bad criteria, the mart missing, a database error) the transaction rolls back,
the last memberships stay as they were, and the segment is marked `is_stale` with `last_error`;
the next recalculation retries it and clears the flag on success.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import Engine, text

from crm.security import TENANT_SETTING
from crm.segments.compiler import compile_criteria
from crm.segments.fields import SOURCE_TABLE

log = logging.getLogger(__name__)

ERROR_CODE = "SEGMENT_CALCULATION_FAILED"


@dataclass(frozen=True)
class RecalcResult:
    segment_id: str
    tenant_id: str
    name: str
    ok: bool
    customer_count: int
    added: int = 0
    removed: int = 0
    error: str | None = None
    code: str | None = None


def _members_sql(where: str) -> str:
    """One statement: the members now, the memberships that end (deleted) and the ones that
    start (inserted; continuing members keep their row and added_at). A customer deleted since
    the mart was built makes the insert fail its foreign key: the recovery path then keeps the
    last members until the next build."""
    return f"""
        with members as materialized (
            select customer_id from {SOURCE_TABLE} where {where}
        ),
        removed as (
            delete from crm.customer_segment_memberships m
            where m.segment_id = :segment_id
              and not exists (select 1 from members where members.customer_id = m.customer_id)
            returning 1
        ),
        added as (
            insert into crm.customer_segment_memberships (tenant_id, segment_id, customer_id)
            select CAST(:tenant_id AS uuid), :segment_id, members.customer_id
            from members
            where not exists (
                select 1 from crm.customer_segment_memberships m
                where m.segment_id = :segment_id and m.customer_id = members.customer_id
            )
            on conflict (segment_id, customer_id) do nothing
            returning 1
        )
        select (select count(*) from members), (select count(*) from added), (select count(*) from removed)
    """


def recalculate_segment(engine: Engine, segment_id: str | UUID, *, now: datetime | date | None = None) -> RecalcResult:
    """Recalculate one segment; never raises for a failed calculation (see the module doc)."""
    sid = str(segment_id)
    with engine.connect() as conn:
        row = conn.execute(
            text("select tenant_id, name, criteria from crm.customer_segments where id = :id"), {"id": sid}
        ).one_or_none()
    if row is None:
        raise LookupError(f"segment {sid} not found")
    tenant_id, name, criteria = str(row.tenant_id), row.name, row.criteria
    try:
        where, params = compile_criteria(criteria, tenant_id, now=now)
        with engine.begin() as conn:
            conn.execute(text("select set_config(:k, :v, true)"), {"k": TENANT_SETTING, "v": tenant_id})
            count, added, removed = conn.execute(
                text(_members_sql(where)), {**params, "segment_id": sid}
            ).one()
            conn.execute(
                text(
                    "update crm.customer_segments set customer_count = :n, last_calculated = now(), "
                    "is_stale = false, last_error = null where id = :id"
                ),
                {"n": count, "id": sid},
            )
        return RecalcResult(sid, tenant_id, name, True, int(count), int(added), int(removed))
    except Exception as exc:  # every failure takes the recovery path
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:1000]
        log.warning("segment %s (%s) recalculation failed, keeping last members: %s", sid, name, message)
        with engine.begin() as conn:
            conn.execute(
                text("update crm.customer_segments set is_stale = true, last_error = :e where id = :id"),
                {"e": message, "id": sid},
            )
            kept = conn.execute(
                text("select count(*) from crm.customer_segment_memberships where segment_id = :id"), {"id": sid}
            ).scalar_one()
        return RecalcResult(sid, tenant_id, name, False, int(kept), error=message, code=ERROR_CODE)


def recalculate_all(
    engine: Engine, *, tenant_id: str | UUID | None = None, now: datetime | date | None = None
) -> list[RecalcResult]:
    """Recalculate every active dynamic segment (of one tenant, or all)."""
    sql = "select id from crm.customer_segments where is_active and is_dynamic"
    params: dict = {}
    if tenant_id is not None:
        sql += " and tenant_id = :t"
        params["t"] = str(tenant_id)
    with engine.connect() as conn:
        ids = [r.id for r in conn.execute(text(sql + " order by tenant_id, name"), params)]
    return [recalculate_segment(engine, i, now=now) for i in ids]
