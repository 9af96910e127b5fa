"""Segment recalculation: evaluate segments' criteria over `analytics.dim_customers` and bring
their memberships, count and last_calculated up to date.

Set-based, one tenant at a time: a single scan of the tenant's customers evaluates every
segment's compiled predicate (each customer yields the ids of the segments it matches), and
one statement applies the difference to `crm.customer_segment_memberships` (ending the
memberships no longer matched, starting the new ones; continuing members keep their row and
added_at). Nothing is rewritten that did not change, so a recalculation with nothing changed
writes almost nothing.

Recovery (the seed's "use cached segment memberships and schedule recalculation"): when
anything fails (bad criteria, the mart missing, a database error) the transaction rolls back,
the last memberships stay as they were, and the segment is marked `is_stale` with `last_error`;
the next recalculation retries it and clears the flag on success. Criteria that do not compile
fail alone; when a tenant's combined statement fails, its segments are retried one by one so
that only the failing ones are marked stale. A stale segment is due for another attempt at once
when someone asked for it (no error yet), `RETRY_AFTER` after a failure (`due_segments`).

Event-driven: `recalculate_customers` evaluates the segments for some customers only (the ones
new events touched), applying the same difference restricted to them; a stale segment is left
to its full recalculation.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, text

from crm.audit import record_job_write
from crm.db import enter_tenant
from warehouse.segments.compiler import compile_criteria
from warehouse.segments.fields import SOURCE_TABLE

log = logging.getLogger(__name__)

ERROR_CODE = "SEGMENT_CALCULATION_FAILED"

RETRY_AFTER = timedelta(seconds=60)
"""A failed recalculation is tried again this long after it failed (not at every sensor tick:
a segment failing for good would otherwise recalculate in a loop)."""


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


@dataclass(frozen=True)
class _Segment:
    id: str
    tenant_id: str
    name: str
    criteria: Any


def _members_sql(wheres: list[str], some_customers: bool = False) -> str:
    """One statement for a tenant's segments (parameters :tenant_id, :segment_ids, :sid<i> and
    each clause's own): `members` is one pass over the tenant's customers (a customer becomes
    one row per segment it matches), then the memberships that end are deleted and the ones
    that start inserted, and the per-segment counts come back. With `some_customers` only the
    customers in :customer_ids are evaluated and only their memberships change; the counts are
    then the segment's prior members plus those added, less those removed. The table has no foreign keys
    (migration 0901: per-row checks tripled a first calculation's cost), so the statement
    checks what they did, set-based: only customers still in crm.customers are members (the
    mart can be older than a deletion), and `_apply` has locked the segments beforehand (a
    concurrent delete of one waits; a concurrent recalculation of one waits, then sees this
    one's rows)."""
    matches = ",\n                    ".join(
        f"CASE WHEN ({where}) THEN CAST(:sid{i} AS uuid) END" for i, where in enumerate(wheres)
    )
    only = "and source.customer_id = ANY(CAST(:customer_ids AS uuid[]))" if some_customers else ""
    only_m = "and m.customer_id = ANY(CAST(:customer_ids AS uuid[]))" if some_customers else ""
    counted = (
        """counted as (
            select ids.segment_id, (select count(*) from crm.customer_segment_memberships m
                                    where m.segment_id = ids.segment_id)
                                   + coalesce(a.n, 0) - coalesce(r.n, 0) as n
            from unnest(CAST(:segment_ids AS uuid[])) as ids (segment_id)
            left join added_n a on a.segment_id = ids.segment_id
            left join removed_n r on r.segment_id = ids.segment_id
        )"""
        if some_customers
        else "counted as (select segment_id, count(*) as n from members group by segment_id)"
    )
    return f"""
        with members as materialized (
            select matched.segment_id, matched.customer_id
            from (
                select customer_id, unnest(array_remove(ARRAY[
                    {matches}
                ], NULL)) as segment_id
                from {SOURCE_TABLE} as source
                where source.tenant_id = CAST(:tenant_id AS uuid)
                  {only}
                  and exists (  -- the mart can be older than a deletion
                      select 1 from crm.customers c
                      where c.id = source.customer_id and c.tenant_id = CAST(:tenant_id AS uuid)
                  )
            ) as matched
        ),
        removed as (
            delete from crm.customer_segment_memberships m
            where m.segment_id = ANY(CAST(:segment_ids AS uuid[]))
              {only_m}
              and not exists (
                  select 1 from members where members.segment_id = m.segment_id
                                          and members.customer_id = m.customer_id
              )
            returning m.segment_id
        ),
        added as (
            insert into crm.customer_segment_memberships (tenant_id, segment_id, customer_id)
            select CAST(:tenant_id AS uuid), members.segment_id, members.customer_id
            from members
            where not exists (
                select 1 from crm.customer_segment_memberships m
                where m.segment_id = members.segment_id and m.customer_id = members.customer_id
            )
            order by members.segment_id, members.customer_id  -- in primary key order
            returning segment_id
        ),
        added_n as (select segment_id, count(*) as n from added group by segment_id),
        removed_n as (select segment_id, count(*) as n from removed group by segment_id),
        {counted}
        select ids.segment_id::text as segment_id,
               coalesce(counted.n, 0) as members, coalesce(added_n.n, 0) as added,
               coalesce(removed_n.n, 0) as removed
        from unnest(CAST(:segment_ids AS uuid[])) as ids (segment_id)
        left join counted on counted.segment_id = ids.segment_id
        left join added_n on added_n.segment_id = ids.segment_id
        left join removed_n on removed_n.segment_id = ids.segment_id
    """


_LOCK = """
    select id::text from crm.customer_segments where id = ANY(CAST(:ids AS uuid[])) {only}
    order by id for no key update
"""
"""The segments' rows, locked for the transaction: they are updated at its end anyway, and
holding them from the start serializes recalculations and deletes of the same segment."""

_MARK_DONE = """
    update crm.customer_segments s
    set customer_count = done.n, last_calculated = now(), is_stale = false, last_error = null
    from unnest(CAST(:ids AS uuid[]), CAST(:counts AS integer[])) as done (id, n)
    where s.id = done.id
"""

_MARK_COUNT = """
    update crm.customer_segments s set customer_count = done.n
    from unnest(CAST(:ids AS uuid[]), CAST(:counts AS integer[])) as done (id, n)
    where s.id = done.id and s.customer_count is distinct from done.n
"""
"""After some customers only: the count changes, last_calculated stays the time of the last
evaluation of every customer (time-relative criteria move with it)."""


def _apply(
    engine: Engine,
    tenant_id: str,
    compiled: list[tuple[_Segment, str, dict]],
    customer_ids: list[str] | None = None,
) -> list[RecalcResult]:
    """Evaluate and write `compiled` (one tenant's segments) in one transaction, for every
    customer or only `customer_ids`; raises on failure. With `customer_ids`, a segment deleted
    or made stale meanwhile is left out (its full recalculation follows)."""
    with engine.begin() as conn:
        enter_tenant(conn, tenant_id)
        lock = _LOCK.format(only="and not is_stale" if customer_ids is not None else "")
        locked = set(conn.execute(text(lock), {"ids": [s.id for s, _, _ in compiled]}).scalars())
        if customer_ids is not None:
            compiled = [c for c in compiled if c[0].id in locked]
        elif missing := [s.name for s, _, _ in compiled if s.id not in locked]:
            raise LookupError(f"segment deleted during recalculation: {', '.join(missing)}")
        if not compiled:
            return []
        params: dict[str, Any] = {"tenant_id": tenant_id, "segment_ids": [s.id for s, _, _ in compiled]}
        for i, (segment, _, clause_params) in enumerate(compiled):
            params.update(clause_params)
            params[f"sid{i}"] = segment.id
        if customer_ids is not None:
            params["customer_ids"] = customer_ids
        sql = _members_sql([w for _, w, _ in compiled], some_customers=customer_ids is not None)
        rows = {r.segment_id: r for r in conn.execute(text(sql), params)}
        conn.execute(
            text(_MARK_DONE if customer_ids is None else _MARK_COUNT),
            {
                "ids": [s.id for s, _, _ in compiled],
                "counts": [int(rows[s.id].members) for s, _, _ in compiled],
            },
        )
        added = sum(int(r.added) for r in rows.values())
        removed = sum(int(r.removed) for r in rows.values())
        raw = conn.connection.driver_connection  # psycopg's, in this transaction
        assert raw is not None
        record_job_write(
            raw,
            "crm.customer_segment_memberships",
            {tenant_id: added + removed},
            added=added,
            removed=removed,
            segments=len(compiled),
        )
    return [
        RecalcResult(
            s.id,
            tenant_id,
            s.name,
            True,
            int(rows[s.id].members),
            int(rows[s.id].added),
            int(rows[s.id].removed),
        )
        for s, _, _ in compiled
    ]


def _failed(engine: Engine, segment: _Segment, exc: Exception) -> RecalcResult:
    """The recovery path: keep the last members, mark the segment stale with the error."""
    message = f"{type(exc).__name__}: {exc}".splitlines()[0][:1000]
    log.warning(
        "segment %s (%s) recalculation failed, keeping last members: %s", segment.id, segment.name, message
    )
    with engine.begin() as conn:
        conn.execute(
            text("update crm.customer_segments set is_stale = true, last_error = :e where id = :id"),
            {"e": message, "id": segment.id},
        )
        kept = conn.execute(
            text("select count(*) from crm.customer_segment_memberships where segment_id = :id"),
            {"id": segment.id},
        ).scalar_one()
    return RecalcResult(
        segment.id, segment.tenant_id, segment.name, False, int(kept), error=message, code=ERROR_CODE
    )


def _recalculate_tenant(
    engine: Engine,
    tenant_id: str,
    segments: list[_Segment],
    now: datetime | date | None,
    customer_ids: list[str] | None = None,
) -> list[RecalcResult]:
    results: dict[str, RecalcResult] = {}
    compiled: list[tuple[_Segment, str, dict]] = []
    for i, segment in enumerate(segments):
        try:
            where, params = compile_criteria(segment.criteria, tenant_id, now=now, prefix=f"s{i}_")
        except Exception as exc:  # invalid stored criteria fail alone, without any SQL
            results[segment.id] = _failed(engine, segment, exc)
            continue
        compiled.append((segment, where, params))
    if compiled:
        try:
            results.update((r.segment_id, r) for r in _apply(engine, tenant_id, compiled, customer_ids))
        except Exception as exc:
            if len(compiled) == 1:
                results[compiled[0][0].id] = _failed(engine, compiled[0][0], exc)
            else:  # find the failing ones: each segment alone
                log.info(
                    "tenant %s: combined recalculation failed (%s), retrying segment by segment",
                    tenant_id,
                    exc,
                )
                for segment, where, params in compiled:
                    try:
                        results.update(
                            (r.segment_id, r)
                            for r in _apply(engine, tenant_id, [(segment, where, params)], customer_ids)
                        )
                    except Exception as one_exc:
                        results[segment.id] = _failed(engine, segment, one_exc)
    return [results[s.id] for s in segments if s.id in results]


def _load(engine: Engine, where: str, params: dict) -> list[_Segment]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"select id, tenant_id, name, criteria from crm.customer_segments where {where} order by tenant_id, name"
            ),
            params,
        )
        return [_Segment(str(r.id), str(r.tenant_id), r.name, r.criteria) for r in rows]


def recalculate_segment(
    engine: Engine, segment_id: str | UUID, *, now: datetime | date | None = None
) -> RecalcResult:
    """Recalculate one segment; never raises for a failed calculation (see the module doc)."""
    sid = str(segment_id)
    segments = _load(engine, "id = :id", {"id": sid})
    if not segments:
        raise LookupError(f"segment {sid} not found")
    (result,) = _recalculate_tenant(engine, segments[0].tenant_id, segments, now)
    return result


def recalculate_all(
    engine: Engine,
    *,
    tenant_id: str | UUID | None = None,
    segment_ids: Collection[str | UUID] | None = None,
    now: datetime | date | None = None,
) -> list[RecalcResult]:
    """Recalculate every active dynamic segment (of one tenant, or all; or these): one scan of
    the customers and one membership diff per tenant."""
    where = "is_active and is_dynamic"
    params: dict[str, Any] = {}
    if tenant_id is not None:
        where += " and tenant_id = :t"
        params["t"] = str(tenant_id)
    if segment_ids is not None:
        where += " and id = ANY(CAST(:ids AS uuid[]))"
        params["ids"] = [str(i) for i in segment_ids]
    results: list[RecalcResult] = []
    for tenant, segments in _by_tenant(_load(engine, where, params)).items():
        results.extend(_recalculate_tenant(engine, tenant, segments, now))
    return results


def recalculate_customers(
    engine: Engine,
    customers: Mapping[str, Collection[str | UUID]],
    *,
    now: datetime | date | None = None,
) -> list[RecalcResult]:
    """Re-evaluate the active dynamic segments for these customers only (`{tenant: ids}`: the
    ones new events touched): their memberships start or end, everyone else's stay. Stale
    segments are left to their full recalculation (`due_segments`)."""
    results: list[RecalcResult] = []
    for tenant, ids in customers.items():
        wanted = sorted({str(i) for i in ids})
        if not wanted:
            continue
        segments = _load(
            engine, "is_active and is_dynamic and not is_stale and tenant_id = :t", {"t": str(tenant)}
        )
        if segments:
            results.extend(_recalculate_tenant(engine, str(tenant), segments, now, wanted))
    return results


def due_segments(engine: Engine, retry_after: timedelta = RETRY_AFTER) -> list[str]:
    """Stale active dynamic segments to recalculate now: asked for (no error yet), or failed at
    least `retry_after` ago (the failure's update is the row's `updated_at`)."""
    with engine.connect() as conn:
        return [
            str(r[0])
            for r in conn.execute(
                text(
                    "select id from crm.customer_segments"
                    " where is_stale and is_active and is_dynamic"
                    " and (last_error is null or updated_at <= now() - :after)"
                    " order by updated_at, id"
                ),
                {"after": retry_after},
            )
        ]


def _by_tenant(segments: list[_Segment]) -> dict[str, list[_Segment]]:
    by_tenant: dict[str, list[_Segment]] = {}
    for segment in segments:
        by_tenant.setdefault(segment.tenant_id, []).append(segment)
    return by_tenant
