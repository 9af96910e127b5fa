"""External CRM sync benchmark: a first sync of a large account into a fresh database, from
HubSpot and from Salesforce.

Each vendor's stand-in (tests/integrations/external_sync/standins/) runs in its own process on
loopback, loaded with an account generated deterministically from the seed: 20,000 companies
(Accounts), 100,000 contacts (each of a company) and 50,000 deals (Opportunities, each of a
company and a contact) moved through one to five open stages, a fifth of them on to won and a
seventh to lost, so each carries its stage history (HubSpot's `hs_date_entered_<stage>`,
Salesforce's OpportunityHistory). A tenant on a fresh database of the configured server
(DATABASE_URL or the local stack) connects to it through the vendor's SDK and one run reads
everything in (HubSpot search pages of 200, its documented maximum; Salesforce query batches of
2,000, the default), written by the import writer; a second run then finds nothing new.
`write_s` is the import writer's part of the first run (its import run, from the first write to
the last), `read_and_map_s` the rest: the reads, the export files and their mapping. Writes
bench/results/sync.json (one entry per provider, and HubSpot's `records`, `seconds` at the top);
prints figures, never fails on timing.
Target: each first sync <= 120 s.

    make bench-sync             # or: .venv/bin/python -m bench.sync_bench [--provider salesforce ...]
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


SF_STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review"]


def _stage_path(rng: random.Random, stages: list[str], won: str, lost: str) -> list[str]:
    """A deal's stages: one to all of the open ones, then won for a fifth, lost for a seventh."""
    path = stages[: rng.randint(1, len(stages))]
    close = rng.random()
    return [*path, won] if close < 0.2 else [*path, lost] if close < 0.35 else path


def load_hubspot(store: Any, companies: int, contacts: int, deals: int, seed: int) -> dict[str, int]:
    """The HubSpot account: the same records for the same seed and sizes."""
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
        path = _stage_path(rng, STAGES, "closedwon", "closedlost")
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


def load_salesforce(store: Any, companies: int, contacts: int, deals: int, seed: int) -> dict[str, int]:
    """The Salesforce org: the same shape as the HubSpot account (the stand-in writes an
    OpportunityHistory row for each stage an Opportunity enters, as Salesforce does)."""
    rng = random.Random(seed)
    accounts = [
        store.put(
            "Account",
            {
                "Name": f"Company {i}",
                "Website": f"company{i}.example",
                "Industry": rng.choice(INDUSTRIES),
                "NumberOfEmployees": rng.randint(5, 5000),
                "BillingCountry": rng.choice(["US", "GB", "DE", "FR", "CA"]),
                "Type": "Customer - Direct" if rng.random() < 0.4 else "Prospect",
            },
        )["Id"]
        for i in range(companies)
    ]
    people = [
        store.put(
            "Contact",
            {
                "Email": f"person{i}@company{i % companies}.example",
                "FirstName": f"First{i}",
                "LastName": f"Last{i}",
                "Phone": f"+1555{i:07d}",
                "AccountId": accounts[i % companies],
            },
        )["Id"]
        for i in range(contacts)
    ]
    entries = 0
    for i in range(deals):
        path = _stage_path(rng, SF_STAGES, "Closed Won", "Closed Lost")
        contact = rng.randrange(contacts)
        oid = store.put(
            "Opportunity",
            {
                "Name": f"Deal {i}",
                "Amount": rng.randint(500, 250_000),
                "StageName": path[0],
                "CloseDate": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "AccountId": accounts[contact % companies],
                "ContactId": people[contact],
            },
        )["Id"]
        for stage in path[1:]:
            store.put("Opportunity", {"StageName": stage}, oid)
        entries += len(path)
    return {"companies": companies, "contacts": contacts, "deals": deals, "stage_entries": entries}


def serve(provider: str, sizes: tuple[int, int, int, int], ready: Any) -> None:
    """The stand-in's process: load the account, serve it, report the address, the CA it
    serves TLS under (Salesforce) and the counts."""
    sys.path.insert(0, str(STANDINS))
    if provider == "hubspot":
        from standins.hubspot import Running, Store

        store, load = Store(), load_hubspot
    else:
        from standins.salesforce import Running, Store  # type: ignore[assignment]

        store, load = Store(), load_salesforce  # type: ignore[assignment]
    t0 = time.perf_counter()
    counts = load(store, *sizes)
    loaded = time.perf_counter() - t0
    with Running(store) as running:
        ready.put((running.url, getattr(running, "ca", None), counts, round(loaded, 1)))
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


def bench(provider: str, a: argparse.Namespace) -> dict[str, Any]:
    """One provider's first and second sync into a fresh database; its figures."""
    ctx = mp.get_context("spawn")
    ready = ctx.Queue()
    sizes = (a.companies, a.contacts, a.deals, a.seed)
    standin = ctx.Process(target=serve, args=(provider, sizes, ready), daemon=True)
    standin.start()
    try:
        base_url, ca, counts, loaded = ready.get(timeout=900)
        print(f"{provider} stand-in at {base_url}: {counts} (loaded in {loaded}s)")
        sys.path.insert(0, str(STANDINS))
        from standins.hubspot import TOKEN
        from standins.salesforce import SESSION

        from integrations.external_sync import store
        from integrations.imports.run import resolve_tenant

        if provider == "hubspot":
            credentials, settings = {"access_token": TOKEN}, {"page_size": a.page}
        else:
            credentials, settings = {"access_token": SESSION}, {"ca_bundle": ca}
        with scratch_database(f"crm_bench_sync_{provider}") as url:
            with psycopg.connect(url, autocommit=True) as conn:
                tenant = resolve_tenant(conn, "bench-sync", "Sync benchmark")
                cid = store.create_connection(
                    conn, tenant, provider, "bench", credentials, base_url=base_url, settings=settings
                )
            first_s, first = sync_once(url, cid, a.profile and f"{a.profile}.{provider}")
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
    finally:
        standin.terminate()
        standin.join(5)
    records = counts["companies"] + counts["contacts"] + counts["deals"]
    return {
        "records": records,
        "seconds": first_s,
        "records_per_s": round(records / first_s),
        "write_s": write_s,
        "read_and_map_s": round(first_s - write_s, 2) if write_s is not None else None,
        "second_run_s": second_s,
        "second_run_written": second_changes,
        "objects": {**counts, "page_size": a.page if provider == "hubspot" else 2000},
        "counts": first.counts["inbound"],
        "rows": rows,
        "failures": len(first.failures),
        "standin_load_s": loaded,
        "targets": {"seconds": 120},
        "server": server,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--provider", choices=["hubspot", "salesforce", "both"], default="both")
    ap.add_argument("--companies", type=int, default=20_000)
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--deals", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--page", type=int, default=200, help="HubSpot search page size (its maximum: 200)")
    ap.add_argument("--no-write", action="store_true", help="print the figures only")
    ap.add_argument("--profile", help="write each first sync's cProfile stats here (.<provider> added)")
    a = ap.parse_args()
    os.environ.setdefault("CRM_SYNC_CREDENTIALS_KEY", base64.b64encode(os.urandom(32)).decode())
    get_settings.cache_clear()

    providers = ["hubspot", "salesforce"] if a.provider == "both" else [a.provider]
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    result: dict[str, Any] = {k: v for k, v in previous.items() if k in ("hubspot", "salesforce")}
    for provider in providers:
        result[provider] = bench(provider, a)
        print(json.dumps({provider: result[provider]}, indent=2))
    if "hubspot" in result:  # the headline figures: the HubSpot first sync's
        result |= {k: result["hubspot"][k] for k in ("records", "seconds", "records_per_s")}
        result["targets"] = {"seconds": 120}
    result["load_average"] = list(os.getloadavg())
    result["machine"] = f"{platform.node()} ({os.cpu_count()} cpus)"
    if not a.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
