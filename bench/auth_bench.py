"""`make bench-auth`: what the credential checks cost and how fast a revocation lands, against
two API processes started as documented on the local stack (or DATABASE_URL); writes
bench/results/auth.json.

- **Revocation delay across processes.** Both processes trust a verified API key for 60 s
  (`API_KEY_CACHE_S=60`), so only the announcement (`NOTIFY crm_auth_changes`, api.core.auth_events)
  can make the second one refuse it early. Each round: a fresh key is used on both, revoked
  through the first (`DELETE /api-keys/{id}`), and the second is asked in a tight loop until it
  answers 401; the delay is from the revoke's 200 to that 401, and how many requests the second
  process still accepted in between.
- **Sign-in time, known against unknown accounts.** `POST /auth/token` with a wrong password for
  an account that exists and for one that does not, alternated; the medians should be equal
  (the same argon2 work: crm.signin_challenge gives an unknown account made-up parameters). The
  account is stored sealed, found by the e-mail's sign-in index, as every writer stores users.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import psycopg

from crm.db import libpq_url
from crm.keys import staff
from crm.keys.keyring import keyring
from crm.security import hash_password
from stack.procs import free_port

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "auth.json"


def _tenant_admin(password: str) -> tuple[str, uuid.UUID, uuid.UUID]:
    slug = f"bench-auth-{uuid.uuid4().hex[:6]}"
    with psycopg.connect(libpq_url(), autocommit=True) as conn:
        tid = conn.execute(
            "INSERT INTO crm.tenants (slug, name) VALUES (%s, 'Auth bench') RETURNING id", (slug,)
        )
        tenant_id = tid.fetchone()[0]  # type: ignore[index]
        user = staff.seal_row(tenant_id, {"email": f"admin@{slug}.test"}, keyring(libpq_url()))
        uid = conn.execute(
            "INSERT INTO crm.users (tenant_id, email, email_bidx, role, password_hash)"
            " VALUES (%s, %s, %s, 'admin', %s) RETURNING id",
            (tenant_id, user["email"], user[staff.EMAIL_INDEX], hash_password(password)),
        ).fetchone()[0]  # type: ignore[index]
    return slug, tenant_id, uid


def _start(port: int, env: dict[str, str]) -> subprocess.Popen:
    from api.cli import uvicorn_argv

    log = (ROOT / ".crm" / "logs").joinpath(f"auth-bench-{port}.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    out = log.open("wb")
    proc = subprocess.Popen(
        uvicorn_argv("127.0.0.1", port, 1), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"API did not start (see {log})")


def revocation_rounds(a: str, b: str, admin: dict[str, str], rounds: int) -> list[dict[str, float]]:
    out = []
    with httpx.Client(timeout=10) as ca, httpx.Client(timeout=10) as cb:
        for i in range(rounds):
            made = ca.post(
                f"{a}/api-keys", json={"name": f"rev{i}", "scopes": ["leads:read"]}, headers=admin
            ).json()
            kh = {"X-API-Key": made["key"]}
            for client, base in ((ca, a), (cb, b)):
                assert client.get(f"{base}/leads", params={"limit": 1}, headers=kh).status_code == 200
            assert ca.delete(f"{a}/api-keys/{made['id']}", headers=admin).status_code == 200
            t0 = time.perf_counter()
            accepted = 0
            while cb.get(f"{b}/leads", params={"limit": 1}, headers=kh).status_code == 200:
                accepted += 1
                if time.perf_counter() - t0 > 60:
                    raise SystemExit("the second process never refused the revoked key")
            out.append({"delay_ms": (time.perf_counter() - t0) * 1000, "accepted_after_revoke": accepted})
    return out


def sign_in_times(base: str, slug: str, email: str, attempts: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    with httpx.Client(timeout=30) as c:
        for i in range(attempts):
            for kind in ("known", "unknown"):
                who = email if kind == "known" else f"nobody-{i}@{slug}.test"
                t0 = time.perf_counter()
                r = c.post(f"{base}/auth/token", json={"tenant": slug, "email": who, "password": "wrong"})
                times[kind].append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 401, r.text
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description="credential checks: revocation delay, sign-in timing")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--sign-ins", type=int, default=20)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    from api.core.auth import mint_token
    from api.core.config import get_api_settings

    password = uuid.uuid4().hex
    slug, tenant_id, uid = _tenant_admin(password)
    admin = {"Authorization": f"Bearer {mint_token(get_api_settings(), uid, tenant_id, ['admin'])}"}
    env = os.environ | {
        "API_KEY_CACHE_S": "60",
        "API_RATE_LIMIT": "100000000",
        "API_LOGIN_ACCOUNT_LIMIT": "100000",
        "API_LOGIN_CLIENT_LIMIT": "100000",
    }
    ports = free_port(), free_port()
    procs = [_start(p, env) for p in ports]
    try:
        a, b = (f"http://127.0.0.1:{p}" for p in ports)
        rounds = revocation_rounds(a, b, admin, args.rounds)
        times = sign_in_times(a, slug, f"admin@{slug}.test", args.sign_ins)
    finally:
        for p in procs:
            p.terminate()
            p.wait(15)
    delays = sorted(r["delay_ms"] for r in rounds)
    result = {
        "what": "revocation delay across two API processes (key cache 60 s); sign-in time known vs unknown",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "revocation": {
            "rounds": len(rounds),
            "delay_ms_p50": round(statistics.median(delays), 2),
            "delay_ms_max": round(delays[-1], 2),
            "accepted_after_revoke_max": max(r["accepted_after_revoke"] for r in rounds),
            "accepted_after_revoke_total": sum(r["accepted_after_revoke"] for r in rounds),
        },
        "sign_in_ms": {
            kind: {"median": round(statistics.median(v), 1), "min": round(min(v), 1), "max": round(max(v), 1)}
            for kind, v in times.items()
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
