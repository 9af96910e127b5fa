"""Dashboard benchmark: every page's queries timed cold (database, no app cache) and warm
(Streamlit's st.cache_data hit), plus the Streamlit server's memory after visiting every page.

    python -m bench.dashboard --scale L            # seeds + builds a bench database when needed
    python -m bench.dashboard --database-url URL   # an already seeded world (CRM_BENCH_DASHBOARD_URL)

The bench database (`crm_bench_dashboard_<scale>_<seed>` on DATABASE_URL's server, or the one
given) is kept: a later run reuses its world and only builds what is missing (marts the queries
read, the ML outputs, the marts that join them). Scale L is seeded tenant by tenant.

Writes bench/results/dashboard.json: pages (per query: cold runs, p95, warm), p95_ms (over
every uncached query run), slowest_page, slowest_ms, app_rss_mb. Targets: p95 <= 200 ms per
query without cache; server <= 1.5 GB. Prints figures; never fails on timing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from app.data.access import DataUnavailable, Timing, run_query
from app.data.engine import make_reader_engine
from app.data.queries import QUERIES, page_queries
from crm.db import libpq_url

RESULTS = Path(__file__).resolve().parent / "results" / "dashboard.json"
COLD_RUNS = 5
TARGET_P95_MS = 200
TARGET_RSS_MB = 1536


def p95(values: list[float]) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def bench_database(server_url: str, scale: str, seed: int) -> str:
    """A database on the server holding the world of `scale` (seeded once and kept: a world of
    1M leads takes a while), made ready by `prepare`."""
    from crm import migrate

    name = f"crm_bench_dashboard_{scale.lower()}_{seed}"
    admin = make_url(libpq_url(server_url)).set(database="postgres").render_as_string(False)
    url = make_url(libpq_url(server_url)).set(database=name).render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if exists and not _seeded(url):  # a seed that was interrupted: its world is partial
            print(f"{name} holds a partial world (its seed did not finish): dropping it", flush=True)
            conn.execute(f'drop database "{name}" with (force)')
            exists = None
        if not exists:
            conn.execute(f'create database "{name}"')
    migrate.upgrade(url)
    if not _seeded(url):
        from sim import seed_world

        t0 = time.monotonic()
        print(f"seeding scale {scale} into {name} (sink=raw) ...", flush=True)
        seed_world(scale=scale, seed=seed, database_url=url, bootstrap=None, sink="raw", progress=True)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create table public.bench_world_seeded (at timestamptz not null default now())")
            conn.execute("insert into public.bench_world_seeded default values")
        print(f"  seeded in {time.monotonic() - t0:.0f}s", flush=True)
    return url


def _seeded(url: str) -> bool:
    """Whether the database's world was seeded to the end (the marker is written last)."""
    try:
        with psycopg.connect(url) as conn:
            return conn.execute("select to_regclass('public.bench_world_seeded') is not null").fetchone()[0]
    except psycopg.OperationalError:  # the database does not exist yet
        return False


def _missing_marts(url: str) -> list[str]:
    """The analytics relations the pages read that do not exist yet."""
    names = sorted({r for q in QUERIES.values() for r in q.relations if r.startswith("analytics.")})
    with psycopg.connect(url) as conn:
        return [n for n in names if conn.execute("select to_regclass(%s)", (n,)).fetchone()[0] is None]


def prepare(url: str) -> None:
    """Build what the pages need and the database lacks, in the order Dagster runs it: the
    marts (all of them on a fresh world, else only the missing ones), the ML outputs, then the
    marts that join them; and fresh planner statistics on what was written."""
    from warehouse.dbt import run_dbt

    missing = _missing_marts(url)
    if "analytics.dim_leads" in missing:
        t0 = time.monotonic()
        print("dbt build ...", flush=True)
        run_dbt(["build", "--quiet"], url, check=False, timeout=None)
        print(f"  built in {time.monotonic() - t0:.0f}s", flush=True)
    else:
        own = [m.split(".", 1)[1] for m in missing]
        if own:
            print(f"dbt build of the missing marts the pages read: {', '.join(own)} ...", flush=True)
            t0 = time.monotonic()
            run_dbt(["build", "--quiet", "--select", *own], url, check=False, timeout=None)
            print(f"  built in {time.monotonic() - t0:.0f}s", flush=True)
    with psycopg.connect(url) as conn:
        scored = conn.execute("select exists (select 1 from ml.lead_scores)").fetchone()[0]
    if not scored and _run_ml(url):
        t0 = time.monotonic()
        print("dbt build of the marts that join ml.* ...", flush=True)
        run_dbt(["build", "--quiet", "--select", "source:ml+"], url, check=False, timeout=None)
        print(f"  built in {time.monotonic() - t0:.0f}s", flush=True)
        with psycopg.connect(url, autocommit=True) as conn:
            for table in ("lead_scores", "deal_probabilities", "churn_predictions", "revenue_forecasts"):
                conn.execute(f"vacuum analyze ml.{table}")


def _run_ml(url: str) -> bool:
    """Train and score with the ML jobs (the pages read the marts over ml.*)."""
    from ml import jobs

    t0 = time.monotonic()
    print("ML train and score ...", flush=True)
    jobs.train_all(url, seed=42)
    jobs.score_all(url, seed=42)
    print(f"  ML trained and scored in {time.monotonic() - t0:.0f}s", flush=True)
    return True


def largest_tenant(url: str) -> str:
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(
            "select tenant_id from crm.leads group by tenant_id order by count(*) desc limit 1"
        ).fetchone()
        if row is None:
            row = conn.execute("select id from crm.tenants order by created_at limit 1").fetchone()
    if row is None:
        raise SystemExit("no tenants in the bench database")
    return str(row[0])


def sample_params(engine, tenant: str) -> dict[str, object]:
    """Ids the detail pages need: the top lead, the riskiest customer, the largest segment."""
    out: dict[str, object] = {}
    for query, column, param in (
        ("leads_ranked", "lead_id", "lead_id"),
        ("churn_risk_list", "customer_id", "customer_id"),
        ("segments", "segment_id", "segment_id"),
    ):
        try:
            frame = run_query(
                engine, tenant, query, {"limit": 1} if "limit" in QUERIES[query].defaults else {}
            )
            if not frame.empty:
                out[param] = str(frame.iloc[0][column])
        except DataUnavailable:
            pass
    return out


def time_queries(url: str, tenant: str) -> dict[str, dict]:
    import streamlit as st

    from app.data import _cached

    engine = make_reader_engine(url)
    os.environ["DATABASE_URL"] = url
    params = sample_params(engine, tenant)
    pages: dict[str, dict] = {}
    for page, names in page_queries().items():
        entry: dict[str, dict] = {}
        for name in names:
            q = QUERIES[name]
            bound = {k: params.get(k, v) for k, v in q.defaults.items()}
            cold: list[float] = []
            status = "ok"
            rows = 0
            for _ in range(COLD_RUNS):
                engine.dispose()  # a new connection each time: no session-level plan cache ...
                with engine.connect():
                    pass  # ... opened before the clock starts (connection set-up is not the query)
                timings: list[Timing] = []
                try:
                    frame = run_query(engine, tenant, name, bound, timings)
                    rows = len(frame)
                    cold.append(timings[0].ms)
                except DataUnavailable as exc:
                    status = f"unavailable: {exc}"
                    break
            warm = None
            if status == "ok":
                st.cache_data.clear()
                _cached(name, tenant, tuple(sorted(bound.items())))  # fill
                t0 = time.perf_counter()
                _cached(name, tenant, tuple(sorted(bound.items())))
                warm = round((time.perf_counter() - t0) * 1000, 3)
            entry[name] = {
                "status": status,
                "rows": rows,
                "cold_ms": [round(v, 1) for v in cold],
                "cold_first_ms": round(cold[0], 1) if cold else None,
                "cold_p95_ms": round(p95(cold), 1) if cold else None,
                "warm_ms": warm,
            }
            print(
                f"{page:22} {name:30} {status if status != 'ok' else '':10} "
                f"cold p95 {entry[name]['cold_p95_ms']} ms  warm {warm} ms  rows {rows}",
                flush=True,
            )
        pages[page] = {"queries": entry}
    engine.dispose()
    return pages


def app_rss_mb(url: str) -> float | None:
    """RSS of a Streamlit server after a browser visited every page as a tenant manager."""
    from stack.demo_logins import demo_sign_in
    from stack.procs import free_port, terminate
    from stack.screenshots import CHROMIUM, capture, start_app

    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} missing: app_rss_mb not measured (make chromium)")
        return None
    password = "bench-" + os.urandom(6).hex()
    logins = demo_sign_in(url, password)
    port = free_port()
    proc = start_app(port, env={"DATABASE_URL": url})
    try:
        capture(f"http://127.0.0.1:{port}", logins[0].email, password, None)
        rss_kb = 0
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
        return round(rss_kb / 1024, 1)
    finally:
        terminate(proc.pid)


def main() -> None:
    logging.getLogger("streamlit").setLevel(
        logging.ERROR
    )  # "no runtime" notices: st.cache_data outside a server
    parser = argparse.ArgumentParser(description="dashboard benchmark")
    parser.add_argument("--scale", default="L", choices=["S", "M", "L"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("CRM_BENCH_DASHBOARD_URL"),
        help="an already seeded world (skips seeding; missing marts and ML outputs are built); "
        "default $CRM_BENCH_DASHBOARD_URL",
    )
    parser.add_argument("--no-browser", action="store_true", help="skip the app memory measurement")
    args = parser.parse_args()

    if args.database_url:
        url = libpq_url(args.database_url)
    else:
        import stack
        from crm.settings import get_settings

        server = os.environ.get("DATABASE_URL") or stack.up(get_settings().home).database_url
        url = bench_database(server, args.scale, args.seed)
    prepare(url)
    tenant = largest_tenant(url)
    with psycopg.connect(url) as conn:
        leads = conn.execute("select count(*) from crm.leads").fetchone()[0]
        tenant_leads = conn.execute(
            "select count(*) from crm.leads where tenant_id = %s", (tenant,)
        ).fetchone()[0]
    print(f"world: {leads:,} leads; timing as the largest tenant ({tenant_leads:,} leads)", flush=True)

    pages = time_queries(url, tenant)
    all_cold = [v for p in pages.values() for q in p["queries"].values() for v in q["cold_ms"]]
    for p in pages.values():
        qs = [q for q in p["queries"].values() if q["cold_ms"]]
        p["cold_p95_ms"] = round(p95([v for q in qs for v in q["cold_ms"]]), 1) if qs else None
        p["cold_total_first_ms"] = round(sum(q["cold_first_ms"] for q in qs), 1) if qs else None
    timed = {k: v for k, v in pages.items() if v["cold_p95_ms"] is not None}
    slowest_page = max(timed, key=lambda k: timed[k]["cold_p95_ms"]) if timed else None
    rss = None if args.no_browser else app_rss_mb(url)
    result = {
        "benchmark": "dashboard",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "scale": args.scale
        if not args.database_url
        else {2_000: "S", 100_000: "M", 1_000_000: "L"}.get(leads, "given"),
        "leads": leads,
        "tenant_leads": tenant_leads,
        "cold_runs_per_query": COLD_RUNS,
        "pages": pages,
        "p95_ms": round(p95(all_cold), 1),
        "slowest_page": slowest_page,
        "slowest_ms": timed[slowest_page]["cold_p95_ms"] if slowest_page else None,
        "app_rss_mb": rss,
        "targets": {"p95_ms": TARGET_P95_MS, "app_rss_mb": TARGET_RSS_MB},
        "unavailable_queries": sorted(
            n for p in pages.values() for n, q in p["queries"].items() if q["status"] != "ok"
        ),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(
        f"p95 {result['p95_ms']} ms (target {TARGET_P95_MS}); slowest page {slowest_page} "
        f"{result['slowest_ms']} ms; app RSS {rss} MB (target {TARGET_RSS_MB}) -> {RESULTS}"
    )


if __name__ == "__main__":
    main()
