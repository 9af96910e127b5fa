"""HubSpot and Salesforce exports imported into a real database: every object becomes its rows
and events with references resolved, and the same export again changes nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from integrations.imports.formats import format_module
from integrations.imports.run import import_files

FIXTURES = Path(__file__).parent / "fixtures"


def _files(folder: str) -> list[Path]:
    return sorted(p for p in (FIXTURES / folder).iterdir() if p.suffix == ".csv")


def _count(pg_url: str, sql: str, tenant_id: uuid.UUID) -> int:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(sql, (tenant_id,)).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("fmt", ["hubspot", "salesforce"])
def test_a_vendor_export_is_imported_once_with_its_references(pg_url: str, fmt: str) -> None:
    files = _files(fmt)
    parsed = format_module(fmt).read(files)
    assert not parsed.bad
    tenant = f"{fmt}-{uuid.uuid4().hex[:8]}"
    first = import_files(fmt, files, tenant, create_tenant=fmt.title(), url=pg_url)
    assert first.status == "completed", first.bad[:5]
    created = sum(c["created"] for c in first.counts.values())
    assert created == len(parsed.records)
    tid = first.tenant_id
    deals = _count(pg_url, "SELECT count(*) FROM crm.deals WHERE tenant_id = %s", tid)
    linked = _count(
        pg_url, "SELECT count(*) FROM crm.deals WHERE tenant_id = %s AND customer_id IS NOT NULL", tid
    )
    assert deals == first.counts["deal"]["created"] and linked > 0
    # the history and the activities hang on the imported deals and leads
    history = _count(
        pg_url,
        "SELECT count(*) FROM crm.deal_activities WHERE tenant_id = %s AND type = 'STAGE_CHANGED'",
        tid,
    )
    assert history == first.counts["stage_change"]["created"]
    # their notes stored sealed, in the rows and in their events
    notes = "SELECT tenant_id, description AS d FROM crm.{0}_activities UNION ALL SELECT tenant_id,"
    notes += " payload->'payload'->>'description' FROM crm.outbox WHERE topic = '{0}-activities'"
    for parent in ("lead", "deal"):
        kept = f"SELECT count(*) FROM ({notes.format(parent)}) a WHERE tenant_id = %s AND d <> ''"
        sealed = _count(pg_url, kept + " AND d LIKE 'v2:dk%%'", tid)
        assert sealed > 0 and _count(pg_url, kept + " AND d NOT LIKE 'v2:dk%%'", tid) == 0, parent
    tickets = _count(
        pg_url, "SELECT count(*) FROM crm.outbox WHERE tenant_id = %s AND event_type = 'ticket.created'", tid
    )
    assert tickets == first.counts["ticket"]["created"]
    events = _count(pg_url, "SELECT count(*) FROM crm.outbox WHERE tenant_id = %s", tid)
    # the same export again: nothing written, no event
    again = import_files(fmt, files, tenant, url=pg_url)
    assert again.status == "completed"
    assert sum(c["created"] + c["updated"] for c in again.counts.values()) == 0
    assert _count(pg_url, "SELECT count(*) FROM crm.outbox WHERE tenant_id = %s", tid) == events
    # custom properties are defined once per table and key, typed
    assert _count(pg_url, "SELECT count(*) FROM crm.custom_properties WHERE tenant_id = %s", tid) > 0
