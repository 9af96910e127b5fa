"""The embedded Postgres a new local stack gets: its settings, its collation, no page checksums;
and a cluster made by an earlier version of the project keeps starting with its own choices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from stack import procs
from stack.postgres import SETTINGS, SUPERUSER, EmbeddedPostgres

WORDS = ["b", "é", "B", "a", "Z", "ä", "ab", "a b"]
IN_CODE_POINT_ORDER = ["B", "Z", "a", "a b", "ab", "b", "ä", "é"]
"""Capitals first, accented letters after z, a space before letters."""


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    cluster = EmbeddedPostgres(tmp_path / "crm-home")
    try:
        yield cluster
    finally:
        cluster.destroy()


def _show(url: str, *names: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return {n: conn.execute(f"show {n}").fetchone()[0] for n in names}  # type: ignore[index]


def _collation(url: str) -> tuple[str, str | None]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select datlocprovider::text, datlocale from pg_database where datname = current_database()"
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def _sorted(url: str, words: list[str]) -> list[str]:
    with psycopg.connect(url) as conn:
        row = conn.execute("select array_agg(w order by w) from unnest(%s::text[]) w", (words,)).fetchone()
    assert row is not None
    return list(row[0])


def test_a_new_cluster_has_the_chosen_settings_and_the_builtin_collation(pg: EmbeddedPostgres) -> None:
    rec = pg.start()
    url = pg.url(rec.port)
    shown = _show(
        url, "data_checksums", "shared_buffers", "synchronous_commit", "max_wal_size", "max_connections"
    )
    assert shown == {
        "data_checksums": "off",
        "shared_buffers": "256MB",
        "synchronous_commit": "off",
        "max_wal_size": "2GB",
        "max_connections": "200",
    }
    assert _show(url, "server_encoding") == {"server_encoding": "UTF8"}
    assert _collation(url) == ("b", "C.UTF-8"), "the crm database uses the builtin C.UTF-8 collation"
    assert _sorted(url, WORDS) == IN_CODE_POINT_ORDER
    with psycopg.connect(url) as conn:
        assert conn.execute("select upper('é'), lower('Ä')").fetchone() == ("É", "ä"), "Unicode case mapping"


def test_a_cluster_from_before_keeps_its_choices_and_an_altered_port_line(pg: EmbeddedPostgres) -> None:
    # The way the project initialised clusters before: libc collation, initdb's own checksums.
    pg._run("initdb", "-D", str(pg.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-instructions")
    with (pg.data / "postgresql.auto.conf").open("a") as f:
        f.write(f"port = {procs.free_port()}\n")
        f.writelines(f"{k} = {v}\n" for k, v in SETTINGS.items())
    rec = pg.start()
    url = pg.url(rec.port)
    assert _show(url, "data_checksums") == {"data_checksums": "on"}
    assert _collation(url) == ("c", None)
    assert _sorted(url, WORDS) == IN_CODE_POINT_ORDER, "libc's C.UTF-8 ordered text the same way"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table kept (v text)")
        conn.execute("insert into kept values ('still here')")
        conn.execute("alter system set work_mem = '8MB'")  # rewrites every line, the port quoted
    assert pg.stop()
    again = pg.start()
    assert again.port == rec.port, "the quoted port line ALTER SYSTEM wrote is read back"
    with psycopg.connect(pg.url(again.port)) as conn:
        assert conn.execute("select v from kept").fetchall() == [("still here",)]
        assert conn.execute("show work_mem").fetchone() == ("8MB",)
