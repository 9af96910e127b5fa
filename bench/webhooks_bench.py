"""Webhook delivery throughput and latency, end to end: contract events written to
`crm.outbox` the way the API writes them (audit row and outbox row per change), the deliverer
(`crm webhooks deliver`) running as its own process, and a loopback receiver (its own process)
verifying every request with standardwebhooks' `Webhook.verify` and counting by webhook-id.

Two runs on a fresh database of the configured server (DATABASE_URL):
- burst: N events enqueued at once; `deliveries_per_s` = N / (first enqueue -> last arrival);
- steady: events enqueued at a steady rate (600/s for 30 s); `p99_ms` (enqueue -> delivered,
  the outbox row's time to its first arrival at the receiver) is this run's.
`lost` and `duplicated` count both runs. Writes bench/results/webhooks.json; asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "webhooks.json"

INSERT_AUDIT = (
    "INSERT INTO crm.audit_log (tenant_id, actor_id, actor_type, action, entity, entity_id, before, after,"
    " request_id, occurred_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
AUDIT_COLUMNS = (
    "tenant_id",
    "actor_id",
    "actor_type",
    "action",
    "entity",
    "entity_id",
    "before",
    "after",
    "request_id",
    "occurred_at",
)
INSERT_OUTBOX = (
    "INSERT INTO crm.outbox (event_id, tenant_id, topic, key, event_type, payload, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


@dataclass(frozen=True)
class System:
    tenant_id: uuid.UUID
    actor_id: uuid.UUID | None = None
    actor_type: str = "user"


# --- the receiver (its own process) ---------------------------------------------------------


def serve_receiver(port: int, secret: str) -> None:
    """Verify each request, note the first arrival time of each webhook-id and how many times
    it came; GET /report answers the tallies."""
    from aiohttp import web
    from standardwebhooks import Webhook, WebhookVerificationError

    wh = Webhook(secret)
    first: dict[str, tuple[float, str]] = {}
    count: dict[str, int] = {}
    forged = 0

    async def hook(request: web.Request) -> web.Response:
        nonlocal forged
        body = await request.read()
        try:
            event = wh.verify(body, dict(request.headers))
        except WebhookVerificationError:
            forged += 1
            return web.Response(status=401)
        msg = request.headers["webhook-id"]
        count[msg] = count.get(msg, 0) + 1
        first.setdefault(msg, (time.time(), event["event_id"]))
        return web.Response(status=204)

    async def report(_: web.Request) -> web.Response:
        return web.json_response({"first": first, "count": count, "forged": forged})

    app = web.Application(client_max_size=2**20)
    app.add_routes([web.post("/hook", hook), web.get("/report", report)])
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- the bench ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _events(tenant: uuid.UUID, n: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[str]]:
    """n lead creations as the write API records them: (audit rows, outbox rows, event ids)."""
    from psycopg.types.json import Jsonb

    from crm.changes import change_rows

    audits, outbox, ids = [], [], []
    actor = System(tenant, uuid.uuid4())
    for _ in range(n):
        lead = uuid.uuid4()
        at = datetime.now(UTC)
        after = {
            "id": lead,
            "tenant_id": tenant,
            "email": f"{lead.hex[:12]}@example.com",
            "source": "website",
        }
        rows = dict(
            change_rows(
                actor,
                table="leads",
                entity="lead",
                action="created",
                entity_id=lead,
                before=None,
                after=after,
                at=at,
            )
        )
        a, o = rows["audit_log"], rows["outbox"]
        audits.append(tuple(Jsonb(a[k]) if k == "after" else a[k] for k in AUDIT_COLUMNS))
        outbox.append((o["event_id"], tenant, o["topic"], o["key"], o["event_type"], Jsonb(o["payload"]), at))
        ids.append(str(o["event_id"]))
    return audits, outbox, ids


def enqueue(conn: psycopg.Connection[Any], tenant: uuid.UUID, n: int) -> list[str]:
    """Write n changes in one transaction; their event ids."""
    audits, outbox, ids = _events(tenant, n)
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(INSERT_AUDIT, audits)
        cur.executemany(INSERT_OUTBOX, outbox)
    return ids


def burst(
    conn: psycopg.Connection[Any], tenant: uuid.UUID, n: int, chunk: int = 1000
) -> tuple[list[str], float]:
    t0 = time.time()
    ids: list[str] = []
    while len(ids) < n:
        ids += enqueue(conn, tenant, min(chunk, n - len(ids)))
    return ids, t0


def steady(
    conn: psycopg.Connection[Any], tenant: uuid.UUID, rate: float, seconds: float
) -> tuple[list[str], float]:
    """Enqueue `rate` events a second, in a transaction every 20 ms (as many API writers would)."""
    t0 = time.time()
    ids: list[str] = []
    while (elapsed := time.time() - t0) < seconds:
        due = int(elapsed * rate) - len(ids)
        if due > 0:
            ids += enqueue(conn, tenant, due)
        time.sleep(0.02)
    return ids, t0


def wait_for(receiver: str, ids: list[str], timeout_s: float) -> dict[str, Any]:
    want = set(ids)
    deadline = time.time() + timeout_s
    while True:
        report = httpx.get(f"{receiver}/report", timeout=30).json()
        got = {e for _, e in report["first"].values()}
        if want <= got or time.time() > deadline:
            return report
        time.sleep(0.5)


def figures(report: dict[str, Any], ids: list[str], t0: float, occurred: dict[str, float]) -> dict[str, Any]:
    """Throughput, latency percentiles, lost and duplicated for the events `ids`."""
    want = set(ids)
    mine = {m: v for m, v in report["first"].items() if v[1] in want}
    lat = sorted((t - occurred[e]) * 1000 for t, e in mine.values() if e in occurred)
    last = max((t for t, _ in mine.values()), default=t0)

    def pct(p: float) -> float | None:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None

    received = {e for _, e in mine.values()}
    return {
        "events": len(ids),
        "delivered": len(received),
        "seconds": round(last - t0, 2),
        "deliveries_per_s": round(len(received) / (last - t0), 1) if last > t0 else None,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": round(lat[-1], 1) if lat else None,
        "lost": len(want - received),
        "duplicated": sum(report["count"][m] - 1 for m in mine),
    }


def occurred_at(url: str, ids: list[str]) -> dict[str, float]:
    """Each event's enqueue time (its outbox row's created_at)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT event_id::text, extract(epoch FROM created_at) FROM crm.outbox WHERE event_id = ANY(%s::uuid[])",
            (ids,),
        ).fetchall()
    return {e: float(t) for e, t in rows}


def setup(url: str, receiver_url: str, secret: str) -> uuid.UUID:
    from integrations.webhooks.crypto import encrypt
    from integrations.webhooks.outbound import SECRET_PURPOSE, subscription_cursor

    tenant, sub = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO crm.tenants (id, slug, name) VALUES (%s, 'bench-webhooks', 'bench')", (tenant,)
        )
        conn.execute(
            "INSERT INTO crm.webhook_subscriptions (id, tenant_id, url, event_types, secret_enc)"
            " VALUES (%s, %s, %s, %s, %s)",
            (sub, tenant, receiver_url, ["crm.lead.*"], encrypt(secret, tenant, SECRET_PURPOSE, url)),
        )
        subscription_cursor(conn, tenant, sub)
    return tenant


def run(args: argparse.Namespace) -> dict[str, Any]:
    from bench.server import server_info
    from crm.schema.testing import scratch_database

    os.environ.setdefault("WEBHOOK_SECRET_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    os.environ["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = "1"
    from integrations.webhooks.crypto import new_secret

    secret, port = new_secret(), _free_port()
    receiver_url = f"http://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    with scratch_database("bench_webhooks") as url:
        try:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.webhooks_bench", "receiver", str(port), secret], cwd=ROOT
                )
            )
            tenant = setup(url, f"{receiver_url}/hook", secret)
            env = dict(os.environ, DATABASE_URL=url)
            crm = str(Path(sys.executable).with_name("crm"))
            procs += [
                subprocess.Popen([crm, "webhooks", "deliver", "--interval", "0.05"], env=env, cwd=ROOT)
                for _ in range(args.workers)
            ]
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    httpx.get(f"{receiver_url}/report", timeout=2)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            with psycopg.connect(url, autocommit=True) as conn:
                ids_b, t_b = burst(conn, tenant, args.events)
                rep_b = wait_for(receiver_url, ids_b, args.timeout)
                ids_s, t_s = steady(conn, tenant, args.rate, args.seconds)
                rep = wait_for(receiver_url, ids_s, args.timeout)
            b = figures(rep, ids_b, t_b, occurred_at(url, ids_b))
            st = figures(rep, ids_s, t_s, occurred_at(url, ids_s))
            result = {
                "deliveries_per_s": b["deliveries_per_s"],
                "p99_ms": st["p99_ms"],
                "lost": b["lost"] + st["lost"],
                "duplicated": b["duplicated"] + st["duplicated"],
                "forged": rep["forged"],
                "targets": {"deliveries_per_s": 500, "p99_ms": 1000, "lost": 0, "duplicated": 0},
                "burst": b
                | {"drained_after_enqueue_s": round(max(t for t, _ in rep_b["first"].values()) - t_b, 2)},
                "steady": st | {"rate_per_s": args.rate, "enqueue_seconds": args.seconds},
                "deliverer_processes": args.workers,
                "deliverer": {
                    k: os.environ.get(k, "default")
                    for k in ("WEBHOOK_BATCH", "WEBHOOK_CONCURRENCY", "WEBHOOK_PLAN_BATCH")
                },
                "host": {"cpus": os.cpu_count()},
                "server": server_info(url),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "receiver":
        serve_receiver(int(sys.argv[2]), sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=20_000, help="events of the burst run")
    ap.add_argument("--rate", type=float, default=600.0, help="events a second of the steady run")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the steady run")
    ap.add_argument("--workers", type=int, default=1, help="deliverer processes (they share the queue)")
    ap.add_argument("--timeout", type=float, default=300.0, help="how long to wait for stragglers")
    args = ap.parse_args()
    result = run(args)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("deliveries_per_s", "p99_ms", "lost", "duplicated")}))
    print("burst:", json.dumps(result["burst"]))
    print("steady:", json.dumps(result["steady"]))


if __name__ == "__main__":
    main()
