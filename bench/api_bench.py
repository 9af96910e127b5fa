"""`make bench-api`: create-lead at concurrency 32 for 30 s against the API started as
documented (`crm api --workers 2`: uvicorn, uvloop, httptools); writes bench/results/api.json.

The load generator is a minimal keep-alive HTTP/1.1 client on uvloop (one connection per
concurrent client, requests pre-rendered) so that it takes as little of the shared CPU as
possible: it runs on the same 2 cores as the API and Postgres. Every request is a real
authenticated create: JWT check, rate-limit hit (Redis when REDIS_URL is set), one Postgres
transaction with the lead, audit_log and outbox rows.

The rate limit is raised for the run (API_RATE_LIMIT) so the bench measures throughput, not
the limiter's refusals. Figures on a shared machine are noisy: run it on an idle one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import orjson
import psycopg

from crm.db import libpq_url
from crm.security import hash_password
from crm.stack.procs import free_port

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "api.json"


def ensure_bench_user(slug: str = "bench") -> tuple[uuid.UUID, uuid.UUID]:
    with psycopg.connect(libpq_url(), autocommit=True) as conn:
        row = conn.execute("SELECT id FROM crm.tenants WHERE slug = %s", (slug,)).fetchone()
        tid = (
            row[0]
            if row
            else conn.execute(
                "INSERT INTO crm.tenants (slug, name) VALUES (%s, 'Benchmark') RETURNING id", (slug,)
            ).fetchone()[0]
        )
        row = conn.execute(
            "SELECT id FROM crm.users WHERE tenant_id = %s AND email = 'bench@bench.test'", (tid,)
        ).fetchone()
        uid = (
            row[0]
            if row
            else conn.execute(
                "INSERT INTO crm.users (tenant_id, email, role, password_hash) VALUES (%s, 'bench@bench.test', 'admin', %s)"
                " RETURNING id",
                (tid, hash_password(uuid.uuid4().hex)),
            ).fetchone()[0]
        )
    return tid, uid


async def _client(
    host: str, port: int, token: str, stop_at: float, lat: list[float], errors: list[str], cid: int
):
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"POST /leads HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
    ).encode()
    n = 0
    try:
        while time.perf_counter() < stop_at:
            n += 1
            body = orjson.dumps(
                {
                    "email": f"c{cid}-{n}@bench.test",
                    "source": "bench",
                    "first_name": "Bench",
                    "company": "Load Inc",
                    "tags": ["bench"],
                }
            )
            t0 = time.perf_counter()
            writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            status_line = await reader.readuntil(b"\r\n")
            length = 0
            while True:
                line = await reader.readuntil(b"\r\n")
                if line == b"\r\n":
                    break
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            payload = await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if status_line[9:12] != b"201":
                errors.append(status_line.decode().strip() + " " + payload[:200].decode(errors="replace"))
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        errors.append(f"connection {cid}: {exc!r}")
    finally:
        writer.close()


async def load(host: str, port: int, token: str, concurrency: int, seconds: float) -> dict:
    # warm-up: connections, pools, caches
    warm_lat: list[float] = []
    warm_err: list[str] = []
    stop = time.perf_counter() + 2
    await asyncio.gather(
        *(_client(host, port, token, stop, warm_lat, warm_err, -i - 1) for i in range(concurrency))
    )
    lat: list[float] = []
    errors: list[str] = []
    t0 = time.perf_counter()
    stop = t0 + seconds
    await asyncio.gather(*(_client(host, port, token, stop, lat, errors, i) for i in range(concurrency)))
    elapsed = time.perf_counter() - t0
    lat_ms = sorted(x * 1000 for x in lat)
    q = statistics.quantiles(lat_ms, n=100) if len(lat_ms) > 100 else [float("nan")] * 99
    ok = len(lat_ms) - len(errors)
    return {
        "requests": len(lat_ms),
        "writes": ok,
        "errors": len(errors),
        "error_samples": errors[:5],
        "seconds": round(elapsed, 2),
        "writes_per_s": round(ok / elapsed, 1),
        "p50_ms": round(q[49], 2),
        "p90_ms": round(q[89], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(lat_ms[-1], 2) if lat_ms else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description="create-lead benchmark of the write API")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--url", default=None, help="bench an API already running here instead of starting one")
    args = ap.parse_args()

    from api.admin import uvicorn_argv
    from api.core.auth import mint_token
    from api.core.config import get_api_settings

    tid, uid = ensure_bench_user()
    token = mint_token(get_api_settings(), uid, tid, ["admin"], ttl_s=3600)
    proc = None
    if args.url:
        base = args.url.rstrip("/")
    else:
        port = free_port()
        env = os.environ | {"API_RATE_LIMIT": "100000000"}
        log = (ROOT / "bench" / "results" / "api-bench-server.log").open("wb")
        proc = subprocess.Popen(
            uvicorn_argv("127.0.0.1", port, args.workers),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{base}/health", timeout=2).json()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or (proc and proc.poll() is not None):
                    raise SystemExit("API did not start (see bench/results/api-bench-server.log)") from None
                time.sleep(0.3)
        host, port_s = base.split("//", 1)[1].split(":")
        load_before = os.getloadavg()[0]
        try:
            import uvloop

            result = uvloop.run(_run(host, int(port_s), token, args.concurrency, args.seconds))
        except ImportError:  # pragma: no cover
            result = asyncio.run(_run(host, int(port_s), token, args.concurrency, args.seconds))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
    result |= {
        "benchmark": "POST /leads (create lead: lead + audit_log + outbox in one transaction)",
        "concurrency": args.concurrency,
        "api_workers": args.workers,
        "rate_limit_backend": health["rate_limit_backend"],
        "cpus": os.cpu_count(),
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "machine": platform.machine(),
        "target": {"writes_per_s": 1000, "p99_ms": 50, "errors": 0},
        "note": "load generator, API and Postgres share the same cores; the machine may be shared with others",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


async def _run(host: str, port: int, token: str, concurrency: int, seconds: float) -> dict:
    return await load(host, port, token, concurrency, seconds)


if __name__ == "__main__":
    main()
