"""External CRM sync benchmark: a first HubSpot sync of a large account into a fresh database.

The HubSpot stand-in (tests/integrations/external_sync/standins/hubspot.py) runs in its own
process on loopback, loaded with an account generated deterministically from the seed: 20,000
companies, 100,000 contacts (each of a company) and 50,000 deals (each of a company and a
contact) moved through one to five stages of HubSpot's default pipeline, so each deal carries
its `hs_date_entered_<stage>` history. A tenant on a fresh database of the configured server
(DATABASE_URL or the local stack) connects to it and one run reads everything in (search pages
of 200, HubSpot's documented maximum), written by the import writer; a second run then finds
nothing new. `write_s` is the import writer's part of the first run (its import run, from the
first write to the last), `read_and_map_s` the rest: the searches, association reads, the
export files and their mapping. Writes bench/results/sync.json; prints figures, never fails on timing. Target:
the first sync <= 120 s.

    make bench-sync             # or: .venv/bin/python -m bench.sync_bench [--companies N ...]
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import json
import multiprocessing as mp
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.server import server_info
from crm.schema.testing import scratch_database
from crm.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "sync.json"
STANDINS = ROOT / "tests" / "integrations" / "external_sync"
STAGES = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
]
INDUSTRIES = ["Software", "Retail", "Manufacturing", "Finance", "Healthcare", "Education"]
LEAD_STATUSES = ["NEW", "OPEN", "IN_PROGRESS", "CONNECTED", "OPEN_DEAL", "UNQUALIFIED"]


def load(store: Any, companies: int, contacts: int, deals: int, seed: int) -> dict[str, int]:
    """The account: the same records for the same seed and sizes."""
    rng = random.Random(seed)
    company_ids = []
    for i in range(companies):
        props = {
            "name": f"Company {i}",
            "domain": f"company{i}.example",
            "industry": rng.choice(INDUSTRIES),
            "numberofemployees": str(rng.randint(5, 5000)),
            "country": rng.choice(["US", "GB", "DE", "FR", "CA"]),
            "lifecyclestage": "customer" if rng.random() < 0.4 else "lead",
        }
        company_ids.append(store.put("companies", props)["id"])
    contact_ids = []
    for i in range(contacts):
        props = {
            "email": f"person{i}@company{i % companies}.example",
            "firstname": f"First{i}",
            "lastname": f"Last{i}",
            "phone": f"+1555{i:07d}",
            "lifecyclestage": rng.choice(["lead", "marketingqualifiedlead", "opportunity"]),
            "hs_lead_status": rng.choice(LEAD_STATUSES),
        }
        cid = store.put("contacts", props)["id"]
        store.associate("contacts", cid, "companies", company_ids[i % companies])
        contact_ids.append(cid)
    entries = 0
    for i in range(deals):
        path = STAGES[: rng.randint(1, len(STAGES))]
        close = rng.random()
        if close < 0.2:
            path = [*path, "closedwon"]
        elif close < 0.35:
            path = [*path, "closedlost"]
        props = {
            "dealname": f"Deal {i}",
            "amount": str(rng.randint(500, 250_000)),
            "pipeline": "default",
            "dealstage": path[0],
            "closedate": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T00:00:00.000Z",
        }
        did = store.put("deals", props)["id"]
        for stage in path[1:]:
            store.put("deals", {"dealstage": stage}, did)
        entries += len(path)
        contact = rng.randrange(contacts)
        store.associate("deals", did, "companies", company_ids[contact % companies])
        store.associate("deals", did, "contacts", contact_ids[contact])
    return {"companies": companies, "contacts": contacts, "deals": deals, "stage_entries": entries}


def serve(sizes: tuple[int, int, int, int], ready: Any) -> None:
    """The stand-in's process: load the account, serve it, report the address and counts."""
    sys.path.insert(0, str(STANDINS))
    from standins.hubspot import Running, Store

    store = Store()
    t0 = time.perf_counter()
    counts = load(store, *sizes)
    loaded = time.perf_counter() - t0
    with Running(store) as running:
        ready.put((running.url, counts, round(loaded, 1)))
        while True:
            time.sleep(3600)


def sync_once(url: str, cid: Any, profile: str | None = None) -> tuple[float, Any]:
    from integrations.external_sync.engine import run_sync

    profiler = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    result = run_sync(cid, url=url)
    seconds = round(time.perf_counter() - t0, 2)
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    return seconds, result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--companies", type=int, default=20_000)
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--deals", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--page", type=int, default=200, help="search page size (HubSpot's maximum: 200)")
    ap.add_argument("--no-write", action="store_true", help="print the figures only")
    ap.add_argument("--profile", help="write the first sync's cProfile stats here")
    a = ap.parse_args()
    os.environ.setdefault("CRM_SYNC_CREDENTIALS_KEY", base64.b64encode(os.urandom(32)).decode())
    get_settings.cache_clear()

    ctx = mp.get_context("spawn")
    ready = ctx.Queue()
    standin = ctx.Process(target=serve, args=((a.companies, a.contacts, a.deals, a.seed), ready), daemon=True)
    standin.start()
    try:
        hubspot_url, counts, loaded = ready.get(timeout=900)
        print(f"stand-in at {hubspot_url}: {counts} (loaded in {loaded}s)")
        sys.path.insert(0, str(STANDINS))
        from standins.hubspot import TOKEN

        from integrations.external_sync import store
        from integrations.imports.run import resolve_tenant

        with scratch_database("crm_bench_sync") as url:
            with psycopg.connect(url, autocommit=True) as conn:
                tenant = resolve_tenant(conn, "bench-sync", "Sync benchmark")
                cid = store.create_connection(
                    conn,
                    tenant,
                    "hubspot",
                    "bench",
                    {"access_token": TOKEN},
                    base_url=hubspot_url,
                    settings={"page_size": a.page},
                )
            first_s, first = sync_once(url, cid, a.profile)
            assert first.status == "completed", first.failures
            print(f"first sync: {first_s}s  {first.counts['inbound']}")
            second_s, second = sync_once(url, cid)
            second_changes = second.totals()["created"] + second.totals()["updated"]
            print(f"second sync (nothing new): {second_s}s, {second_changes} records written")
            with psycopg.connect(url) as conn:
                rows = {
                    t: conn.execute(
                        f"SELECT count(*) FROM crm.{t} WHERE tenant_id = %s", (tenant,)
                    ).fetchone()[0]  # type: ignore[index]
                    for t in ("customers", "leads", "deals", "deal_activities", "audit_log", "outbox")
                }
                span = conn.execute(
                    "SELECT extract(epoch FROM finished_at - started_at) FROM crm.import_runs WHERE id = %s",
                    (first.import_run_id,),
                ).fetchone()
            write_s = round(float(span[0]), 2) if span else None
            server = server_info(url)
        records = counts["companies"] + counts["contacts"] + counts["deals"]
        result = {
            "records": records,
            "seconds": first_s,
            "records_per_s": round(records / first_s),
            "write_s": write_s,
            "read_and_map_s": round(first_s - write_s, 2) if write_s is not None else None,
            "second_run_s": second_s,
            "second_run_written": second_changes,
            "objects": {**counts, "page_size": a.page},
            "counts": first.counts["inbound"],
            "rows": rows,
            "failures": len(first.failures),
            "standin_load_s": loaded,
            "targets": {"seconds": 120},
            "machine": f"{platform.node()} ({os.cpu_count()} cpus, Postgres shared with other work)",
            "server": server,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        print(json.dumps(result, indent=2))
        if not a.no_write:
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    finally:
        standin.terminate()
        standin.join(5)


if __name__ == "__main__":
    main()
