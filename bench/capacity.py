"""`make bench-capacity`: a capacity model from measured costs -> bench/results/capacity.json.

Measured here, on a scratch database of the server the stack uses (the embedded default, or
DATABASE_URL): the bytes each landed event keeps in `raw.*` (heap, TOAST and primary key), from
the scale-S world written to raw; the bytes each API write keeps (the record, its audit_log row
and its outbox row, written as the API writes them) from 2,000 lead creates; and the bytes the
operational and analytics schemas hold per raw event once dbt has built the marts.

Taken from the latest benchmark results, each cited with when it was measured: CPU per landed
event (bench/results/ingest.json: the worker's and Postgres' microseconds), CPU per API write
(api.json), the dbt full and incremental builds at scale M (dbt.json) and the scoring run
(scoring.json).

The model scales the M world (its preset: about 4.2M events over two years, 100k leads) by 1,
10 and 100: events and writes per day, the peak rates (PEAK_FACTOR times the daily mean), the
cores, partitions and disk each needs, and for each resource the scale at which one 2-core
machine stops being enough. Batch work is taken as linear in rows (the dbt figures at S, M and
L so far grew about linearly).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bench.ingest import drop_database, scratch_database
from bench.server import server_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WRITES = 2_000
PEAK_FACTOR = 10.0
"""Peak over the mean rate of a day (business hours and bursts such as imports)."""
UTILISATION = 0.6
"""Share of a core a sizing counts on (headroom for bursts, vacuum and failover)."""
MACHINE_CORES = 2
REFRESH_WINDOW_S = 900.0
"""The marts' scheduled rebuild (integration_marts every 15 minutes) must fit in its window."""
FRESHNESS_S = 60.0
"""A write reaches the marts within a minute (the freshness target)."""
EVENTS_PER_PARTITION_S = 5_000
"""What one landing worker sustains per partition with room to spare (ingest.json: ~65k/s
for one worker over 4 partitions on an idle machine)."""


def log(msg: str) -> None:
    print(f"[capacity] {msg}", flush=True)


def _load(name: str) -> dict[str, Any]:
    return json.loads((RESULTS / f"{name}.json").read_text())


def _sizes(conn: psycopg.Connection, schema: str) -> tuple[int, int]:
    """(bytes, rows) of every table of `schema` with its TOAST and indexes."""
    row = conn.execute(
        """select coalesce(sum(pg_total_relation_size(c.oid)), 0), coalesce(sum(s.n_live_tup), 0)
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
           left join pg_stat_user_tables s on s.relid = c.oid
           where n.nspname = %s and c.relkind = 'r'""",
        (schema,),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _landed_events(conn: psycopg.Connection) -> int:
    """Events in the landing tables (each counted once through its partitioned parent)."""
    from crm.schema.landing import LANDING_TABLES

    total = 0
    for table in LANDING_TABLES.values():
        got = conn.execute(f'select count(*) from raw."{table}"').fetchone()
        total += int(got[0]) if got else 0
    return total


@dataclass
class _System:
    tenant_id: uuid.UUID
    actor_id: uuid.UUID | None = None
    actor_type: str = "system"


def measure_write_bytes(url: str) -> float:
    """Bytes kept per lead create: the lead, its audit_log row and its outbox row."""
    from crm.changes import change_rows

    tables = ("leads", "audit_log", "outbox")
    with psycopg.connect(url, autocommit=True) as conn:
        tenant = conn.execute(
            "insert into crm.tenants (slug, name) values (%s, 'Capacity') returning id",
            (f"capacity-{uuid.uuid4().hex[:6]}",),
        ).fetchone()[0]  # type: ignore[index]
        conn.execute("vacuum analyze crm.leads, crm.audit_log, crm.outbox")

        def size() -> int:
            got = conn.execute(
                "select sum(pg_total_relation_size(('crm.' || t)::regclass)) from unnest(%s::text[]) t",
                (list(tables),),
            ).fetchone()
            return int(got[0]) if got else 0

        before = size()
        actor = _System(tenant)
        with conn.transaction():
            for i in range(WRITES):
                lead = conn.execute(
                    "insert into crm.leads (tenant_id, email, first_name, last_name, company, source)"
                    " values (%s, %s, 'Ada', 'Lovelace', 'Analytical Engines', 'website')"
                    " returning *",
                    (tenant, f"lead{i}@capacity.test"),
                ).fetchone()
                assert lead is not None
                cols = [d.name for d in conn.execute("select * from crm.leads limit 0").description or []]
                after = dict(zip(cols, lead, strict=True))
                for table, row in change_rows(
                    actor, table="leads", entity="lead", action="created", entity_id=after["id"],
                    before=None, after=after,
                ):  # fmt: skip
                    keys = list(row)
                    conn.execute(
                        f"insert into crm.{table} ({', '.join(keys)}) values ({', '.join(['%s'] * len(keys))})",
                        [Jsonb(v) if isinstance(v, dict | list) else v for v in row.values()],
                    )
        conn.execute("vacuum analyze crm.leads, crm.audit_log, crm.outbox")
        return (size() - before) / WRITES


def measure(url: str, marts: bool) -> dict[str, Any]:
    from sim import seed_world

    t0 = time.monotonic()
    summary = seed_world(scale="S", seed=42, database_url=url, bootstrap=None, sink="raw", progress=False)
    log(f"scale S written to raw in {time.monotonic() - t0:.0f} s")
    out: dict[str, Any] = {"world": "S", "seed": 42}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("vacuum analyze")
        raw_bytes, _ = _sizes(conn, "raw")
        raw_rows = _landed_events(conn)
        crm_bytes, _ = _sizes(conn, "crm")
    out |= {
        "raw_events": raw_rows,
        "raw_bytes": raw_bytes,
        "bytes_per_event_raw": round(raw_bytes / raw_rows, 1),
        "crm_bytes": crm_bytes,
        "crm_bytes_per_event": round(crm_bytes / raw_rows, 1),
        "world_summary": {k: v for k, v in vars(summary).items() if isinstance(v, int | float | str)},
    }
    if marts:
        folder = Path(tempfile.mkdtemp(prefix="crm-capacity-dbt-"))
        t0 = time.monotonic()
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "crm"), "dbt", "run", "--exclude", "source:ml+"],
            env={**os.environ, "DATABASE_URL": url, "DBT_TARGET_PATH": str(folder / "target")},
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        log(f"marts built in {time.monotonic() - t0:.0f} s")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze")
            analytics_bytes, _ = _sizes(conn, "analytics")
        out |= {
            "analytics_bytes": analytics_bytes,
            "analytics_bytes_per_event": round(analytics_bytes / raw_rows, 1),
        }
    out["bytes_per_api_write"] = round(measure_write_bytes(url), 1)
    return out


def model(measured: dict[str, Any]) -> dict[str, Any]:
    from sim.plan import PRESETS

    m = PRESETS["M"]
    ingest, api, dbt, scoring = _load("ingest"), _load("api"), _load("dbt"), _load("scoring")
    event_cpu_us = ingest["worker_cpu_us_per_event"] + ingest["postgres_cpu_us_per_event"]
    write_cpu_us = api["cpu_us_per_request"]["api"] + api["cpu_us_per_request"]["postgres"]
    events_m = m.expected_events
    days = m.history_days
    # people's writes: leads, deals and the activities logged on them (the rest are events)
    writes_m = m.leads + m.deals + m.lead_activities
    per_event = measured["bytes_per_event_raw"] + measured["crm_bytes_per_event"]
    per_event += measured.get("analytics_bytes_per_event", 0.0)
    rows = []
    for k in (1, 10, 100):
        ev_day = events_m * k / days
        wr_day = writes_m * k / days
        peak_ev = ev_day / 86_400 * PEAK_FACTOR
        peak_wr = wr_day / 86_400 * PEAK_FACTOR
        lander_cores = peak_ev * event_cpu_us / 1e6 / UTILISATION
        api_cores = peak_wr * write_cpu_us / 1e6 / UTILISATION
        disk_gb = (events_m * k * per_event + writes_m * k * measured["bytes_per_api_write"]) / 1e9
        full_s = dbt["full_build_s"] * k
        incr_s = dbt["incremental_s"] * k
        score_s = scoring["seconds"] * (m.leads * k) / scoring["leads"]
        rows.append(
            {
                "scale": f"{k}x M",
                "events_stored": events_m * k,
                "events_per_day": round(ev_day),
                "peak_events_per_s": round(peak_ev, 1),
                "writes_per_day": round(wr_day),
                "peak_writes_per_s": round(peak_wr, 2),
                "lander_cores": round(lander_cores, 3),
                "api_cores": round(api_cores, 3),
                "kafka_partitions": max(
                    4, 2 ** math.ceil(math.log2(max(1.0, peak_ev / EVENTS_PER_PARTITION_S)))
                ),
                "disk_gb": round(disk_gb, 1),
                "disk_gb_with_replica": round(disk_gb * 2, 1),
                "dbt_full_build_s": round(full_s),
                "dbt_incremental_s": round(incr_s, 1),
                "lead_scoring_s": round(score_s, 1),
            }
        )
    # the scale at which each resource outgrows one 2-core machine
    limits = {
        "dbt incremental build > the 60 s freshness target": FRESHNESS_S / dbt["incremental_s"],
        "dbt full build > the 15-minute refresh window": REFRESH_WINDOW_S / dbt["full_build_s"],
        "lead scoring > the 15-minute refresh window": REFRESH_WINDOW_S
        / (scoring["seconds"] * m.leads / scoring["leads"]),
        "landing at peak > 2 cores": MACHINE_CORES
        / (events_m / days / 86_400 * PEAK_FACTOR * event_cpu_us / 1e6 / UTILISATION),
        "API writes at peak > 2 cores": MACHINE_CORES
        / (writes_m / days / 86_400 * PEAK_FACTOR * write_cpu_us / 1e6 / UTILISATION),
        "disk > 1 TB": 1e12 / (events_m * per_event + writes_m * measured["bytes_per_api_write"]),
    }
    first = min(limits, key=lambda name: limits[name])
    return {
        "inputs": {
            "m_preset": {"events": events_m, "history_days": days, "leads": m.leads, "deals": m.deals},
            "event_cpu_us": round(event_cpu_us, 1),
            "event_cpu_from": f"bench/results/ingest.json ({ingest.get('measured_at')})",
            "write_cpu_us": write_cpu_us,
            "write_cpu_from": f"bench/results/api.json ({api.get('at')})",
            "dbt_full_build_s_at_m": dbt["full_build_s"],
            "dbt_incremental_s_at_m": dbt["incremental_s"],
            "dbt_from": f"bench/results/dbt.json ({dbt.get('measured_at')})",
            "scoring_s_per_million_leads": scoring["seconds"] * 1e6 / scoring["leads"],
            "bytes_per_event_all_schemas": round(per_event, 1),
            "peak_factor": PEAK_FACTOR,
            "utilisation": UTILISATION,
        },
        "scales": rows,
        "outgrows_one_machine_at": {
            name: round(v, 1) for name, v in sorted(limits.items(), key=lambda kv: kv[1])
        },
        "first_bottleneck": {"what": first, "at_scale": round(limits[first], 1)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-marts", action="store_true", help="skip the dbt build (no analytics bytes)")
    ap.add_argument(
        "--model-only",
        action="store_true",
        help="keep the bytes measured last time (capacity.json), redo the model from the other results",
    )
    args = ap.parse_args()
    if args.model_only:
        measured = json.loads((RESULTS / "capacity.json").read_text())["measured"]
        _write(measured)
        return
    from crm.settings import get_settings

    server = get_settings().database_url
    if not server:
        raise SystemExit('DATABASE_URL is not set: run `crm up` (or eval "$(crm env)") first')
    url = scratch_database(server)
    try:
        measured = measure(url, marts=not args.no_marts)
        measured["server"] = server_info(url)
        measured["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    finally:
        drop_database(url)
    _write(measured)


def _write(measured: dict[str, Any]) -> None:
    out = {
        "measured": measured,
        **model(measured),
        "modelled_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "capacity.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    for row in out["scales"]:
        log(json.dumps(row))
    log(f"first bottleneck: {out['first_bottleneck']}")


if __name__ == "__main__":
    main()
