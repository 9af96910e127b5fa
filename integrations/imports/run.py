"""One import run: read every file, check every row, then write in dependency order.

Nothing is written while any row is bad, unless the run is told to skip bad rows: then those
rows (and the rows that refer to them) are left out and listed. Either way every bad row is
reported with its file, line and reason, and kept on the run (`crm.import_runs`). Records are
written a batch per transaction, each record with its audit row and event, so an interrupted
run leaves whole records only; running the same import again skips what is already there
(unchanged content) and writes the rest, which is how an import resumes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg.types.json import Jsonb

from crm.changes import change_rows
from crm.db import connect
from crm.errors import CRMError, CRMErrorCode
from crm.schema.pipelines import DEFAULT_PIPELINE_NAME, DEFAULT_PIPELINE_STAGES, StageDefinition
from crm.tenants import TENANT_CLOCK_SETTING, parse_clock
from integrations.imports import writer
from integrations.imports.formats.base import Located, Parsed, PropertyDef
from integrations.imports.records import (
    ORDER,
    BadRow,
    CustomerRecord,
    DealRecord,
    TransactionRecord,
)

BATCH = 5_000
KEEP_BAD_ROWS = 1_000
Progress = Callable[[str, int, int], None]
"""(record kind, records done, records of that kind) after each batch."""


@dataclass
class ImportResult:
    run_id: UUID | None
    tenant_id: UUID
    status: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    bad: list[BadRow] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[BadRow] = field(default_factory=list)
    """Rows imported with an optional reference left empty (it names a record not there)."""
    properties: int = 0
    clock: datetime | None = None


def resolve_tenant(conn: psycopg.Connection[Any], tenant: str, create: str | None = None) -> UUID:
    """A tenant by id or slug; with `create` (its name), a new tenant with the default pipeline."""
    try:
        row = conn.execute("SELECT id FROM crm.tenants WHERE id = %s", (UUID(tenant),)).fetchone()
    except ValueError:
        row = conn.execute("SELECT id FROM crm.tenants WHERE slug = %s", (tenant,)).fetchone()
    if row:
        return UUID(str(row[0]))
    if not create:
        raise CRMError(
            CRMErrorCode.NOT_FOUND,
            f"no tenant {tenant!r}: give --create-tenant NAME to create it",
            {"tenant": tenant},
        )
    with conn.transaction():
        tid = conn.execute(
            "INSERT INTO crm.tenants (slug, name) VALUES (%s, %s) RETURNING id", (tenant, create)
        ).fetchone()
        assert tid is not None
        tenant_id = UUID(str(tid[0]))
        _create_pipeline(conn, tenant_id, DEFAULT_PIPELINE_NAME, DEFAULT_PIPELINE_STAGES, default=True)
    return tenant_id


def _create_pipeline(
    conn: psycopg.Connection[Any],
    tenant_id: UUID,
    name: str,
    stages: list[StageDefinition],
    *,
    default: bool = False,
    run_id: UUID | None = None,
) -> UUID:
    row = conn.execute(
        "INSERT INTO crm.sales_pipelines (tenant_id, name, stages, is_default) VALUES (%s, %s, %s, %s) RETURNING *",
        (tenant_id, name, Jsonb(stages), default),
    )
    names = [d.name for d in row.description or ()]
    values = row.fetchone()
    assert values is not None
    after = dict(zip(names, values, strict=True))
    with conn.cursor() as cur:
        writer.write_changes(
            cur,
            change_rows(
                writer.ImportActor(tenant_id),
                table="sales_pipelines",
                entity="pipeline",
                action="created",
                entity_id=after["id"],
                before=None,
                after=after,
                request_id=f"import:{run_id}" if run_id else None,
                source=writer.SOURCE,
            ),
        )
    return UUID(str(after["id"]))


def _extend_pipeline(
    conn: psycopg.Connection[Any], tenant_id: UUID, pid: UUID, stages: list[StageDefinition], run_id: UUID
) -> None:
    """Give a stored pipeline the stages an import added to it (an audited update)."""
    cur = conn.execute("SELECT * FROM crm.sales_pipelines WHERE id = %s", (pid,))
    names = [d.name for d in cur.description or ()]
    row = cur.fetchone()
    if row is None:
        return
    before = dict(zip(names, row, strict=True))
    if [s["name"] for s in before["stages"]] == [s["name"] for s in stages]:
        return
    cur = conn.execute(
        "UPDATE crm.sales_pipelines SET stages = %s, version = version + 1 WHERE id = %s RETURNING *",
        (Jsonb(stages), pid),
    )
    after_row = cur.fetchone()
    assert after_row is not None
    after = dict(zip(names, after_row, strict=True))
    with conn.cursor() as c:
        writer.write_changes(
            c,
            change_rows(
                writer.ImportActor(tenant_id),
                table="sales_pipelines",
                entity="pipeline",
                action="updated",
                entity_id=pid,
                before=before,
                after=after,
                request_id=f"import:{run_id}",
                source=writer.SOURCE,
            ),
        )


def _pipelines(
    conn: psycopg.Connection[Any], tenant_id: UUID, parsed: Parsed
) -> tuple[dict[str, tuple[UUID | None, list[StageDefinition]]], list[BadRow]]:
    """Each pipeline the deals name: the tenant's (id, stages), else the format's definition
    (no id yet: created when writing); deals in an unknown pipeline or stage are bad rows."""
    have = {
        name: (UUID(str(pid)), list(stages))
        for pid, name, stages in conn.execute(
            "SELECT id, name, stages FROM crm.sales_pipelines WHERE tenant_id = %s", (tenant_id,)
        ).fetchall()
    }
    wanted: dict[str, tuple[UUID | None, list[StageDefinition]]] = {}
    bad: list[BadRow] = []
    definitions = dict(parsed.pipelines)
    definitions.setdefault(writer.ORDERS_PIPELINE, writer.ORDER_STAGES)
    for loc in parsed.records:
        r = loc.record
        name = writer.ORDERS_PIPELINE if isinstance(r, TransactionRecord) else getattr(r, "pipeline", None)
        if name is None:
            continue
        if name not in wanted:
            if name in have:
                wanted[name] = (have[name][0], merge_stages(have[name][1], definitions.get(name, [])))
            elif name in definitions:
                wanted[name] = (None, definitions[name])
            else:
                bad.append(
                    BadRow(file=loc.file, line=loc.line, reason=f"pipeline: no pipeline named {name!r}")
                )
                continue
        if isinstance(r, DealRecord) and r.stage not in {s["name"] for s in wanted[name][1]}:
            bad.append(
                BadRow(file=loc.file, line=loc.line, reason=f"stage: {r.stage!r} is not a stage of {name!r}")
            )
    return wanted, bad


def merge_stages(stored: list[StageDefinition], defined: list[StageDefinition]) -> list[StageDefinition]:
    """A stored pipeline's stages plus those a later import defines that it lacks: a new open
    stage goes before the closed ones, a new closed one after them; orders renumbered."""
    names = {s["name"] for s in stored}
    new = [s for s in defined if s["name"] not in names]
    if not new:
        return stored
    open_ = [s for s in stored if not (s["is_won"] or s["is_lost"])]
    closed = [s for s in stored if s["is_won"] or s["is_lost"]]
    merged = open_ + [s for s in new if not (s["is_won"] or s["is_lost"])] + closed
    merged += [s for s in new if s["is_won"] or s["is_lost"]]
    return [{**s, "order": i + 1} for i, s in enumerate(merged)]


def _customers_of_transactions(parsed: Parsed, links: Mapping[writer.Key, writer.Link]) -> list[Located]:
    """A customer record for each customer of the transactions that neither this import nor
    an earlier one holds: a customer since its first order."""
    known = {(loc.record.object, loc.record.external_id) for loc in parsed.records}
    first: dict[str, Located] = {}
    for loc in parsed.records:
        r = loc.record
        if isinstance(r, TransactionRecord):
            key = (r.customer_object, r.customer_ref)
            if key in known or key in links:
                continue
            seen = first.get(r.customer_ref)
            if seen is None or r.at < seen.record.at:  # type: ignore[attr-defined]
                first[r.customer_ref] = loc
    out = []
    for ref, loc in first.items():
        r = loc.record
        assert isinstance(r, TransactionRecord)
        customer = CustomerRecord(
            object=r.customer_object, external_id=ref, created_at=r.at, became_customer_at=r.at
        )
        out.append(Located(customer, loc.file, loc.line))
    return out


def kind_name(kind: type) -> str:
    """`StageChangeRecord` -> `stage_change`: how runs and the command line name a record kind."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind.__name__.removesuffix("Record")).lower()


def _without(records: list[Located], bad: list[BadRow]) -> list[Located]:
    lines = {(b.file, b.line) for b in bad}
    return [loc for loc in records if (loc.file, loc.line) not in lines]


def run_import(
    fmt: str,
    paths: list[Path],
    tenant: str,
    *,
    read: Callable[[list[Path]], Parsed],
    system: str,
    create_tenant: str | None = None,
    skip_bad_rows: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    url: str | None = None,
    clock: str | None = None,
) -> ImportResult:
    """Import `paths` read by `read` into `tenant` (id or slug) as records of `system`.
    `clock`: set the tenant's clock (`crm.tenants`): an ISO date or time, or `last` for the
    day after the latest time in the records (a historical data set lives at its end)."""
    if clock is not None and clock != "last":
        _clock_of(clock)  # a bad clock is refused before anything is read or written
    parsed = read(paths)
    with connect(url, autocommit=True) as conn:  # each conn.transaction() below commits
        try:
            tenant_id = resolve_tenant(conn, tenant, None if dry_run else create_tenant)
        except CRMError:
            if not (dry_run and create_tenant):
                raise
            tenant_id = uuid4()  # a check of an import into a tenant still to create: nothing known
        links = writer.load_links(conn, tenant_id, system)
        parsed.records += _customers_of_transactions(parsed, links)
        bad = list(parsed.bad)
        records = _without(parsed.records, bad)
        while True:  # leaving a bad row out can orphan the rows that refer to it
            pipelines, stage_bad = _pipelines(
                conn, tenant_id, Parsed(records=records, pipelines=parsed.pipelines)
            )
            p = writer.plan(conn, tenant_id, system, records)
            found = stage_bad + p.bad
            bad += found
            if not found or not skip_bad_rows:
                break
            records = _without(records, found)
        result = ImportResult(None, tenant_id, "running", bad=bad, files=parsed.files, warnings=p.warnings)
        if dry_run:
            result.status = "rejected" if bad else "checked"
            return result
        run_id = _start(conn, tenant_id, fmt, parsed.files)
        result.run_id = run_id
        if bad and not skip_bad_rows:
            result.status = "rejected"
            _finish(conn, run_id, "rejected", {}, bad)
            return result
        try:
            now = datetime.now(UTC)
            with conn.transaction():
                for name, (pid, stages) in pipelines.items():
                    if pid is None:
                        pid = _create_pipeline(conn, tenant_id, name, stages, run_id=run_id)
                    else:
                        _extend_pipeline(conn, tenant_id, pid, stages, run_id)
                    p.pipelines[name] = (pid, stages)
            w = writer.Writer(conn, p, run_id, now)
            for kind in ORDER:
                todo = [loc for loc in records if type(loc.record) is kind]
                if not todo:
                    continue
                total = writer.Counts()
                for start in range(0, len(todo), BATCH):
                    c = w.write(todo[start : start + BATCH])
                    total.created += c.created
                    total.updated += c.updated
                    total.unchanged += c.unchanged
                    if progress:
                        progress(
                            kind_name(kind),
                            min(start + BATCH, len(todo)),
                            len(todo),
                        )
                result.counts[kind_name(kind)] = total.as_dict()
            result.properties = _properties(conn, tenant_id, parsed, fmt)
            if clock:
                result.clock = _set_clock(conn, tenant_id, clock, records)
            result.status = "completed"
            _finish(conn, run_id, "completed", result.counts, bad)
        except Exception as exc:
            _finish(conn, run_id, "failed", result.counts, bad, error=f"{type(exc).__name__}: {exc}")
            raise
    return result


def _start(conn: psycopg.Connection[Any], tenant_id: UUID, fmt: str, files: list[dict[str, Any]]) -> UUID:
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO crm.import_runs (tenant_id, format, files) VALUES (%s, %s, %s) RETURNING id",
            (tenant_id, fmt, Jsonb(files)),
        ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def _finish(
    conn: psycopg.Connection[Any],
    run_id: UUID,
    status: str,
    counts: dict[str, Any],
    bad: list[BadRow],
    error: str | None = None,
) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE crm.import_runs SET status = %s, counts = %s, bad_rows = %s, bad_row_count = %s, error = %s,"
            " finished_at = now() WHERE id = %s",
            (
                status,
                Jsonb(counts),
                Jsonb([b.model_dump() for b in bad[:KEEP_BAD_ROWS]]),
                len(bad),
                error,
                run_id,
            ),
        )


def latest_time(records: list[Located]) -> datetime | None:
    """The latest time any record names (created, closed, happened, resolved...)."""
    times = [
        v
        for loc in records
        for v in (getattr(loc.record, f) for f in type(loc.record).model_fields)
        if isinstance(v, datetime)
    ]
    return max(times) if times else None


def _clock_of(clock: str) -> datetime:
    try:
        return parse_clock(clock)
    except ValueError:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR,
            f"clock: {clock!r} is not an ISO date or time, nor 'last'",
            {"clock": clock},
        ) from None


def _set_clock(
    conn: psycopg.Connection[Any], tenant_id: UUID, clock: str, records: list[Located]
) -> datetime:
    """Write the tenant's clock: `last` is midnight UTC after the latest record's day."""
    if clock == "last":
        latest = latest_time(records)
        if latest is None:
            raise CRMError(CRMErrorCode.VALIDATION_ERROR, "clock last: the records name no time", {})
        at = datetime.combine(latest.astimezone(UTC).date() + timedelta(days=1), time(), UTC)
    else:
        at = _clock_of(clock)
    with conn.transaction():
        conn.execute(
            "UPDATE crm.tenants SET settings = settings || jsonb_build_object(%s::text, %s::text) WHERE id = %s",
            (TENANT_CLOCK_SETTING, at.isoformat(), tenant_id),
        )
    return at


def _properties(conn: psycopg.Connection[Any], tenant_id: UUID, parsed: Parsed, fmt: str) -> int:
    """Record each custom property's type; a key two files type differently becomes text."""
    defs: dict[tuple[str, str], PropertyDef] = {}
    for d in parsed.properties:  # several files may define a key (Lead.csv and Contact.csv)
        seen = defs.setdefault((d.entity, d.key), d)
        if seen.type != d.type:
            defs[(d.entity, d.key)] = dataclasses.replace(seen, type="text")
    if not defs:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO crm.custom_properties (tenant_id, entity, key, type, label, source)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, entity, key) DO UPDATE SET type ="
            " CASE WHEN crm.custom_properties.type = excluded.type THEN excluded.type ELSE 'text' END",
            [(tenant_id, d.entity, d.key, d.type, d.label, fmt) for d in defs.values()],
        )
    return len(defs)


def import_files(
    fmt: str,
    paths: list[Path],
    tenant: str,
    *,
    columns: Mapping[str, str] | None = None,
    create_tenant: str | None = None,
    skip_bad_rows: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    url: str | None = None,
    clock: str | None = None,
) -> ImportResult:
    """Import files of a named format (`FORMATS`): the one entry point of the command line and
    the Dagster job. `paths`: the files (for `mapping`, the mapping file first); `columns`: a
    transactions file's column names when they differ from the fields'."""
    import functools

    from integrations.imports.formats import format_module

    module = format_module(fmt)
    read: Callable[[list[Path]], Parsed] = module.read
    system: str = module.SYSTEM if hasattr(module, "SYSTEM") else module.system_of(paths[0])
    if columns:
        if fmt != "transactions":
            raise CRMError(
                CRMErrorCode.VALIDATION_ERROR, "columns are for a transactions file", {"format": fmt}
            )
        read = functools.partial(module.read, columns=columns)
    return run_import(
        fmt,
        paths,
        tenant,
        read=read,
        system=system,
        create_tenant=create_tenant,
        skip_bad_rows=skip_bad_rows,
        dry_run=dry_run,
        progress=progress,
        url=url,
        clock=clock,
    )
