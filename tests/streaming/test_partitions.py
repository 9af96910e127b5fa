"""The landing tables' months: rows of any time land (a month without a partition waits in the
default one), maintenance gives each month its partition without losing or doubling a row, a
resend still lands once, and retention drops whole months (a dry run changes nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import psycopg
import pytest

from streaming import partitions


def _land(conn: psycopg.Connection, table: str, at: datetime, event_id: uuid.UUID | None = None) -> uuid.UUID:
    eid = event_id or uuid.uuid4()
    conn.execute(
        f"insert into raw.{table} (event_id, tenant_id, event_type, schema_version, occurred_at, source, payload)"
        " values (%s, %s, 'x', 1, %s, 'test', '{}') on conflict (event_id, occurred_at) do nothing",
        (eid, uuid.uuid4(), at),
    )
    return eid


def _where(conn: psycopg.Connection, table: str, eid: uuid.UUID) -> str:
    row = conn.execute(
        f"select tableoid::regclass::text from raw.{table} where event_id = %s", (eid,)
    ).fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture
def db(create_database: Callable[[str], str]) -> str:
    from crm import migrate

    url = create_database("crm_partitions")
    migrate.upgrade(url)
    return url


def test_months_get_their_partitions_and_no_row_is_lost(db: str) -> None:
    today = date(2026, 12, 6)
    old = datetime(1997, 3, 14, 12, tzinfo=UTC)  # an imported history
    edge = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)  # the last second of a UTC month
    with psycopg.connect(db, autocommit=True) as conn:
        a = _land(conn, "tickets", old)
        b = _land(conn, "tickets", edge)
        c = _land(conn, "web_events", datetime(2026, 12, 1, tzinfo=UTC))
        assert _where(conn, "tickets", a) == "raw.tickets_default"

    made = partitions.maintain(db, ahead=2, today=today)
    by_name = {m.partition: m.rows for m in made}
    assert by_name["tickets_p199703"] == 1 and by_name["tickets_p202611"] == 1
    assert by_name["web_events_p202612"] == 1
    assert {"tickets_p202612", "tickets_p202701", "tickets_p202702"} <= set(by_name)

    with psycopg.connect(db, autocommit=True) as conn:
        assert _where(conn, "tickets", a) == "raw.tickets_p199703"
        assert _where(conn, "tickets", b) == "raw.tickets_p202611"
        assert _where(conn, "web_events", c) == "raw.web_events_p202612"
        for table in ("tickets", "web_events"):
            left = conn.execute(f"select count(*) from raw.{table}_default").fetchone()
            assert left is not None and left[0] == 0
        # a resend of a landed event is still a no-op, now in its month's partition
        _land(conn, "tickets", edge, b)
        n = conn.execute("select count(*) from raw.tickets where event_id = %s", (b,)).fetchone()
        assert n is not None and n[0] == 1
        # new rows route straight to their month
        d = _land(conn, "tickets", datetime(2027, 1, 5, tzinfo=UTC))
        assert _where(conn, "tickets", d) == "raw.tickets_p202701"
    assert partitions.maintain(db, ahead=2, today=today) == []  # nothing left to do


def test_retention_drops_whole_months_and_a_dry_run_changes_nothing(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        for month in (1, 2, 3):
            for _ in range(month):
                _land(conn, "lead_activities", datetime(2025, month, 10, tzinfo=UTC))
    partitions.maintain(db, ahead=0, today=date(2025, 3, 1))
    with psycopg.connect(db, autocommit=True) as conn:
        straggler = _land(conn, "lead_activities", datetime(2024, 12, 31, tzinfo=UTC))
        assert _where(conn, "lead_activities", straggler) == "raw.lead_activities_default"

    cutoff = partitions.retention_cutoff(keep_months=1, today=date(2025, 3, 20))
    assert cutoff == datetime(2025, 2, 1, tzinfo=UTC)
    planned = partitions.drop_before(cutoff, db, dry_run=True)
    assert {(p.partition, p.rows) for p in planned} == {
        ("lead_activities_p202501", 1),
        ("lead_activities_default", 1),
    }
    assert partitions.partitions(db)["lead_activities"] == [
        "lead_activities_default",
        "lead_activities_p202501",
        "lead_activities_p202502",
        "lead_activities_p202503",
    ]
    done = partitions.drop_before(cutoff, db, dry_run=False)
    assert done == planned
    assert "lead_activities_p202501" not in partitions.partitions(db)["lead_activities"]
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "select date_trunc('month', occurred_at at time zone 'UTC')::date, count(*)"
            " from raw.lead_activities group by 1 order by 1"
        ).fetchall()
    assert rows == [(date(2025, 2, 1), 2), (date(2025, 3, 1), 3)]


def test_only_landing_tables_take_partitions(db: str) -> None:
    with (
        psycopg.connect(db) as conn,
        pytest.raises(psycopg.errors.RaiseException, match="not a landing table"),
    ):
        conn.execute("select raw.ensure_month_partition('dead_letters', '2026-01-01')")


def test_the_daily_job_makes_months_and_reports_retention_in_a_dry_run(db: str) -> None:
    from orchestration.raw_partitions import raw_partitions_job
    from orchestration.resources import PostgresResource

    now = datetime.now(UTC)
    with psycopg.connect(db, autocommit=True) as conn:
        old = _land(conn, "usage_events", datetime(2020, 1, 15, tzinfo=UTC))
    result = raw_partitions_job.execute_in_process(
        resources={"postgres": PostgresResource(database_url=db)},
        run_config={"ops": {"maintain_raw_partitions": {"config": {"keep_months": 12, "dry_run": True}}}},
    )
    assert result.success
    names = partitions.partitions(db)["usage_events"]
    assert f"usage_events_p{now:%Y%m}" in names and "usage_events_p202001" in names
    with psycopg.connect(db) as conn:
        assert _where(conn, "usage_events", old) == "raw.usage_events_p202001"  # a dry run drops nothing
    out = result.output_for_node("maintain_raw_partitions")
    assert out["dry_run"] and out["dropped"] == {"usage_events_p202001": 1}
    assert out["created"]["usage_events_p202001"] == 1
