"""Warehouse benchmark: a full dbt build at scale M, then an incremental one after 1% new events,
on the embedded Postgres every user gets and on a system server, one after the other.

For each server it seeds scale M (sink='raw') into a fresh database: `embedded` is a throwaway
cluster with the project's defaults (`stack.postgres`, started under a temporary home whatever
stack runs), `system` the server at BENCH_SYSTEM_URL (default 127.0.0.1:5432; skipped with a
note when nothing answers), `configured` the one of DATABASE_URL or the local stack.
BENCH_DATABASE_URL instead measures that database as it is (already seeded). Times `dbt run
--full-refresh` (models only; tests are timed separately as `tests_s`), lands 1% more events in
every raw table and times the incremental build, `dbt run -s config.materialized:incremental`
(`incremental_s`: what the new-events sensor runs; the event facts, touchpoints and attribution
take in the new events), then lands 1% more and times a whole `dbt run` (`whole_run_s`: the
incremental models plus every as-of-now table mart rebuilt, what the schedules run). Each time is
the `dbt` process's wall clock, start-up included. Writes bench/results/dbt.json: each server's
figures and settings, the embedded/system ratios, and at the top the embedded server's figures;
prints figures, never fails on timing. Targets: full <= 60 s, incremental <= 10 s.

    make bench-dbt      # or: .venv/bin/python -m bench.dbt_bench [--scale M] [--server embedded ...] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from bench.server import server_info
from crm.db import libpq_url
from crm.schema.testing import with_database
from warehouse.dbt import run_dbt

RESULTS = Path(__file__).resolve().parent / "results" / "dbt.json"
RAW_TABLES = ("lead_activities", "deal_activities", "tickets", "conversations", "web_events", "usage_events")
MARTS = (
    "dim_leads",
    "fct_lead_activities",
    "dim_customers",
    "fct_deals",
    "fct_deal_stage_transitions",
    "fct_pipeline_daily",
    "fct_customer_health",
    "fct_segment_memberships",
    "fct_revenue_attribution",
    "fct_campaign_performance",
    "metrics_crm_daily",
    "ml_features__leads",
    "ml_features__customers",
    "ml_features__customers_current",
    "ml_series__revenue_daily",
)


SYSTEM_URL = os.environ.get("BENCH_SYSTEM_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RATIOS = ("full_build_s", "incremental_s", "whole_run_s", "tests_s")


@contextmanager
def embedded_server() -> Iterator[str]:
    """A throwaway embedded cluster with the project's defaults; its maintenance URL."""
    from stack.postgres import EmbeddedPostgres

    home = Path(tempfile.mkdtemp(prefix="bench-dbt-pg-"))
    pg = EmbeddedPostgres(home)
    try:
        port = pg.start().port
        assert port is not None
        yield pg.url(port, "postgres")
    finally:
        pg.destroy()
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def server(which: str) -> Iterator[str]:
    """Maintenance URL of `embedded`, `system` or `configured` (see the module's docstring)."""
    if which == "embedded":
        with embedded_server() as url:
            yield url
    elif which == "system":
        yield libpq_url(SYSTEM_URL)
    else:
        yield libpq_url()


def fresh_database(admin: str, scale: str, seed: int) -> tuple[str, str]:
    from crm import migrate
    from sim import seed_world

    name = f"crm_bench_dbt_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(admin, name)
    try:
        migrate.upgrade(url)
        t0 = time.perf_counter()
        seed_world(scale=scale, seed=seed, database_url=url, sink="raw", progress=True)
    except BaseException:  # an interrupted seed leaves no half-seeded database behind
        drop_database(admin, name)
        raise
    print(f"seeded scale {scale} in {time.perf_counter() - t0:.1f}s into {name}")
    return name, url


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def land_one_percent(url: str) -> int:
    """1% more events per raw table: copies of recent events with new ids, landed now."""
    added = 0
    with psycopg.connect(url, autocommit=True) as conn:
        for table in RAW_TABLES:
            cur = conn.execute(
                sql.SQL("""
                insert into raw.{t} (event_id, tenant_id, event_type, schema_version, occurred_at, source, payload)
                select gen_random_uuid(), tenant_id, event_type, schema_version, occurred_at + interval '1 second',
                       source, case when payload ? 'activity_id'
                                    then payload || jsonb_build_object('activity_id', gen_random_uuid()) else payload end
                from raw.{t}
                where event_type not in ('deal.created', 'deal.stage_changed', 'deal.won', 'deal.lost')
                order by occurred_at desc
                limit (select count(*) / 100 from raw.{t})""").format(t=sql.Identifier(table))
            )
            added += cur.rowcount
    return added


def timed_dbt(args: list[str], url: str, target: Path) -> float:
    t0 = time.perf_counter()
    run_dbt([*args, "--quiet"], url, target_path=target, log_path=target / "logs", timeout=3600)
    return round(time.perf_counter() - t0, 2)


def count(conn: psycopg.Connection, schema: str, table: str) -> int:
    row = conn.execute(
        sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    ).fetchone()
    return int(row[0]) if row else 0


def measure(url: str) -> dict[str, object]:
    """Full build, tests, incremental and whole run on the seeded database at `url`."""
    target = Path(tempfile.mkdtemp(prefix="bench-dbt-"))
    timed_dbt(["parse"], url, target)  # warm the manifest (partial parsing), as a developer's run would be
    full = timed_dbt(["run", "--full-refresh"], url, target)
    print(f"full build (dbt run --full-refresh): {full:.1f}s")
    tests = timed_dbt(["test"], url, target)
    print(f"dbt test: {tests:.1f}s")
    added = land_one_percent(url)
    inc = timed_dbt(["run", "-s", "config.materialized:incremental"], url, target)
    print(f"incremental build after {added} new events: {inc:.1f}s")
    added += land_one_percent(url)
    whole = timed_dbt(["run"], url, target)
    print(f"whole dbt run (incremental models and every table mart rebuilt): {whole:.1f}s")
    with psycopg.connect(url) as conn:
        rows = {m: count(conn, "analytics", m) for m in MARTS}
        raw = {t: count(conn, "raw", t) for t in RAW_TABLES}
    shutil.rmtree(target, ignore_errors=True)
    return {
        "full_build_s": full,
        "incremental_s": inc,
        "whole_run_s": whole,
        "tests_s": tests,
        "new_events": added,
        "raw_events": sum(raw.values()),
        "rows": rows,
        "server": server_info(url),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def on_server(which: str, scale: str, seed: int, keep: bool) -> dict[str, object]:
    """Seed a fresh database on the server and measure it; a server that does not answer is skipped."""
    print(f"== {which}")
    with server(which) as admin:
        try:
            psycopg.connect(admin, connect_timeout=5).close()
        except psycopg.OperationalError as e:
            print(f"skipped: {e}")
            return {"skipped": str(e).strip()}
        name, url = fresh_database(admin, scale, seed)
        try:
            return measure(url)
        finally:
            if not keep:
                drop_database(admin, name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="M")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--server",
        action="append",
        choices=("embedded", "system", "configured"),
        help="where to measure (repeat; default: embedded, then system)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    a = ap.parse_args()
    given = os.environ.get("BENCH_DATABASE_URL")
    load_at_start = round(os.getloadavg()[0], 2)  # other work on the machine moves every figure
    if given:
        runs = {"given": measure(libpq_url(given))}
    else:
        runs = {
            which: on_server(which, a.scale, a.seed, a.keep) for which in a.server or ("embedded", "system")
        }
    first = runs.get("embedded") or next(iter(runs.values()))  # the default every user gets
    result: dict[str, object] = {
        "scale": a.scale,
        "seed": a.seed,
        **{k: first.get(k) for k in RATIOS},
        **runs,
    }
    emb, sys_ = runs.get("embedded", {}), runs.get("system", {})
    if "full_build_s" in emb and "full_build_s" in sys_:
        ratios = {k.removesuffix("_s"): round(emb[k] / sys_[k], 2) for k in RATIOS}  # type: ignore[operator]
        result["ratios_embedded_to_system"] = ratios
        result["ratio_full_build"] = ratios["full_build"]
    result |= {
        "targets": {"full_build_s": 60, "incremental_s": 10},
        "machine": f"{platform.node()} ({os.cpu_count()} cpus)",
        "load_avg_1m_at_start": load_at_start,
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
