"""Segment benchmark: 20 dynamic segments recalculated over 1M customers.

In a fresh database on the configured server: one tenant with 1,000,000 customers in
crm.customers and an `analytics.dim_customers` table with the mart's whitelisted columns
filled by SQL (building the full customer 360 with dbt for 1M customers is the warehouse
benchmark's job, not this one's), 20 segments with varied criteria (1-4 conditions, every
operator), then `recalculate_all` three times: `seconds` is the first run (all memberships
written), `steady_seconds` a second run with nothing changed, `changed_seconds` a third after
1% of the customers changed (MRR, lifecycle stage: the scheduled recalculation's usual case).
Writes bench/results/segments.json; prints figures, never fails on timing. Target: <= 15 s.

    make bench-segments               # or: .venv/bin/python bench/segments_bench.py [--customers N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from crm.db import libpq_url, make_engine
from crm.schema.testing import with_database
from warehouse.segments import FIELDS, recalculate_all, validate_criteria
from warehouse.segments.fields import Kind

RESULTS = Path(__file__).resolve().parent / "results" / "segments.json"
PG = {
    Kind.TEXT: "text",
    Kind.ENUM: "text",
    Kind.NUMBER: "numeric",
    Kind.TIMESTAMP: "timestamptz",
    Kind.TEXT_ARRAY: "text[]",
}


def L(field: str, op: str, value=None) -> dict:  # a leaf, kept short
    return {"field": field, "op": op, "value": value}


SEGMENTS: list[tuple[str, dict]] = [
    ("active high value", {"all": [L("lifecycle_stage", "eq", "ACTIVE"), L("mrr", "gte", 1500)]}),
    ("at risk paying", {"all": [L("lifecycle_stage", "eq", "AT_RISK"), L("mrr", "gte", 1000)]}),
    ("enterprise", {"all": [L("company_size", "gte", 4500), L("lifecycle_stage", "ne", "CHURNED")]}),
    ("new customers", L("became_customer_at", "within_last_days", 30)),
    (
        "tech smb",
        {
            "all": [
                L("industry", "in", ["Software", "Financial Services"]),
                L("company_size", "lt", 200),
                {"any": [L("lifecycle_stage", "eq", "ACTIVE"), L("lifecycle_stage", "eq", "ONBOARDING")]},
            ]
        },
    ),
    (
        "critical and declining",
        {"all": [L("health_risk_level", "eq", "critical"), L("health_trend", "eq", "declining")]},
    ),
    ("declining big accounts", {"all": [L("health_trend", "eq", "declining"), L("mrr", "gt", 1800)]}),
    ("silent users", {"all": [L("days_since_last_usage", "gte", 55), L("lifecycle_stage", "eq", "ACTIVE")]}),
    ("support heavy", L("tickets_90d", "gte", 8)),
    ("unhappy", {"all": [L("avg_csat", "lt", 2), L("open_tickets", "gt", 0)]}),
    ("mid market", L("company_size", "between", [200, 400])),
    ("big spenders", L("total_revenue", "gte", 50000)),
    ("pipeline open", {"all": [L("open_deals", "gt", 1), L("mrr", "gt", 1000)]}),
    ("vip tagged", L("tags", "contains", "vip")),
    ("retail groups", {"all": [L("company", "contains", "Group"), L("industry", "eq", "Retail")]}),
    ("small never churned", {"all": [L("churned_at", "is_null", True), L("company_size", "lt", 300)]}),
    ("churned this year", L("churned_at", "between", ["2026-01-01", "2026-12-31"])),
    (
        "emea active",
        {
            "all": [
                L("country", "in", ["Germany", "France", "United Kingdom", "Spain", "Italy"]),
                L("lifecycle_stage", "eq", "ACTIVE"),
            ]
        },
    ),
    ("healthy engaged", {"all": [L("health_score", "gte", 90), L("logins_30d", "gte", 10)]}),
    (
        "top mrr not onboarding",
        {"all": [{"not": L("lifecycle_stage", "eq", "ONBOARDING")}, L("mrr", "gte", 1950)]},
    ),
]

FILL = """
insert into analytics.dim_customers (customer_id, tenant_id, email_domain, company, industry, country, tags,
    lifecycle_stage, health_trend, health_risk_level, company_size, mrr, arr, total_revenue, won_deals, open_deals,
    open_pipeline_value, tickets_total, open_tickets, tickets_90d, avg_csat, conversations_total, logins_30d,
    feature_events_90d, active_users_90d, days_since_last_usage, health_score, became_customer_at,
    churned_at, created_at, last_won_at, last_ticket_at, last_conversation_at)
select id, tenant_id, split_part(email, '@', 2), company, industry, country,
    case when n % 50 = 0 then array['vip'] else array[]::text[] end,
    lifecycle_stage::text,
    (array['improving', 'stable', 'declining'])[1 + n % 3],
    (array['low', 'medium', 'high', 'critical'])[1 + (n / 7) % 4],
    company_size, mrr, mrr * 12, mrr * (n % 30), n % 4, n % 3, (n % 3) * 1000.0, n % 20, n % 4, n % 9,
    1 + (n % 5), n % 15, n % 40, n % 300, n % 12, n % 60, (n * 37) % 101,
    became_customer_at, churned_at, created_at, became_customer_at, created_at, created_at
from (select c.*, row_number() over () as n from crm.customers c) as src
"""

# 1% of the customers change between two recalculations (what a dbt run between two scheduled
# recalculations brings): MRR moves, some go at risk, some churn
CHANGE = """
update analytics.dim_customers
set mrr = mrr + 700, lifecycle_stage = (array['ACTIVE', 'AT_RISK', 'CHURNED'])[1 + (company_size % 3)]
where ('x' || substr(md5(customer_id::text), 1, 8))::bit(32)::int % 100 = 0
"""


def build(url: str, customers: int) -> str:
    tenant = str(uuid.uuid4())
    cols = ", ".join(f'"{f.name}" {PG[f.kind]}' for f in FIELDS.values())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into crm.tenants (id, slug, name) values (%s, 'bench', 'Bench')", (tenant,))
        conn.execute(
            """
            insert into crm.customers (tenant_id, email, company, industry, company_size, country, lifecycle_stage,
                                       became_customer_at, churned_at, mrr, created_at)
            select %s, 'c' || g || '@bench.example',
                   (array['Acme', 'Globex', 'Initech', 'Umbrella', 'Stark'])[1 + g %% 5]
                       || case when g %% 7 = 0 then ' Group' else ' Inc' end,
                   (array['Software', 'Financial Services', 'Retail', 'Healthcare', 'Manufacturing'])[1 + g %% 5],
                   ((g::bigint * 7919) %% 5000)::integer,
                   (array['Germany', 'France', 'United States', 'Japan', 'Brazil', 'Spain'])[1 + g %% 6],
                   (array['PROSPECT', 'ONBOARDING', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'AT_RISK', 'CHURNED'])[1 + g %% 7]
                       ::crm.customer_stage,
                   now() - (g %% 700) * interval '1 day',
                   case when g %% 7 = 6 then now() - (g %% 300) * interval '1 day' end,
                   ((g * 31) %% 2000)::numeric(18, 2),
                   now() - (g %% 730) * interval '1 day'
            from generate_series(1, %s) as g""",
            (tenant, customers),
        )
        conn.execute(
            f"create table analytics.dim_customers (customer_id uuid primary key, tenant_id uuid not null, {cols})"
        )
        conn.execute(FILL)
        conn.execute("analyze crm.customers")
        conn.execute("analyze analytics.dim_customers")
        for name, criteria in SEGMENTS:
            validate_criteria(criteria)
            conn.execute(
                "insert into crm.customer_segments (tenant_id, name, criteria) values (%s, %s, %s)",
                (tenant, name, Jsonb(criteria)),
            )
    return tenant


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    admin = libpq_url()
    name = f"crm_bench_segments_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(admin, name)
    try:
        from crm import migrate

        migrate.upgrade(url)
        t0 = time.perf_counter()
        build(url, a.customers)
        print(f"built {a.customers} customers in {time.perf_counter() - t0:.1f}s")
        engine = make_engine(url)
        t0 = time.perf_counter()
        first = recalculate_all(engine)
        seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        recalculate_all(engine)
        steady = time.perf_counter() - t0
        with psycopg.connect(url, autocommit=True) as conn:
            changed_customers = conn.execute(CHANGE).rowcount
        t0 = time.perf_counter()
        changed = recalculate_all(engine)
        changed_seconds = time.perf_counter() - t0
        engine.dispose()
        failed = [r.name for r in first if not r.ok]
        result = {
            "segments": len(first),
            "customers": a.customers,
            "seconds": round(seconds, 2),
            "steady_seconds": round(steady, 2),
            "changed_seconds": round(changed_seconds, 2),
            "changed_customers": changed_customers,
            "changed_memberships": {
                "added": sum(r.added for r in changed),
                "removed": sum(r.removed for r in changed),
            },
            "memberships": sum(r.customer_count for r in first),
            "per_segment": {r.name: r.customer_count for r in first},
            "failed": failed,
            "target_s": 15,
            "machine": f"{platform.node()} ({os.cpu_count()} cpus, Postgres shared with other work)",
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    finally:
        if not a.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
