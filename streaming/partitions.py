"""The months of the landing tables: create them ahead, move stragglers in, drop old ones.

Each `raw.<topic>` is partitioned by UTC month of `occurred_at` (migration 1801). Rows of a
month without a partition land in the table's default partition, so no writer ever waits for
this; `maintain` gives every month from this one to `ahead` months on its own partition, and
every month found in a default partition too (a seeded or imported history), one month per
transaction so the default partition is locked only while that month moves. `drop_before`
is retention by the event's time: it drops whole months that end at or before a cutoff (and
deletes older rows still in a default partition), or with `dry_run` only says what it would.
The daily Dagster job `raw_partitions` and `crm raw partitions|retention` call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import psycopg

from crm.db import libpq_url
from crm.schema.landing import LANDING_TABLES


@dataclass(frozen=True)
class PartitionChange:
    table: str
    partition: str
    rows: int
    """Rows moved in (maintain) or dropped (retention)."""


def _month(d: date) -> date:
    return date(d.year, d.month, 1)


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def maintain(url: str | None = None, ahead: int = 2, today: date | None = None) -> list[PartitionChange]:
    """Create the partitions of this month and `ahead` more, and of every month waiting in a
    default partition; return the partitions created."""
    first = _month(today or datetime.now(UTC).date())
    wanted_ahead = [_add_months(first, i) for i in range(ahead + 1)]
    made: list[PartitionChange] = []
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for table in LANDING_TABLES.values():
            waiting = [r[0] for r in conn.execute("select raw.default_months(%s)", (table,))]
            for month in sorted(set(wanted_ahead) | set(waiting)):
                with conn.transaction():
                    row = conn.execute("select raw.ensure_month_partition(%s, %s)", (table, month)).fetchone()
                if row is not None and row[0] is not None:
                    made.append(PartitionChange(table, f"{table}_p{month:%Y%m}", int(row[0])))
    return made


def drop_before(cutoff: datetime, url: str | None = None, dry_run: bool = True) -> list[PartitionChange]:
    """Retention: the months ending at or before `cutoff` (and older rows in the default
    partitions), dropped unless `dry_run`; what was (or would be) dropped."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn, conn.transaction():
        rows = conn.execute("select * from raw.drop_partitions_before(%s, %s)", (cutoff, dry_run)).fetchall()
    return [PartitionChange(t, p, int(n)) for t, p, n in rows]


def retention_cutoff(keep_months: int, today: date | None = None) -> datetime:
    """The start of the month `keep_months` before this one (UTC): that month and later stay."""
    start = _add_months(_month(today or datetime.now(UTC).date()), -keep_months)
    return datetime(start.year, start.month, 1, tzinfo=UTC)


def partitions(url: str | None = None) -> dict[str, list[str]]:
    """Every landing table's partitions, by name (the default one included)."""
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute(
            """select parent.relname, child.relname from pg_inherits i
               join pg_class parent on parent.oid = i.inhparent
               join pg_class child on child.oid = i.inhrelid
               join pg_namespace ns on ns.oid = parent.relnamespace
               where ns.nspname = 'raw' order by 1, 2"""
        ).fetchall()
    out: dict[str, list[str]] = {t: [] for t in LANDING_TABLES.values()}
    for parent, child in rows:
        if parent in out:
            out[parent].append(child)
    return out
