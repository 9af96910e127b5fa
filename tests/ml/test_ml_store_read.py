"""`ml.store.read_table` streams a table as CSV through COPY: the frame it builds must be the one
the row-by-row reader builds, for every type it streams and for awkward text; a table with a type
it does not stream is read row by row."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from crm.schema.testing import scratch_database
from ml import store

T = "00000000-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def db() -> str:
    with scratch_database("ml_store_read", migrate=False) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA probe")
            conn.execute(
                """CREATE TABLE probe.every_type (
                     tenant_id uuid, label text, note varchar(20), small smallint, n integer,
                     big bigint, x double precision, r real, amount numeric(18, 2), flag boolean,
                     day date, at timestamptz, tags text[], doc jsonb)"""
            )
            conn.execute(
                """INSERT INTO probe.every_type VALUES
                   (%s, 'plain', 'a', 1, 2, 3, 1.5, 2.25, 10.10, true, '2026-01-31',
                    '2026-03-01 12:34:56.789012+02', '{x,y}', '{"k": [1, "a,b"]}'),
                   (%s, 'comma, "quote"
new line', '', -1, -2, -3, -0.5, 0, 0.00, false, '1999-12-31', '2026-11-23 00:00:00+00', '{}', '{}'),
                   (%s, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""",
                (T, T, "00000000-0000-4000-8000-000000000002"),
            )
            conn.execute("CREATE TABLE probe.with_interval (id int, wait interval)")
            conn.execute("INSERT INTO probe.with_interval VALUES (1, '2 hours'), (2, NULL)")
        yield url


def test_every_streamed_type_and_awkward_text(db: str) -> None:
    df = store.read_table(db, "probe.every_type")
    assert df.schema == pl.Schema(
        {
            "tenant_id": pl.Utf8,
            "label": pl.Utf8,
            "note": pl.Utf8,
            "small": pl.Int64,
            "n": pl.Int64,
            "big": pl.Int64,
            "x": pl.Float64,
            "r": pl.Float64,
            "amount": pl.Float64,
            "flag": pl.Boolean,
            "day": pl.Date,
            "at": pl.Datetime("us", "UTC"),
            "tags": pl.Utf8,
            "doc": pl.Utf8,
        }
    )
    assert df["label"].to_list() == ["plain", 'comma, "quote"\nnew line', ""]
    assert df["note"].to_list() == ["a", "", None], "an empty string stays one; NULL stays null"
    assert df["flag"].to_list() == [True, False, None]
    assert df["day"].to_list() == [date(2026, 1, 31), date(1999, 12, 31), None]
    assert df["at"].to_list() == [
        datetime(2026, 3, 1, 10, 34, 56, 789012, tzinfo=UTC),
        datetime(2026, 11, 23, tzinfo=UTC),
        None,
    ]
    assert df["amount"].to_list() == [10.1, 0.0, None]
    assert df["doc"][0] == '{"k": [1, "a,b"]}'


def test_streamed_equals_row_by_row_with_a_filter(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    where = "WHERE tenant_id = %s AND label LIKE '%%'"
    streamed = store.read_table(db, "probe.every_type", where, (T,))
    monkeypatch.setattr(store, "CSV_TYPES", {})  # no type streams: the row-by-row reader
    assert_frame_equal(streamed, store.read_table(db, "probe.every_type", where, (T,)))
    assert streamed.height == 2


def test_an_empty_result_keeps_its_columns(db: str) -> None:
    df = store.read_table(db, "probe.every_type", "WHERE false")
    assert df.height == 0 and df.columns[:3] == ["tenant_id", "label", "note"]


def test_other_types_are_read_row_by_row(db: str) -> None:
    df = store.read_table(db, "probe.with_interval")
    assert df["wait"].to_list() == [timedelta(hours=2), None]
