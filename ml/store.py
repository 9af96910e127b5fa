"""Database I/O for ML: read feature marts as Polars frames, write `ml.*` in bulk.

Reads cast uuid columns to text (Polars has no uuid type). Writes go through CSV COPY into a
temporary table and one `INSERT ... ON CONFLICT DO UPDATE` (a re-score replaces the old row
of the same entity; nothing else is touched), or a plain COPY for append-only forecasts (through a
temporary table when row-level security applies: `crm_ml`). Each write records, in its
transaction, one `job.write` audit row per tenant with its row count.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import polars as pl
import psycopg

from crm.audit import record_job_write
from crm.db import connect

COPY_BLOCK = 8 << 20

R = TypeVar("R")


def fetch_one(cur: psycopg.Cursor[R], what: str) -> R:
    """The row of a query that always returns one (an aggregate, `INSERT ... RETURNING`)."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"{what}: the query returned no row")
    return row


def column_names(cur: psycopg.Cursor[R], what: str) -> list[str]:
    """The result columns of the statement `cur` ran (it must return rows)."""
    if cur.description is None:
        raise RuntimeError(f"{what}: the statement returns no rows")
    return [d.name for d in cur.description]


def _regclass_exists(conn: psycopg.Connection, qualified: str) -> bool:
    cur = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,))
    return bool(fetch_one(cur, f"to_regclass({qualified})")[0])


def table_exists(url: str | None, qualified: str) -> bool:
    with connect(url) as conn:
        return _regclass_exists(conn, qualified)


CSV_TYPES: dict[str, pl.DataType] = {
    "text": pl.Utf8(),
    "character varying": pl.Utf8(),
    "smallint": pl.Int64(),
    "integer": pl.Int64(),
    "bigint": pl.Int64(),
    "double precision": pl.Float64(),
    "real": pl.Float64(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "timestamp with time zone": pl.Datetime("us", "UTC"),
}
"""Column types a read streams as CSV (COPY), and their Polars types; a table with any other
type is read row by row."""


def _read_select(t: str, c: str) -> str:
    """How column `c` of Postgres type `t` is selected: uuid, json and arrays as text (Polars
    has no such types), numeric as float8."""
    if t in ("uuid", "jsonb", "json") or t.endswith("[]"):
        return f'"{c}"::text AS "{c}"'
    if t.startswith("numeric"):
        return f'"{c}"::float8 AS "{c}"'
    return f'"{c}"'


def _read_type(t: str) -> str:
    """The type a column arrives as after `_read_select`."""
    if t in ("uuid", "jsonb", "json") or t.endswith("[]"):
        return "text"
    return "double precision" if t.startswith("numeric") else t


def read_table(url: str | None, qualified: str, where: str = "", params: tuple = ()) -> pl.DataFrame:
    """A whole table or view (optionally filtered) as a Polars frame; uuids become text.

    Streamed as CSV through COPY and parsed by Polars (a million feature rows in about a second,
    against several building Python tuples), unless a column has a type outside `CSV_TYPES`."""
    schema, name = qualified.split(".", 1)
    with connect(url) as conn:
        cols = conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
            " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (qualified,),
        ).fetchall()
        select = f'SELECT {", ".join(_read_select(t, c) for c, t in cols)} FROM "{schema}"."{name}" {where}'
        types = {c: _read_type(t) for c, t in cols}
        if all(t in CSV_TYPES for t in types.values()):
            return _copy_csv(conn, select, params, types)
        cur = conn.execute(select, params)
        names = column_names(cur, qualified)
        rows = cur.fetchall()
    if not rows:
        return pl.DataFrame({n: [] for n in names})
    return _utc(pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None))


def select_list(columns: list[tuple[str, str]]) -> str:
    """The select list `read_table` reads a relation's (name, type) columns with."""
    return ", ".join(_read_select(t, c) for c, t in columns)


def frame_of_rows(rows: list[tuple], columns: list[tuple[str, str]]) -> pl.DataFrame:
    """The frame `read_table` gives for `rows` selected with `select_list(columns)`, same
    types: for rows read through another connection (the API's, under its tenant's
    row-level security) that must score exactly as the batch does."""
    types = {c: _read_type(t) for c, t in columns}
    if all(t in CSV_TYPES for t in types.values()):
        return pl.DataFrame(rows, schema={c: CSV_TYPES[t] for c, t in types.items()}, orient="row")
    if not rows:
        return pl.DataFrame({c: [] for c in types})
    return _utc(pl.DataFrame(rows, schema=list(types), orient="row", infer_schema_length=None))


TEXT_PARSED = {
    "boolean": lambda c: pl.col(c).replace_strict(
        {"t": True, "f": False}, default=None, return_dtype=pl.Boolean
    ),
    "date": lambda c: pl.col(c).str.to_date("%Y-%m-%d"),
    "timestamp with time zone": lambda c: pl.col(c).str.to_datetime(
        "%Y-%m-%d %H:%M:%S%.f%#z", time_unit="us"
    ),
}
"""Types that arrive as text in Postgres' CSV (t/f, ISO dates, timestamps in the session's UTC)."""


def _copy_csv(conn: psycopg.Connection, select: str, params: tuple, types: dict[str, str]) -> pl.DataFrame:
    """`select` (columns of `CSV_TYPES` only) through COPY ... CSV into a frame of their types."""
    conn.execute("SET TimeZone = 'UTC'")
    buf = io.BytesIO()
    with conn.cursor() as cur, cur.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)", params) as copy:
        for block in copy:
            buf.write(block)
    raw = {c: pl.Utf8() if t in TEXT_PARSED else CSV_TYPES[t] for c, t in types.items()}
    if not buf.tell():
        return pl.DataFrame(schema={c: CSV_TYPES[t] for c, t in types.items()})
    buf.seek(0)
    df = pl.read_csv(buf, has_header=False, schema=raw)
    return df.with_columns(
        TEXT_PARSED[t](c).dt.convert_time_zone("UTC")
        if t == "timestamp with time zone"
        else TEXT_PARSED[t](c)
        for c, t in types.items()
        if t in TEXT_PARSED
    )


def _utc(df: pl.DataFrame) -> pl.DataFrame:
    """Timestamps with a zone -> UTC (psycopg hands back the session's zone name)."""
    fix = [
        pl.col(c).dt.convert_time_zone("UTC")
        for c, t in df.schema.items()
        if isinstance(t, pl.Datetime) and t.time_zone
    ]
    return df.with_columns(fix) if fix else df


def read_query(url: str | None, sql: str, params: tuple | dict = ()) -> pl.DataFrame:
    with connect(url) as conn:
        cur = conn.execute(sql, params)
        names = column_names(cur, "read_query")
        rows = cur.fetchall()
    if not rows:
        return pl.DataFrame({n: [] for n in names})
    return _utc(pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None))


def _csv(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_csv(
        buf,
        include_header=False,
        null_value="\\N",
        quote_style="necessary",
        datetime_format="%Y-%m-%dT%H:%M:%S%.f%z",
    )
    return buf.getvalue()


def _per_tenant(df: pl.DataFrame) -> dict[str, int]:
    """Rows of `df` per tenant (what the audit row of a write counts)."""
    counted = df.group_by("tenant_id").len()
    return dict(zip(counted["tenant_id"].to_list(), counted["len"].to_list(), strict=True))


def _send(cp: psycopg.Copy, data: bytes) -> None:
    for i in range(0, len(data), COPY_BLOCK):
        cp.write(data[i : i + COPY_BLOCK])


@contextmanager
def _copy_in(
    conn: psycopg.Connection, table: str, cols: str, on_conflict: str = ""
) -> Iterator[psycopg.Copy]:
    """COPY CSV rows into `table`: straight in, or through a temporary table and one INSERT
    (`on_conflict` appended to it) when that clause is given or row-level security applies to
    the session's role (Postgres refuses COPY FROM then: the ML jobs' own role, `crm_ml`; the
    owner bypasses it)."""
    staged = bool(on_conflict) or bool(
        fetch_one(conn.execute("SELECT row_security_active(%s)", (table,)), "row_security_active")[0]
    )
    target = "_copy_rows" if staged else table
    if staged:
        conn.execute(f"CREATE TEMP TABLE _copy_rows (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
    with conn.cursor().copy(f"COPY {target} ({cols}) FROM STDIN (FORMAT csv, NULL '\\N')") as cp:
        yield cp
    if staged:
        conn.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _copy_rows {on_conflict}")


def upsert(url: str | None, table: str, df: pl.DataFrame, key: str) -> int:
    """COPY `df` (columns = table columns) into a temp table, then upsert on `key`."""
    if df.height == 0:
        return 0
    cols = ", ".join(df.columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in df.columns if c != key)
    data = _csv(df)
    with connect(url) as conn:
        with _copy_in(conn, table, cols, f"ON CONFLICT ({key}) DO UPDATE SET {updates}") as cp:
            _send(cp, data)
        record_job_write(conn, table, _per_tenant(df), mode="upsert")
    return df.height


def replace_tenants(url: str | None, table: str, df: pl.DataFrame) -> int:
    """Full refresh of the tenants in `df`: delete their rows and COPY the new ones, in one
    transaction (readers see the old scores or the new, never none). The fast path for
    scoring every entity of a tenant."""
    if df.height == 0:
        return 0
    cols = ", ".join(df.columns)
    tenants = df["tenant_id"].unique().to_list()
    data = _csv(df)
    with connect(url) as conn:
        conn.execute(f"DELETE FROM {table} WHERE tenant_id = ANY(%s::uuid[])", (tenants,))
        with _copy_in(conn, table, cols) as cp:
            _send(cp, data)
        record_job_write(conn, table, _per_tenant(df), mode="replace")
    return df.height


def replace_tenants_stream(
    url: str | None, table: str, tenants: list[str], columns: list[str], chunks: Iterator[pl.DataFrame]
) -> int:
    """`replace_tenants` for frames produced chunk by chunk: a producer thread computes the
    next chunk (and its CSV) while Postgres parses the previous one, all in one transaction."""
    q: queue.Queue = queue.Queue(maxsize=2)
    done = object()
    counts: dict[str, int] = {}

    def produce() -> None:
        try:
            for chunk in chunks:
                for tenant, n in _per_tenant(chunk).items():
                    counts[tenant] = counts.get(tenant, 0) + n
                q.put((chunk.height, _csv(chunk.select(columns))))
            q.put(done)
        except BaseException as exc:
            q.put(exc)

    worker = threading.Thread(target=produce, name="ml-score-producer", daemon=True)
    rows = 0
    cols = ", ".join(columns)
    with connect(url) as conn:
        conn.execute(f"DELETE FROM {table} WHERE tenant_id = ANY(%s::uuid[])", (tenants,))
        worker.start()
        with _copy_in(conn, table, cols) as cp:
            while True:
                item = q.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    raise item
                n, data = item
                rows += n
                _send(cp, data)
        worker.join()
        record_job_write(conn, table, counts, mode="replace")
    return rows


def append(url: str | None, table: str, df: pl.DataFrame) -> int:
    if df.height == 0:
        return 0
    cols = ", ".join(df.columns)
    data = _csv(df)
    with connect(url) as conn:
        with _copy_in(conn, table, cols) as cp:
            _send(cp, data)
        record_job_write(conn, table, _per_tenant(df), mode="append")
    return df.height


def tenants(url: str | None) -> list[str]:
    """Tenants that have ML inputs: read from the marts (ML reads schema analytics only)."""
    marts = (
        "analytics.ml_features__leads",
        "analytics.ml_features__customers",
        "analytics.ml_series__revenue_daily",
        "analytics.ml_features__deals",
    )
    with connect(url) as conn:
        have = [m for m in marts if _regclass_exists(conn, m)]
        if not have:
            return []
        union = " UNION ".join(f"SELECT DISTINCT tenant_id FROM {m}" for m in have)
        return [r[0] for r in conn.execute(f"SELECT tenant_id::text FROM ({union}) t ORDER BY 1").fetchall()]
