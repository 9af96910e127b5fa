"""CDNOW through the warehouse, the way a user's data gets there: `crm import transactions`
into a tenant of a fresh database (its clock set to the data's end), the import's events
relayed from the outbox to the broker and landed by a real lander, then the marts the forecast
and the customer-base model read built by dbt, and read back.

Runs on the configured server and broker (DATABASE_URL / KAFKA_BOOTSTRAP, or the local stack
from `crm up`): the embedded default unless told otherwise. Topics get a prefix of their own
and the lander a consumer group of its own, so a running stack is not disturbed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import polars as pl
import psycopg

TENANT = "cdnow"
COLUMNS = {
    "customer": "customer_id",
    "timestamp": "date",
    "amount": "dollar_value",
    "quantity": "number_of_cds",
}
MARTS = "+ml_series__revenue_daily +ml_series__customer_purchases"
LAND_TIMEOUT_S = 900


def relay(url: str, bootstrap: str, prefix: str) -> int:
    """Publish every outbox row (the import's contract events) to the prefixed topics."""
    from api.outbox import OutboxRelay

    async def run() -> int:
        async with OutboxRelay(url, bootstrap, batch=5_000, topic_prefix=prefix) as r:
            return await r.drain()

    return asyncio.run(run())


def relay_and_land(url: str, bootstrap: str, prefix: str, expected: int, log: Path) -> dict[str, Any]:
    """Start a lander worker on the prefixed topics, publish every outbox row (the import's
    contract events) to them, and wait (bounded) until raw.crm_changes holds `expected`."""
    from crm.events import TOPICS, ensure_topics

    asyncio.run(ensure_topics(bootstrap, topics=[prefix + t for t in TOPICS]))
    env = dict(
        os.environ,
        DATABASE_URL=url,
        KAFKA_BOOTSTRAP=bootstrap,
        LANDER_TOPIC_PREFIX=prefix,
        LANDER_APP_ID=f"bench-real-{prefix.strip('.')}",
        PYTHONUNBUFFERED="1",
    )
    faust = str(Path(sys.executable).with_name("faust"))
    out: dict[str, Any] = {}
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [faust, "-A", "streaming.app", "worker", "-l", "info", "--web-port", str(_free_port())],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            t0 = time.perf_counter()
            while "Worker]: Ready" not in log.read_text(errors="replace"):
                if proc.poll() is not None or time.perf_counter() - t0 > 180:
                    raise SystemExit(f"the lander did not start; its log: {log}")
                time.sleep(0.5)
            t0 = time.perf_counter()
            out["relayed"] = relay(url, bootstrap, prefix)
            out["relay_s"] = round(time.perf_counter() - t0, 2)
            landed = 0
            while time.perf_counter() - t0 < LAND_TIMEOUT_S and proc.poll() is None:
                with psycopg.connect(url) as conn:
                    row = conn.execute("select count(*) from raw.crm_changes").fetchone()
                landed = int(row[0]) if row else 0
                if landed >= expected:
                    break
                time.sleep(1)
            out["landed"] = landed
            out["relay_and_land_s"] = round(time.perf_counter() - t0, 2)
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    if out["landed"] < expected:
        raise SystemExit(f"the lander landed {out['landed']} of {expected} events; its log: {log}")
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_marts(url: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(series, purchases) of the tenant as the forecaster reads them from the marts."""
    with psycopg.connect(url) as conn:
        series = conn.execute(
            "select s.day, s.won_revenue::float8, s.won_deals from analytics.ml_series__revenue_daily s"
            " join crm.tenants t on t.id = s.tenant_id where t.slug = %s order by s.day",
            (TENANT,),
        ).fetchall()
        purchases = conn.execute(
            "select p.customer_id::text, p.day, p.amount::float8, p.deals from analytics.ml_series__customer_purchases p"
            " join crm.tenants t on t.id = p.tenant_id where t.slug = %s order by p.day, p.customer_id",
            (TENANT,),
        ).fetchall()
    return (
        pl.DataFrame(series, schema=["day", "won_revenue", "won_deals"], orient="row"),
        pl.DataFrame(purchases, schema=["customer_id", "day", "amount", "deals"], orient="row"),
    )


def through_warehouse() -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Import, relay, land, build; returns the marts' (series, purchases) and the figures."""
    from crm.settings import get_settings
    from integrations.imports.run import import_files
    from integrations.imports.samples import cdnow_csv
    from warehouse.dbt import run_dbt

    bootstrap = get_settings().kafka_bootstrap
    if not bootstrap:
        raise SystemExit("no broker: run `crm up` (the local stack) or set KAFKA_BOOTSTRAP")
    figures: dict[str, Any] = {}
    from bench.server import server_info
    from crm.schema.testing import scratch_database

    with tempfile.TemporaryDirectory() as tmp, scratch_database("crm_bench_real") as url:
        server = server_info(url)
        folder = Path(tmp)
        csv = cdnow_csv(folder)
        t0 = time.perf_counter()
        result = import_files(
            "transactions",
            [csv],
            TENANT,
            columns=COLUMNS,
            create_tenant="CDNOW music store",
            url=url,
            clock="last",
        )
        figures["import_s"] = round(time.perf_counter() - t0, 2)
        figures["import_counts"] = result.counts
        figures["tenant_clock"] = result.clock.isoformat() if result.clock else None
        with psycopg.connect(url) as conn:
            row = conn.execute("select count(*) from crm.outbox").fetchone()
        events = int(row[0]) if row else 0
        prefix = f"benchreal{uuid.uuid4().hex[:6]}."
        figures.update(relay_and_land(url, bootstrap, prefix, events, folder / "lander.log"))
        t0 = time.perf_counter()
        run_dbt(
            ["build", "--select", MARTS, "--quiet"],
            url,
            target_path=folder / "target",
            log_path=folder / "logs",
        )
        figures["dbt_s"] = round(time.perf_counter() - t0, 2)
        series, purchases = read_marts(url)
        figures["server"] = server
        figures["broker"] = bootstrap
    print(
        f"CDNOW through the warehouse: import {figures['import_s']} s, relay {figures['relay_s']} s,"
        f" relayed and landed {figures['relay_and_land_s']} s ({figures['landed']} events), dbt {figures['dbt_s']} s",
        flush=True,
    )
    return series, purchases, figures
