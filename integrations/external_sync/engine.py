"""One sync run with a vendor CRM (`sync_with_external_crm`, the seed's `syncWithExternalCRM`).

Inbound, then outbound, in one run:

- **Inbound.** Each object's records modified since the connection's cursor (and the queued
  records whose retry is due) are fetched through the vendor's SDK, mapped by the import format
  of that vendor, and written by the import writer (`integrations.imports.run.run_import`, as
  an import run of format `<vendor>-sync`): each new or changed record one audited change with
  its event, linked in `crm.external_ids`; an unchanged one writes nothing. People's values are
  sealed as the writer builds their rows, and a contact is matched to a customer by the index
  of its e-mail. A record that does
  not map is queued for retry. Records the vendor archived mark their CRM row (below).
- **Outbound.** The changes people made in the CRM (audit rows not by the system: imports and
  this sync are the system, so nothing echoes) since the outbound cursor are pushed: a row
  without a vendor record is created there and linked, a linked one updated, a deleted one
  archived. A push that fails is queued for retry. People's values and activities' notes,
  stored sealed, are opened for the push: the vendor holds them readable, as before.

Conflicts: the later edit wins the whole record. A vendor record modified at or before the last
CRM edit (by a person, since the last push) of the row it is linked to is not read in; the CRM
row is pushed instead. A CRM edit older than the vendor's modification is overwritten by the
vendor's version and not pushed. The vendor's echo of a push (its modification time no later
than the push's answer) is skipped.

Deletions: a vendor record archived marks its CRM row (`custom_fields.<vendor>_archived_at`,
an audited update) and is not read again; history stays for analytics. A CRM row deleted is
archived in the vendor and its link removed.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from crm.changes import change_rows
from crm.db import connect
from crm.errors import CRMError, CRMErrorCode
from crm.keys import notes, personal
from crm.keys.keyring import keyring
from integrations.external_sync import store
from integrations.external_sync.provider import Provider, VendorRecord
from integrations.external_sync.tickets_out import TicketPusher, push_tickets
from integrations.imports import writer
from integrations.imports.formats import format_module
from integrations.imports.run import resolve_tenant, run_import

SOURCE = "crm-sync"
ENTITY = {
    "customers": "customer",
    "leads": "lead",
    "deals": "deal",
    "lead_activities": "lead_activity",
    "deal_activities": "deal_activity",
}
"""crm table -> the change entity its events name."""
CORE_TABLES = ("customers", "leads", "deals")
"""What a provider that names no `tables` pushes."""

ProviderFactory = Callable[[store.Connection], Provider]


def make_provider(connection: store.Connection) -> Provider:
    credentials = connection.credentials()
    if connection.provider == "hubspot":
        from integrations.external_sync.hubspot import HubSpotProvider

        return HubSpotProvider(credentials, connection.base_url, connection.settings)
    if connection.provider == "salesforce":
        from integrations.external_sync.salesforce import SalesforceProvider

        return SalesforceProvider(credentials, connection.base_url, connection.settings)
    raise CRMError(
        CRMErrorCode.VALIDATION_ERROR,
        f"no sync for provider {connection.provider!r} yet",
        {"provider": connection.provider},
    )


@dataclass
class SyncConfig:
    tenant: str
    """Tenant id or slug."""
    name: str | None = None
    """The connection's name (needed when the tenant has several of the provider)."""
    direction: str = "both"
    trigger: str = "manual"
    url: str | None = None


@dataclass
class SyncResult:
    run_id: UUID
    status: str = "running"
    counts: dict[str, dict[str, dict[str, int]]] = field(
        default_factory=lambda: {"inbound": {}, "outbound": {}}
    )
    failures: list[dict[str, Any]] = field(default_factory=list)
    cursor_after: dict[str, Any] = field(default_factory=dict)
    import_run_id: UUID | None = None

    def count(self, direction: str, obj: str, what: str, n: int = 1) -> None:
        c = self.counts[direction].setdefault(
            obj, {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0, "failed": 0}
        )
        c[what] += n

    def totals(self) -> dict[str, int]:
        out = {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0, "failed": 0}
        for by_obj in self.counts.values():
            for c in by_obj.values():
                for k, v in c.items():
                    out[k] += v
        return out


def sync_with_external_crm(provider: str, config: SyncConfig) -> SyncResult:
    """Run one sync of the tenant's `provider` connection now."""
    with connect(config.url, autocommit=True) as conn:
        tenant_id = resolve_tenant(conn, config.tenant)
        connection_id = store.find_connection(conn, tenant_id, provider, config.name)
    return run_sync(connection_id, direction=config.direction, trigger=config.trigger, url=config.url)


def run_sync(
    connection_id: UUID,
    *,
    run_id: UUID | None = None,
    direction: str = "both",
    trigger: str = "manual",
    url: str | None = None,
    factory: ProviderFactory = make_provider,
) -> SyncResult:
    """Run a sync of a connection (a queued run when `run_id` names one); the run is logged in
    `crm.sync_runs` either way. A failure of the whole run (the vendor unreachable after the
    SDK's retries) leaves the cursors where they were and raises INTEGRATION_SYNC_FAILED."""
    with connect(url, autocommit=True) as conn:
        c = store.get_connection(conn, connection_id)
        if run_id is None:
            run_id = store.queue_run(conn, c, direction=direction, trigger=trigger)
        before = {"inbound": c.inbound_cursor, "outbound": c.outbound_cursor}
        store.start_run(conn, run_id, before)
        result = SyncResult(run_id)
        try:
            prov = factory(c)
            inbound_cursor, vendor_won = dict(c.inbound_cursor), set[UUID]()
            outbound_cursor = c.outbound_cursor
            if direction in ("both", "inbound"):
                inbound_cursor, vendor_won = _inbound(conn, c, prov, result, url)
            if direction in ("both", "outbound"):
                outbound_cursor = _outbound(conn, c, prov, result, vendor_won)
            result.cursor_after = {"inbound": inbound_cursor, "outbound": outbound_cursor}
            store.save_cursors(conn, c.id, inbound_cursor, outbound_cursor)
            result.status = "completed"
            store.finish_run(
                conn,
                run_id,
                "completed",
                result.counts,
                result.cursor_after,
                result.failures,
                import_run_id=result.import_run_id,
            )
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, CRMError)
                else CRMError(
                    CRMErrorCode.INTEGRATION_SYNC_FAILED,
                    f"{c.provider} sync failed: {type(exc).__name__}: {exc}"[:2000],
                    {"provider": c.provider, "connection": str(c.id), "run": str(run_id)},
                )
            )
            result.status = "failed"
            store.finish_run(
                conn,
                run_id,
                "failed",
                result.counts,
                before,
                [*result.failures, error.to_dict()],
                import_run_id=result.import_run_id,
                error=error.message,
            )
            raise error from exc
    return result


# --- inbound -------------------------------------------------------------------------------


def _parse(at: str | None) -> datetime | None:
    return datetime.fromisoformat(at) if at else None


def _fetch(
    conn: psycopg.Connection[Any], c: store.Connection, prov: Provider, now: datetime
) -> tuple[dict[str, list[VendorRecord]], dict[str, Any], dict[str, list[str]]]:
    """(records by object, the cursor after them, the retried ids by object)."""
    cursor = dict(c.inbound_cursor)
    retries = store.due(conn, c.id, "inbound", now)
    fetched: dict[str, list[VendorRecord]] = {}
    for obj in prov.objects:
        mark = c.inbound_cursor.get(obj) or {}
        since, seen = _parse(mark.get("at")), set(mark.get("ids", []))
        records = [
            r
            for page in prov.changed(obj, since)
            for r in page
            if not (since and r.updated_at == since and r.id in seen)
        ]
        if records:
            last = max(r.updated_at for r in records)
            ids = {r.id for r in records if r.updated_at == last} | (seen if last == since else set())
            cursor[obj] = {"at": last.isoformat(), "ids": sorted(ids)}
        have = {r.id for r in records}
        again = [i for i in retries.get(obj, []) if i not in have]
        fetched[obj] = records + (prov.fetch(obj, again) if again else [])
    return fetched, cursor, retries


def _conflicts(
    conn: psycopg.Connection[Any], c: store.Connection, prov: Provider, fetched: dict[str, list[VendorRecord]]
) -> tuple[dict[str, list[VendorRecord]], set[UUID], int]:
    """Drop the echoes of pushes and the records a later CRM edit wins; (kept, rows the
    vendor won, dropped count)."""
    pushes = {
        (o, e): at
        for o, e, at in conn.execute(
            "SELECT object, external_id, vendor_updated_at FROM crm.sync_pushes WHERE connection_id = %s",
            (c.id,),
        ).fetchall()
    }
    links = {k: v.entity_id for k, v in writer.load_links(conn, c.tenant_id, prov.system).items()}
    linked = [links[(r.object, r.id)] for rs in fetched.values() for r in rs if (r.object, r.id) in links]
    edited: dict[UUID, datetime] = {}
    if linked:
        edited = dict(
            conn.execute(
                "SELECT entity_id, max(occurred_at) FROM crm.audit_log WHERE tenant_id = %s AND id > %s"
                " AND actor_type <> 'system' AND entity = ANY(%s) AND entity_id = ANY(%s) GROUP BY entity_id",
                (c.tenant_id, c.outbound_cursor, list(ENTITY), linked),
            ).fetchall()
        )
    kept: dict[str, list[VendorRecord]] = {}
    won: set[UUID] = set()
    dropped = 0
    for obj, records in fetched.items():
        kept[obj] = []
        for r in records:
            pushed = pushes.get((obj, r.id))
            eid = links.get((obj, r.id))
            if pushed is not None and r.updated_at <= pushed:
                dropped += 1  # our own push, read back
            elif eid in edited and edited[eid] >= r.updated_at:
                dropped += 1  # the CRM edit is later (or as late): it wins and is pushed
            else:
                kept[obj].append(r)
                if eid in edited:
                    won.add(eid)
    return kept, won, dropped


def _export(
    folder: Path, prov: Provider, fetched: dict[str, list[VendorRecord]]
) -> dict[str, dict[int, str]]:
    """Write each object's records as an export file the import format reads; file -> line -> id."""
    lines: dict[str, dict[int, str]] = {}
    for obj, records in fetched.items():
        if not records:
            continue
        path = folder / prov.export_name(obj)
        header = list(dict.fromkeys(k for r in records for k in r.row))
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, header)
            w.writeheader()
            for r in records:
                w.writerow({k: v if v is not None else "" for k, v in r.row.items()})
        lines[str(path)] = {i + 2: r.id for i, r in enumerate(records)}
    return lines


def _inbound(
    conn: psycopg.Connection[Any], c: store.Connection, prov: Provider, result: SyncResult, url: str | None
) -> tuple[dict[str, Any], set[UUID]]:
    now = datetime.now(UTC)
    fetched, cursor, retries = _fetch(conn, c, prov, now)
    kept, won, dropped = _conflicts(conn, c, prov, fetched)
    if dropped:
        result.count("inbound", "skipped", "unchanged", dropped)
    if any(kept.values()):
        with tempfile.TemporaryDirectory(prefix="crm-sync-") as tmp:
            lines = _export(Path(tmp), prov, kept)
            module = format_module(prov.system)
            imported = run_import(
                f"{prov.system}-sync",
                [Path(p) for p in lines],
                str(c.tenant_id),
                read=module.read,
                system=prov.system,
                skip_bad_rows=True,
                url=url,
            )
        result.import_run_id = imported.run_id
        for kind, counts in imported.counts.items():
            for what, n in counts.items():
                result.count("inbound", kind, what, n)
        bad: dict[tuple[str, str], str] = {}
        for b in imported.bad:
            obj = Path(b.file).stem
            rid = lines.get(b.file, {}).get(b.line)
            if rid is None:
                raise CRMError(
                    CRMErrorCode.INTEGRATION_SYNC_FAILED, b.reason, {"provider": c.provider, "file": obj}
                )
            bad.setdefault((obj, rid), b.reason)
        for (obj, rid), reason in bad.items():
            result.failures.append(store.failed(conn, c, result.run_id, "inbound", obj, rid, reason, now))
            result.count("inbound", obj, "failed")
        for obj, ids in retries.items():
            store.resolved(conn, c.id, "inbound", obj, [i for i in ids if (obj, i) not in bad])
    _archived(conn, c, prov, result)
    return cursor, won


def _archived(conn: psycopg.Connection[Any], c: store.Connection, prov: Provider, result: SyncResult) -> None:
    """Mark the CRM rows of records the vendor archived (once: the link keeps `archived`)."""
    actor = writer.ImportActor(c.tenant_id)
    for obj in prov.objects:
        gone = {r.id: r for r in prov.archived(obj)}
        if not gone:
            continue
        rows = conn.execute(
            "SELECT external_id, entity, entity_id FROM crm.external_ids WHERE tenant_id = %s AND system = %s"
            " AND object = %s AND external_id = ANY(%s) AND content_hash <> 'archived'",
            (c.tenant_id, prov.system, obj, list(gone)),
        ).fetchall()
        for ext, table, eid in rows:
            at = gone[ext].archived_at or gone[ext].updated_at
            mark = Jsonb({f"{prov.system}_archived_at": at.isoformat()})
            with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                before = cur.execute(f"SELECT * FROM crm.{table} WHERE id = %s", (eid,)).fetchone()
                if before is not None:
                    after = cur.execute(
                        f"UPDATE crm.{table} SET custom_fields = custom_fields || %s, version = version + 1"
                        " WHERE id = %s RETURNING *",
                        (mark, eid),
                    ).fetchone()
                    writer.write_changes(
                        cur,
                        change_rows(
                            actor,
                            table=table,
                            entity=ENTITY[table],
                            action="updated",
                            entity_id=eid,
                            before=before,
                            after=after,
                            request_id=f"sync:{result.run_id}",
                            source=SOURCE,
                        ),
                    )
                cur.execute(
                    "UPDATE crm.external_ids SET content_hash = 'archived', last_changed_at = now()"
                    " WHERE tenant_id = %s AND system = %s AND object = %s AND external_id = %s",
                    (c.tenant_id, prov.system, obj, ext),
                )
            result.count("inbound", obj, "deleted")


# --- outbound ------------------------------------------------------------------------------


def _outbound(
    conn: psycopg.Connection[Any],
    c: store.Connection,
    prov: Provider,
    result: SyncResult,
    vendor_won: set[UUID],
) -> int:
    """Push what people changed since the cursor (and the due retries); the new cursor."""
    pushed = [t for t in ENTITY if t in getattr(prov, "tables", CORE_TABLES)]
    changes = conn.execute(
        "SELECT id, action, entity, entity_id FROM crm.audit_log WHERE tenant_id = %s AND id > %s"
        " AND actor_type <> 'system' AND entity = ANY(%s) AND entity_id IS NOT NULL ORDER BY id",
        (c.tenant_id, c.outbound_cursor, pushed),
    ).fetchall()
    cursor = max([c.outbound_cursor, *(r[0] for r in changes)])
    latest: dict[tuple[str, UUID], tuple[int, str]] = {}
    for audit_id, action, table, eid in changes:
        latest[(table, eid)] = (audit_id, action)
    for table, ids in store.due(conn, c.id, "outbound", datetime.now(UTC)).items():
        for i in ids:
            latest.setdefault((table, UUID(i)), (cursor, "retry"))
    order = list(ENTITY)
    for (table, eid), (audit_id, action) in sorted(
        latest.items(), key=lambda kv: (order.index(kv[0][0]), kv[1][0])
    ):
        if eid in vendor_won:
            result.count("outbound", table, "unchanged")
            continue
        try:
            _push_one(conn, c, prov, result, table, eid, audit_id, action)
        except Exception as exc:  # the SDK gave up on this record: queue it
            error = f"{type(exc).__name__}: {str(exc)[:500]}"
            result.failures.append(store.failed(conn, c, result.run_id, "outbound", table, str(eid), error))
            result.count("outbound", table, "failed")
        else:
            store.resolved(conn, c.id, "outbound", table, [str(eid)])
    if isinstance(prov, TicketPusher):  # tickets are events, not audited rows: their own pass
        push_tickets(conn, c, prov, result)
    return cursor


def _link(
    conn: psycopg.Connection[Any], c: store.Connection, system: str, table: str, eid: Any
) -> tuple[str, str] | None:
    row = conn.execute(
        "SELECT object, external_id FROM crm.external_ids WHERE tenant_id = %s AND system = %s AND entity = %s"
        " AND entity_id = %s AND content_hash <> 'archived' ORDER BY last_changed_at DESC LIMIT 1",
        (c.tenant_id, system, table, eid),
    ).fetchone()
    return (row[0], row[1]) if row else None


def _push_one(
    conn: psycopg.Connection[Any],
    c: store.Connection,
    prov: Provider,
    result: SyncResult,
    table: str,
    eid: UUID,
    audit_id: int,
    action: str,
) -> None:
    link = _link(conn, c, prov.system, table, eid)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT * FROM crm.{table} WHERE id = %s AND tenant_id = %s", (eid, c.tenant_id)
        ).fetchone()
        if row is not None and table == "deals":
            stage = cur.execute(
                "SELECT s AS stage FROM crm.sales_pipelines p, jsonb_array_elements(p.stages) s"
                " WHERE p.id = %s AND s->>'name' = %s",
                (row["pipeline_id"], row["stage"]),
            ).fetchone()
            row["_stage"] = stage["stage"] if stage else {}
    if row is None or action == "deleted":
        if link is not None:
            prov.archive(*link)
            conn.execute(
                "DELETE FROM crm.external_ids WHERE tenant_id = %s AND system = %s AND object = %s AND external_id = %s",
                (c.tenant_id, prov.system, *link),
            )
            result.count("outbound", table, "deleted")
        return
    refs: dict[str, str | None] = {}
    for ref, target in (("customer_id", "customers"), ("lead_id", "leads"), ("deal_id", "deals")):
        if row.get(ref):
            found = _link(conn, c, prov.system, target, row[ref])
            refs[ref] = found[1] if found else None
    if table in personal.PERSONAL:  # the vendor keeps people's values readable
        row = personal.open_row(c.tenant_id, table, row, keyring(c.database))
    elif table in notes.TABLES:  # and the notes
        row = notes.opened_row(c.tenant_id, row, keyring(c.database))
    out = prov.outbound(table, row, refs)
    if out is None:  # nothing the vendor keeps
        result.count("outbound", table, "unchanged")
        return
    if link is not None and link[0] != out.object:  # linked as another object (a Lead, not a Contact)
        out = replace(out, object=link[0])
    pushed = prov.push(out, link[1] if link else None)
    with conn.transaction():
        if link is None:
            conn.execute(
                "INSERT INTO crm.external_ids (tenant_id, system, object, external_id, entity, entity_id, content_hash)"
                " VALUES (%s, %s, %s, %s, %s, %s, 'pushed')",
                (c.tenant_id, prov.system, out.object, pushed.id, table, eid),
            )
        conn.cursor().executemany(
            "INSERT INTO crm.sync_pushes (tenant_id, connection_id, object, external_id, vendor_updated_at, audit_id)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (connection_id, object, external_id) DO UPDATE SET"
            " vendor_updated_at = excluded.vendor_updated_at, audit_id = excluded.audit_id",
            [
                (c.tenant_id, c.id, obj, vid, at, audit_id)
                for obj, vid, at in [(out.object, pushed.id, pushed.updated_at), *pushed.made]
            ],
        )
    result.count("outbound", table, "updated" if link else "created")


def run_due(url: str | None = None) -> list[tuple[UUID, str]]:
    """Every queued run and every connection due by its interval, one after the other; a
    failed run is logged and the next one runs."""
    with connect(url, autocommit=True) as conn:
        work = store.due_work(conn)
    out: list[tuple[UUID, str]] = []
    for connection_id, run_id in work:
        try:
            result = run_sync(connection_id, run_id=run_id, trigger="schedule", url=url)
            out.append((result.run_id, result.status))
        except CRMError as exc:
            out.append((UUID(str(exc.context.get("run", run_id or connection_id))), "failed"))
    return out
