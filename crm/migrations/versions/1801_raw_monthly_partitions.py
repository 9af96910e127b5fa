"""Landing tables partitioned by month of the event's time, with retention by dropping months.

Revision ID: 1801_raw_monthly_partitions
Revises: 1702_outbox_backlog
Create Date: 2026-12-06

Each `raw.<topic>` becomes a table partitioned by range of `occurred_at`: one partition per UTC
month (`raw.<topic>_p<YYYYMM>`) and a default partition (`raw.<topic>_default`) that takes any
row whose month has none yet, so no writer (the lander, the simulator's COPY, a backfill) ever
fails for want of a partition. The key becomes `(event_id, occurred_at)`: Postgres enforces
uniqueness per partition, and an event resent as it was keeps its time, so at-least-once
delivery still lands it once. Partitioning by the event's time, not the landing time, is what
makes that hold, and it is the time retention is about.

The existing table becomes the default partition as it is (no copy; its key is rebuilt), so the
upgrade is quick on a large database. `raw.ensure_month_partition(table, month)` creates a
month's partition and moves that month's rows out of the default partition, holding the default
partition's lock only while that month moves; `streaming.partitions.maintain` calls it for the
months ahead and for every month found in a default partition (`raw.default_months`), one month
per transaction.
`raw.drop_partitions_before(cutoff, dry_run)` drops whole months that end at or before the
cutoff (and deletes older rows left in the default partition), returning what it dropped.

Hand-written: do not import crm.schema here (a migration is frozen history).
"""

from __future__ import annotations

from alembic import op

revision: str = "1801_raw_monthly_partitions"
down_revision: str | None = "1702_outbox_backlog"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

LANDING = (
    "tickets",
    "conversations",
    "lead_activities",
    "deal_activities",
    "web_events",
    "usage_events",
    "crm_changes",
)

FUNCTIONS = """
CREATE FUNCTION raw.ensure_month_partition(p_table text, p_month date) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
-- The partition of p_table for the UTC month of p_month, created when missing; rows of that
-- month waiting in the default partition move into it. Returns the rows moved (NULL: it existed).
DECLARE
  lo timestamptz := date_trunc('month', p_month::timestamp) AT TIME ZONE 'UTC';
  hi timestamptz := (date_trunc('month', p_month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
  part text := p_table || '_p' || to_char(p_month, 'YYYYMM');
  moved bigint;
BEGIN
  IF p_table NOT IN ('tickets', 'conversations', 'lead_activities', 'deal_activities', 'web_events',
                     'usage_events', 'crm_changes') THEN
    RAISE EXCEPTION 'not a landing table: %', p_table;
  END IF;
  IF to_regclass(format('raw.%I', part)) IS NOT NULL THEN
    RETURN NULL;
  END IF;
  -- writers routing rows to the default partition wait while this month moves out of it
  EXECUTE format('LOCK TABLE raw.%I IN ACCESS EXCLUSIVE MODE', p_table || '_default');
  IF to_regclass(format('raw.%I', part)) IS NOT NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format('CREATE TABLE raw.%I (LIKE raw.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, p_table);
  EXECUTE format(
    'WITH moved AS (DELETE FROM raw.%I WHERE occurred_at >= %L AND occurred_at < %L RETURNING *)'
    ' INSERT INTO raw.%I SELECT * FROM moved', p_table || '_default', lo, hi, part);
  GET DIAGNOSTICS moved = ROW_COUNT;
  EXECUTE format('ALTER TABLE raw.%I ADD PRIMARY KEY (event_id, occurred_at)', part);
  EXECUTE format('ALTER TABLE raw.%I ATTACH PARTITION raw.%I FOR VALUES FROM (%L) TO (%L)', p_table, part, lo, hi);
  RETURN moved;
END $$;

CREATE FUNCTION raw.drop_partitions_before(p_cutoff timestamptz, p_dry_run boolean DEFAULT true)
RETURNS TABLE (table_name text, partition_name text, rows_dropped bigint)
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
-- Retention: every month partition whose range ends at or before p_cutoff is dropped, and rows
-- older than p_cutoff still in a default partition are deleted; with p_dry_run nothing changes
-- and the same rows come back. Row counts are exact (each partition is counted).
DECLARE
  r record;
  n bigint;
BEGIN
  FOR r IN
    SELECT parent.relname AS parent, child.relname AS child,
           pg_get_expr(child.relpartbound, child.oid) AS bound
    FROM pg_inherits i
    JOIN pg_class parent ON parent.oid = i.inhparent
    JOIN pg_class child ON child.oid = i.inhrelid
    JOIN pg_namespace ns ON ns.oid = parent.relnamespace
    WHERE ns.nspname = 'raw'
      AND parent.relname IN ('tickets', 'conversations', 'lead_activities', 'deal_activities',
                             'web_events', 'usage_events', 'crm_changes')
    ORDER BY 1, 2
  LOOP
    IF r.bound = 'DEFAULT' THEN
      IF p_dry_run THEN
        EXECUTE format('SELECT count(*) FROM raw.%I WHERE occurred_at < %L', r.child, p_cutoff) INTO n;
      ELSE
        EXECUTE format('DELETE FROM raw.%I WHERE occurred_at < %L', r.child, p_cutoff);
        GET DIAGNOSTICS n = ROW_COUNT;
      END IF;
      IF n > 0 THEN
        table_name := r.parent; partition_name := r.child; rows_dropped := n;
        RETURN NEXT;
      END IF;
    ELSIF substring(r.bound FROM 'TO \\(''([^'']+)''\\)')::timestamptz <= p_cutoff THEN
      EXECUTE format('SELECT count(*) FROM raw.%I', r.child) INTO n;
      IF NOT p_dry_run THEN
        EXECUTE format('ALTER TABLE raw.%I DETACH PARTITION raw.%I', r.parent, r.child);
        EXECUTE format('DROP TABLE raw.%I', r.child);
      END IF;
      table_name := r.parent; partition_name := r.child; rows_dropped := n;
      RETURN NEXT;
    END IF;
  END LOOP;
END $$;
"""

DEFAULT_MONTHS = """
CREATE FUNCTION raw.default_months(p_table text) RETURNS SETOF date
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
-- The UTC months of the rows waiting in p_table's default partition.
BEGIN
  IF p_table NOT IN ('tickets', 'conversations', 'lead_activities', 'deal_activities', 'web_events',
                     'usage_events', 'crm_changes') THEN
    RAISE EXCEPTION 'not a landing table: %', p_table;
  END IF;
  RETURN QUERY EXECUTE format(
    'SELECT DISTINCT date_trunc(''month'', occurred_at AT TIME ZONE ''UTC'')::date FROM raw.%I ORDER BY 1',
    p_table || '_default');
END $$;
"""


def upgrade() -> None:
    for name in LANDING:
        op.execute(f"ALTER TABLE raw.{name} DROP CONSTRAINT pk_{name}")
        op.execute(f"ALTER TABLE raw.{name} RENAME TO {name}_default")
        op.execute(f"ALTER TABLE raw.{name}_default ADD PRIMARY KEY (event_id, occurred_at)")
        op.execute(
            f"CREATE TABLE raw.{name} (LIKE raw.{name}_default INCLUDING DEFAULTS INCLUDING COMMENTS)"
            " PARTITION BY RANGE (occurred_at)"
        )
        op.execute(f"ALTER TABLE raw.{name} ADD CONSTRAINT pk_{name} PRIMARY KEY (event_id, occurred_at)")
        op.execute(f"ALTER TABLE raw.{name} ATTACH PARTITION raw.{name}_default DEFAULT")
        op.execute(f"GRANT SELECT, INSERT ON raw.{name} TO crm_lander")
        op.execute(f"GRANT SELECT ON raw.{name} TO crm_transform")
    op.execute(DEFAULT_MONTHS)
    op.execute(FUNCTIONS)
    for fn in (
        "raw.default_months(text)",
        "raw.ensure_month_partition(text, date)",
        "raw.drop_partitions_before(timestamptz, boolean)",
    ):
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION raw.drop_partitions_before(timestamptz, boolean)")
    op.execute("DROP FUNCTION raw.ensure_month_partition(text, date)")
    op.execute("DROP FUNCTION raw.default_months(text)")
    for name in LANDING:
        op.execute(f"CREATE TABLE raw.{name}_flat (LIKE raw.{name} INCLUDING DEFAULTS INCLUDING COMMENTS)")
        op.execute(f"INSERT INTO raw.{name}_flat SELECT * FROM raw.{name}")
        op.execute(f"DROP TABLE raw.{name} CASCADE")
        op.execute(f"ALTER TABLE raw.{name}_flat RENAME TO {name}")
        op.execute(f"ALTER TABLE raw.{name} ADD CONSTRAINT pk_{name} PRIMARY KEY (event_id)")
        op.execute(f"GRANT SELECT, INSERT ON raw.{name} TO crm_lander")
        op.execute(f"GRANT SELECT ON raw.{name} TO crm_transform")
