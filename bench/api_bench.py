"""`make bench-api`: create-lead at concurrency 32 for 30 s against the API started as
documented (`crm api --workers 2`: uvicorn, uvloop, httptools); writes bench/results/api.json.

The load generator runs on the same 2 cores as the API and Postgres, so what it costs per
request is taken from them. It is `wrk` (C; Debian package, `make wrk`) with
bench/api_bench.lua when installed (about 20 us of CPU per request), else the Python fallback
below: a minimal keep-alive HTTP/1.1 client on uvloop, one connection per concurrent client
(about 100 us per request). Both keep 32 requests in flight, each a new lead. Every request
is a real authenticated create: JWT check, rate-limit hit (Redis when REDIS_URL is set), the
lead, audit_log and outbox rows committed before the 201.

Besides throughput and latency the result says where the CPU went, per write: the API
processes, Postgres (every process of the local server), the load generator, and the rest of
the machine (kernel, other programs; from /proc/stat), so a run on a busy machine shows it.

The rate limit is raised for the run (API_RATE_LIMIT) so the bench measures throughput, not
the limiter's refusals. Figures on a shared machine are noisy: run it on an idle one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import orjson
import psutil
import psycopg

from crm.db import libpq_url
from crm.keys import staff
from crm.keys.keyring import keyring
from crm.security import hash_password
from stack.procs import free_port

BENCH_USER = "bench@bench.test"

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "api.json"
LUA = ROOT / "bench" / "api_bench.lua"


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
        ring = keyring(libpq_url())  # the user stored as every writer stores one: sealed, indexed
        found = staff.email_params(BENCH_USER, ring) | {"t": tid}
        row = conn.execute(
            f"SELECT id FROM crm.users u WHERE tenant_id = %(t)s AND {staff.email_match('u')}", found
        ).fetchone()
        if row is None:
            user = staff.seal_row(tid, {"email": BENCH_USER}, ring)
            row = conn.execute(
                "INSERT INTO crm.users (tenant_id, email, email_bidx, role, password_hash)"
                " VALUES (%s, %s, %s, 'admin', %s) RETURNING id",
                (tid, user["email"], user["email_bidx"], hash_password(uuid.uuid4().hex)),
            ).fetchone()
        assert row is not None
        uid = row[0]
    return tid, uid


async def _client(
    host: str, port: int, token: str, stop_at: float, lat: list[float], errors: list[str], cid: str
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
    lat: list[float] = []
    errors: list[str] = []
    t0 = time.perf_counter()
    stop = t0 + seconds
    tag = uuid.uuid4().hex[:8]
    await asyncio.gather(
        *(_client(host, port, token, stop, lat, errors, f"{tag}-{i}") for i in range(concurrency))
    )
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


def run_python(host: str, port: int, token: str, concurrency: int, seconds: float) -> dict:
    try:
        import uvloop

        return uvloop.run(load(host, port, token, concurrency, seconds))
    except ImportError:  # pragma: no cover
        return asyncio.run(load(host, port, token, concurrency, seconds))


def run_wrk(wrk: str, base: str, token: str, concurrency: int, seconds: float) -> dict:
    env = os.environ | {"BENCH_TOKEN": token, "BENCH_RUN": uuid.uuid4().hex[:8]}
    argv = [wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    out = subprocess.run([*argv, "-s", str(LUA), base], env=env, capture_output=True, text=True, check=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    w = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(w[k] for k in w if k.startswith("errors_"))
    elapsed = w["duration_us"] / 1e6
    return {
        "requests": w["requests"],
        "writes": w["requests"] - w["errors_status"],
        "errors": errors,
        "error_samples": [f"{k}: {w[k]}" for k in w if k.startswith("errors_") and w[k]],
        "seconds": round(elapsed, 2),
        "writes_per_s": round((w["requests"] - w["errors_status"]) / elapsed, 1),
        "p50_ms": round(w["p50_us"] / 1000, 2),
        "p90_ms": round(w["p90_us"] / 1000, 2),
        "p99_ms": round(w["p99_us"] / 1000, 2),
        "max_ms": round(w["max_us"] / 1000, 2),
    }


# --- where the CPU went ---------------------------------------------------------------------


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _postgres_procs() -> list[psutil.Process]:
    """Every process of the local Postgres server (the postmaster and its children)."""
    try:
        with psycopg.connect(libpq_url()) as conn:
            backend = psutil.Process(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
            return _tree(backend.ppid())
    except (psutil.Error, psycopg.Error):
        return []  # not a local server


def _busy_s() -> float:
    """CPU seconds the whole machine spent busy so far (all cores; /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    def __init__(self, api_pid: int | None) -> None:
        self.api = _tree(api_pid) if api_pid else []
        self.pg = _postgres_procs()

    def snapshot(self) -> dict[str, float]:
        own = os.times()
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "api": _cpu(self.api),
            "postgres": _cpu(self.pg),
            "self": own.user + own.system,
            "children": kids.ru_utime + kids.ru_stime,
            "machine": _busy_s(),
        }

    @staticmethod
    def per_write(a: dict[str, float], b: dict[str, float], writes: int, client: str) -> dict[str, float]:
        d = {k: b[k] - a[k] for k in a}
        gen = d["children"] if client == "wrk" else d["self"]
        us = {
            "api": d["api"],
            "postgres": d["postgres"],
            "load_generator": gen,
            "rest_of_machine": d["machine"] - d["api"] - d["postgres"] - gen,
        }
        return {k: round(v * 1e6 / max(writes, 1)) for k, v in us.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description="create-lead benchmark of the write API")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=3, help="seconds of load before the measured run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    ap.add_argument("--url", default=None, help="bench an API already running here instead of starting one")
    ap.add_argument(
        "--api-pid", type=int, default=None, help="with --url: the API's process (CPU accounting)"
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    from api.cli import uvicorn_argv
    from api.core.auth import mint_token
    from api.core.config import get_api_settings

    wrk = shutil.which("wrk") if args.client in ("auto", "wrk") else None
    if args.client == "wrk" and wrk is None:
        raise SystemExit("wrk is not installed (`make wrk`)")
    client = "wrk" if wrk else "python"

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

        def run(seconds: float) -> dict:
            if wrk:
                return run_wrk(wrk, base, token, args.concurrency, seconds)
            return run_python(host, int(port_s), token, args.concurrency, seconds)

        if args.warmup > 0:  # connections, pools, prepared statements, caches
            run(args.warmup)
        meter = CpuMeter(proc.pid if proc else args.api_pid)
        load_before = os.getloadavg()[0]
        before = meter.snapshot()
        result = run(args.seconds)
        after = meter.snapshot()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
    cpu = CpuMeter.per_write(before, after, result["requests"], client)
    result |= {
        "benchmark": "POST /leads (create lead: lead + audit_log + outbox in one transaction)",
        "load_generator": _generator_name(wrk),
        "concurrency": args.concurrency,
        "api_workers": args.workers,
        "rate_limit_backend": health["rate_limit_backend"],
        "cpu_us_per_request": cpu,
        "machine_busy_cores": round((after["machine"] - before["machine"]) / result["seconds"], 2),
        "cpus": os.cpu_count(),
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "machine": platform.machine(),
        "target": {"writes_per_s": 1000, "p99_ms": 50, "errors": 0},
        "note": "load generator, API and Postgres share the same cores; the machine may be shared with others",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _generator_name(wrk: str | None) -> str:
    if wrk is None:
        return "python (bench/api_bench.py: uvloop, raw HTTP/1.1 keep-alive)"
    out = subprocess.run([wrk, "--version"], capture_output=True, text=True)
    version = (out.stdout + out.stderr).split()[:2]
    return " ".join(version) + " (bench/api_bench.lua)"


if __name__ == "__main__":
    main()
