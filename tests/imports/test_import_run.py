"""`crm import` against a real database: rows, audit and events written once, re-imports that
change nothing, updates, bad rows that stop everything (or are skipped and listed), e-mail
matching, resuming an interrupted run, and tenants kept apart."""

from __future__ import annotations

import functools
import textwrap
import uuid
from pathlib import Path

import psycopg
import pytest

from integrations.imports import run as import_run
from integrations.imports import writer
from integrations.imports.formats import mapping, transactions

COLUMNS = {"customer": "cust", "timestamp": "when", "amount": "dollars"}


def _tx(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def _import_tx(pg_url: str, tenant: str, *paths: Path, **kw):
    return import_run.run_import(
        "transactions",
        list(paths),
        tenant,
        read=functools.partial(transactions.read, columns=COLUMNS),
        system=transactions.SYSTEM,
        create_tenant=kw.pop("create_tenant", "Shop"),
        url=pg_url,
        **kw,
    )


def _one(pg_url: str, sql: str, *args):
    with psycopg.connect(pg_url) as conn:
        return conn.execute(sql, args).fetchone()


def _slug() -> str:
    return f"imp-{uuid.uuid4().hex[:8]}"


ORDERS = """
    cust,when,dollars,channel
    c1,1997-01-01,10.50,web
    c1,1997-02-01,20.00,store
    c2,1997-01-15,5.25,web
    c2,1997-01-15,5.25,web
"""


def test_transactions_become_customers_and_won_orders_once(pg_url: str, tmp_path: Path) -> None:
    tenant = _slug()
    f = _tx(tmp_path / "orders.csv", ORDERS)
    first = _import_tx(pg_url, tenant, f)
    assert first.status == "completed"
    assert first.counts == {
        "customer": {"created": 2, "updated": 0, "unchanged": 0},
        "transaction": {"created": 4, "updated": 0, "unchanged": 0},
    }
    tid = first.tenant_id
    # two identical orders of c2 on one day are two orders (rank among identical rows)
    deals, revenue, won = _one(
        pg_url,
        "SELECT count(*), sum(d.value), bool_and(d.stage = 'Paid' AND p.name = 'Orders')"
        " FROM crm.deals d JOIN crm.sales_pipelines p ON p.id = d.pipeline_id WHERE d.tenant_id = %s",
        tid,
    )
    assert (deals, float(revenue), won) == (4, 41.0, True)
    c1_since = _one(
        pg_url,
        "SELECT became_customer_at::date::text FROM crm.customers c JOIN crm.external_ids x ON x.entity_id = c.id"
        " WHERE x.tenant_id = %s AND x.external_id = 'c1'",
        tid,
    )
    assert c1_since == ("1997-01-01",)
    # each created row is one audited change with its contract event
    events = dict(
        psycopg.connect(pg_url)
        .execute("SELECT event_type, count(*) FROM crm.outbox WHERE tenant_id = %s GROUP BY 1", (tid,))
        .fetchall()
    )
    assert events == {"crm.customer.created": 2, "crm.deal.created": 4, "crm.pipeline.created": 2}
    audit = _one(
        pg_url,
        "SELECT count(*), bool_and(actor_type = 'system') FROM crm.audit_log WHERE tenant_id = %s",
        tid,
    )
    assert audit == (8, True)
    # the unmapped column is a typed custom property of the orders
    assert _one(
        pg_url, "SELECT type, label FROM crm.custom_properties WHERE tenant_id = %s AND key = 'channel'", tid
    ) == (
        "text",
        "channel",
    )
    # the same file again changes nothing: no row, audit or event
    again = _import_tx(pg_url, tenant, f)
    assert again.counts["transaction"] == {"created": 0, "updated": 0, "unchanged": 4}
    assert "customer" not in again.counts  # known customers are not derived again
    assert _one(pg_url, "SELECT count(*) FROM crm.outbox WHERE tenant_id = %s", tid) == (8,)


def test_a_changed_record_updates_its_row_with_an_audited_change(pg_url: str, tmp_path: Path) -> None:
    tenant = _slug()
    f = tmp_path / "orders.csv"
    _tx(f, "id,cust,when,dollars\no1,c1,2020-01-01,10\no2,c1,2020-01-02,20\n")
    first = _import_tx(pg_url, tenant, f)
    _tx(f, "id,cust,when,dollars\no1,c1,2020-01-01,10\no2,c1,2020-01-02,25\n")
    second = _import_tx(pg_url, tenant, f)
    assert second.counts["transaction"] == {"created": 0, "updated": 1, "unchanged": 1}
    value, version = _one(
        pg_url,
        "SELECT d.value, d.version FROM crm.deals d JOIN crm.external_ids x ON x.entity_id = d.id"
        " WHERE x.tenant_id = %s AND x.external_id = 'o2'",
        first.tenant_id,
    )
    assert (float(value), version) == (25.0, 2)
    before, after = _one(
        pg_url,
        "SELECT payload->'payload'->'before'->>'value', payload->'payload'->'after'->>'value' FROM crm.outbox"
        " WHERE tenant_id = %s AND event_type = 'crm.deal.updated'",
        first.tenant_id,
    )
    assert (before, after) == ("20.00", "25.00")


def test_a_links_digest_is_keyed_and_one_written_before_still_matches(pg_url: str, tmp_path: Path) -> None:
    """A link's `content_hash` is an HMAC under the tenant's index key: a plain SHA-256 of the
    record (what anyone could recompute from a guess) is not stored; links written before,
    with that plain digest, still count as unchanged."""
    import hashlib

    tenant = _slug()
    f = _tx(tmp_path / "orders.csv", "id,cust,when,dollars\no1,c1,2020-01-01,10\no2,c1,2020-01-02,20\n")
    first = _import_tx(pg_url, tenant, f)
    with psycopg.connect(pg_url) as conn:
        digests = dict(
            conn.execute(
                "SELECT external_id, content_hash FROM crm.external_ids WHERE tenant_id = %s AND object = 'transaction'",
                (first.tenant_id,),
            ).fetchall()
        )
    assert set(digests) == {"o1", "o2"} and all(d.startswith("bi1:") for d in digests.values())
    records = {loc.record.external_id: loc.record for loc in transactions.read([f], columns=COLUMNS).records}
    plain = {k: hashlib.sha256(writer.record_bytes(records[k])).hexdigest() for k in digests}
    assert all(digests[k].partition(":")[2] != plain[k] for k in digests)
    with psycopg.connect(pg_url) as conn:  # as an import before digests were keyed left it
        conn.execute(
            "UPDATE crm.external_ids SET content_hash = %s WHERE tenant_id = %s AND external_id = 'o1'",
            (plain["o1"], first.tenant_id),
        )
    again = _import_tx(pg_url, tenant, f)
    assert again.counts["transaction"] == {"created": 0, "updated": 0, "unchanged": 2}


def test_bad_rows_stop_the_import_and_are_reported_with_file_line_and_reason(
    pg_url: str, tmp_path: Path
) -> None:
    tenant = _slug()
    f = _tx(
        tmp_path / "orders.csv",
        """
        cust,when,dollars
        c1,2020-01-01,10
        c2,not a day,10
        c3,2020-01-03,-4
        c4,2020-01-04,7
        """,
    )
    rejected = _import_tx(pg_url, tenant, f)
    assert rejected.status == "rejected"
    reasons = {(b.line, b.reason.split(":")[0]) for b in rejected.bad}
    assert reasons == {(3, "not a date or time"), (4, "amount")}
    assert all(b.file == str(f) for b in rejected.bad)
    assert _one(pg_url, "SELECT count(*) FROM crm.deals WHERE tenant_id = %s", rejected.tenant_id) == (0,)
    status, bad_count = _one(
        pg_url, "SELECT status, bad_row_count FROM crm.import_runs WHERE id = %s", rejected.run_id
    )
    assert (status, bad_count) == ("rejected", 2)
    # told to skip them, the good rows go in and the bad ones stay listed on the run
    skipped = _import_tx(pg_url, tenant, f, skip_bad_rows=True)
    assert skipped.status == "completed" and len(skipped.bad) == 2
    assert skipped.counts["transaction"]["created"] == 2
    assert _one(pg_url, "SELECT count(*) FROM crm.customers WHERE tenant_id = %s", skipped.tenant_id) == (2,)


def test_an_interrupted_import_resumes_where_it_stopped(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = _slug()
    lines = ["id,cust,when,dollars"] + [f"o{i},c{i % 7},2021-01-{1 + i % 28:02d},{i}" for i in range(50)]
    f = tmp_path / "orders.csv"
    f.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(import_run, "BATCH", 20)
    real_write = import_run.writer.Writer.write
    calls = {"n": 0}

    def failing(self, batch):
        if type(batch[0].record).__name__ == "TransactionRecord":
            calls["n"] += 1
            if calls["n"] == 2:
                raise ConnectionError("connection lost")
        return real_write(self, batch)

    monkeypatch.setattr(import_run.writer.Writer, "write", failing)
    with pytest.raises(ConnectionError):
        _import_tx(pg_url, tenant, f)
    tid = _one(pg_url, "SELECT id FROM crm.tenants WHERE slug = %s", tenant)[0]
    assert _one(pg_url, "SELECT count(*) FROM crm.deals WHERE tenant_id = %s", tid) == (20,)
    assert _one(pg_url, "SELECT status, error FROM crm.import_runs WHERE tenant_id = %s", tid) == (
        "failed",
        "ConnectionError: connection lost",
    )
    monkeypatch.setattr(import_run.writer.Writer, "write", real_write)
    resumed = _import_tx(pg_url, tenant, f)
    assert resumed.counts["transaction"] == {"created": 30, "updated": 0, "unchanged": 20}
    assert _one(
        pg_url,
        "SELECT count(*), count(DISTINCT payload->'payload'->>'entity_id') FROM crm.outbox"
        " WHERE tenant_id = %s AND event_type = 'crm.deal.created'",
        tid,
    ) == (50, 50)


def test_tenants_are_kept_apart(pg_url: str, tmp_path: Path) -> None:
    f = _tx(tmp_path / "orders.csv", ORDERS)
    a, b = _import_tx(pg_url, _slug(), f), _import_tx(pg_url, _slug(), f)
    assert a.counts == b.counts  # the same file is new to the second tenant
    rows = (
        psycopg.connect(pg_url)
        .execute(
            "SELECT tenant_id, count(*) FROM crm.deals WHERE tenant_id = ANY(%s) GROUP BY 1",
            ([a.tenant_id, b.tenant_id],),
        )
        .fetchall()
    )
    assert sorted(n for _, n in rows) == [4, 4]
    shared = _one(
        pg_url,
        "SELECT count(*) FROM crm.deals x JOIN crm.deals y ON x.id = y.id WHERE x.tenant_id = %s AND y.tenant_id = %s",
        a.tenant_id,
        b.tenant_id,
    )
    assert shared == (0,)


MAPPING = """
system: legacy-erp
pipelines:
  Legacy:
    - {name: Open, probability: 20}
    - {name: Won, probability: 100, is_won: true}
    - {name: Lost, probability: 0, is_lost: true}
files:
  - path: accounts.csv
    record: customer
    object: account
    id: AccountNo
    columns: {company: Name, email: Mail, created_at: Opened}
  - path: deals.csv
    record: deal
    object: order
    id: OrderNo
    columns: {name: Title, value: Total, stage: State, customer_ref: AccountNo, created_at: Opened}
    constants: {pipeline: Legacy}
    references: {customer_ref: account}
  - path: history.csv
    record: stage_change
    id: Row
    columns: {deal_ref: OrderNo, from_stage: Old, to_stage: New, at: When}
    references: {deal_ref: order}
  - path: cases.csv
    record: ticket
    id: CaseNo
    columns: {customer_ref: AccountNo, subject: Subject, status: Status, created_at: Opened, resolved_at: Closed}
    references: {customer_ref: account}
"""


def _mapping_files(d: Path, deals_extra: str = "") -> Path:
    (d / "map.yml").write_text(MAPPING)
    _tx(
        d / "accounts.csv",
        """
        AccountNo,Name,Mail,Opened,Tier
        A1,Acme,ops@acme.example,03/02/2019,2
        A2,Globex,,2019-04-01,3
        """,
    )
    _tx(
        d / "deals.csv",
        """
        OrderNo,Title,Total,State,AccountNo,Opened
        D1,Acme renewal,1200,Won,A1,2020-01-01
        D2,Globex pilot,300,Open,A2,2020-02-01
        """
        + deals_extra,
    )
    _tx(
        d / "history.csv",
        """
        Row,OrderNo,Old,New,When
        H1,D1,,Open,2020-01-01T10:00:00Z
        H2,D1,Open,Won,2020-01-20T10:00:00Z
        """,
    )
    _tx(
        d / "cases.csv",
        """
        CaseNo,AccountNo,Subject,Status,Opened,Closed
        K1,A1,Cannot log in,RESOLVED,2020-03-01T09:00:00Z,2020-03-01T11:00:00Z
        """,
    )
    return d / "map.yml"


def _import_mapping(pg_url: str, tenant: str, path: Path, **kw):
    return import_run.run_import(
        "mapping",
        [path],
        tenant,
        read=mapping.read,
        system=mapping.system_of(path),
        create_tenant="Legacy",
        url=pg_url,
        **kw,
    )


def test_a_mapping_file_imports_any_files_with_references_history_and_tickets(
    pg_url: str, tmp_path: Path
) -> None:
    tenant = _slug()
    result = _import_mapping(pg_url, tenant, _mapping_files(tmp_path))
    assert result.status == "completed", result.bad
    assert {k: v["created"] for k, v in result.counts.items()} == {
        "customer": 2,
        "deal": 2,
        "stage_change": 2,
        "ticket": 1,
    }
    tid = result.tenant_id
    won = _one(
        pg_url,
        "SELECT d.name, c.company, d.actual_close_date IS NULL FROM crm.deals d JOIN crm.customers c ON c.id = d.customer_id"
        " WHERE d.tenant_id = %s AND d.stage = 'Won'",
        tid,
    )
    assert won[:2] == ("Acme renewal", "Acme")
    assert _one(
        pg_url,
        "SELECT created_at::date::text FROM crm.customers WHERE tenant_id = %s AND company = 'Acme'",
        tid,
    ) == ("2019-03-02",)
    changes = (
        psycopg.connect(pg_url)
        .execute(
            "SELECT metadata->>'from_stage', metadata->>'to_stage' FROM crm.deal_activities WHERE tenant_id = %s"
            " AND type = 'STAGE_CHANGED' ORDER BY created_at",
            (tid,),
        )
        .fetchall()
    )
    assert changes == [(None, "Open"), ("Open", "Won")]
    ticket_events = [
        r[0]
        for r in psycopg.connect(pg_url)
        .execute(
            "SELECT event_type FROM crm.outbox WHERE tenant_id = %s AND topic = 'tickets' ORDER BY event_type",
            (tid,),
        )
        .fetchall()
    ]
    assert ticket_events == ["ticket.created", "ticket.resolved"]
    tier = _one(
        pg_url,
        "SELECT custom_fields->'tier' FROM crm.customers WHERE tenant_id = %s AND company = 'Globex'",
        tid,
    )
    assert tier == (3,)  # typed: a number, not the text "3"


def test_an_unknown_stage_is_a_bad_row_and_an_unknown_account_a_reference_left_empty(
    pg_url: str, tmp_path: Path
) -> None:
    path = _mapping_files(
        tmp_path, deals_extra="D3,Ghost deal,10,Open,A9,2020-02-02\nD4,Odd stage,10,Maybe,A1,2020-02-02\n"
    )
    result = _import_mapping(pg_url, _slug(), path)
    assert result.status == "rejected"
    assert [(Path(b.file).name, b.line, b.reason) for b in result.bad] == [
        ("deals.csv", 5, "stage: 'Maybe' is not a stage of 'Legacy'")
    ]
    assert [(Path(w.file).name, w.line, w.reason) for w in result.warnings] == [
        ("deals.csv", 4, "customer_ref: no account 'A9' in this import or an earlier one; left empty")
    ]
    # a required reference (a stage change's deal) to what is not there is a bad row
    other = tmp_path / "other"
    other.mkdir()
    path = _mapping_files(other)
    (other / "history.csv").write_text("Row,OrderNo,Old,New,When\nH1,D9,,Open,2020-01-01T10:00:00Z\n")
    result = _import_mapping(pg_url, _slug(), path)
    assert [(Path(b.file).name, b.line, b.reason) for b in result.bad] == [
        ("history.csv", 2, "deal_ref: no order 'D9' in this import or an earlier one")
    ]


def test_a_customer_known_by_email_is_linked_and_only_its_empty_fields_filled(
    pg_url: str, tmp_path: Path
) -> None:
    tenant = _slug()
    path = _mapping_files(tmp_path)
    # the tenant exists with a customer entered through the CRM under the same e-mail
    first = _import_mapping(pg_url, tenant, path, dry_run=True)
    with psycopg.connect(pg_url) as conn:
        tid = conn.execute(
            "INSERT INTO crm.tenants (slug, name) VALUES (%s, 'x') RETURNING id", (tenant,)
        ).fetchone()
        if tid is None:
            tid = conn.execute("SELECT id FROM crm.tenants WHERE slug = %s", (tenant,)).fetchone()
        conn.execute(
            "INSERT INTO crm.customers (tenant_id, email, company, phone) VALUES (%s, 'ops@acme.example', 'ACME Corp', '555')",
            (tid[0],),
        )
    assert first.status == "checked" and not first.bad  # a dry run of a tenant still to create
    result = _import_mapping(pg_url, tenant, path)
    assert result.counts["customer"] == {"created": 1, "updated": 1, "unchanged": 0}
    rows = (
        psycopg.connect(pg_url)
        .execute(
            "SELECT company, phone, custom_fields->>'tier' FROM crm.customers WHERE tenant_id = %s AND email = 'ops@acme.example'",
            (tid[0],),
        )
        .fetchall()
    )
    assert rows == [("ACME Corp", "555", "2")]  # the CRM's company kept, the empty custom fields filled


def test_a_historical_import_sets_the_tenants_clock_to_its_end(pg_url: str, tmp_path: Path) -> None:
    f = _tx(tmp_path / "orders.csv", ORDERS)
    result = _import_tx(pg_url, _slug(), f, clock="last")
    assert result.clock is not None and result.clock.isoformat() == "1997-02-02T00:00:00+00:00"
    assert _one(pg_url, "SELECT settings->>'as_of' FROM crm.tenants WHERE id = %s", result.tenant_id) == (
        "1997-02-02T00:00:00+00:00",
    )
    refused = _slug()
    with pytest.raises(import_run.CRMError, match="not an ISO date"):
        _import_tx(pg_url, refused, f, clock="soon")
    assert _one(pg_url, "SELECT count(*) FROM crm.tenants WHERE slug = %s", refused) == (
        0,
    )  # nothing written


def test_a_mapping_reads_parquet_files_too(pg_url: str, tmp_path: Path) -> None:
    import polars as pl

    path = _mapping_files(tmp_path)
    pl.read_csv(tmp_path / "deals.csv").write_parquet(tmp_path / "deals.parquet")
    (tmp_path / "map.yml").write_text(MAPPING.replace("path: deals.csv", "path: deals.parquet"))
    result = _import_mapping(pg_url, _slug(), path)
    assert result.status == "completed", result.bad
    assert result.counts["deal"]["created"] == 2
    assert [f["path"].rsplit("/", 1)[-1] for f in result.files][1] == "deals.parquet"
    # a bad value in a Parquet row is reported with the row's line (index + 2)
    pl.DataFrame(
        {
            "OrderNo": ["D9"],
            "Title": ["x"],
            "Total": [-1.0],
            "State": ["Open"],
            "AccountNo": ["A1"],
            "Opened": ["2020-01-01"],
        }
    ).write_parquet(tmp_path / "deals.parquet")
    bad = _import_mapping(pg_url, _slug(), path)
    in_parquet = [(b.line, b.reason.split(":")[0]) for b in bad.bad if b.file.endswith("deals.parquet")]
    assert in_parquet == [(2, "value")]
