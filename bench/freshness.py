"""`make bench-freshness`: how soon an API write shows in the marts and in the lead scores, on
the local stack started as documented (`make demo`: lander, API, outbox relay and `dagster dev`,
whose sensors run event_refresh and event_rescore). Writes bench/results/freshness.json.

The load is a realistic mix of CRM writes over HTTP at a steady rate on an open-loop schedule
(write i is sent at start + i/rate whatever the earlier ones are doing, so a slow API shows as
latency, not as a lower rate): logged lead activities, deal stage changes, new leads. Each
write's send time and the id it names are recorded. A poller looks, once a second and with one
query per mart for all the ids not seen yet, for each write in the mart that should show it:

- a logged activity in analytics.fct_lead_activities (the API publishes the crm.lead_activities
  row id as event and activity id),
- a stage change in analytics.fct_deal_stage_transitions (transition id: the STAGE_CHANGED
  deal activity the change stored, found in crm.deal_activities by its deal and time),
- a new lead in analytics.dim_leads,

and, for the lead a write names, a row in ml.lead_scores scored after the write. Polling goes
on after the load until every write is seen or the drain timeout passes: what is left is
`lost`. Meanwhile GET /leads/{id}/score (the on-demand score) is read for random scored leads at
a modest rate. Figures have the poller's one-second resolution.

The result also holds what explains the figures: the rate achieved, write latencies, per-kind
counts, where the time went (relay, landing), the event_refresh and event_rescore runs from the
Dagster run history, the Postgres server and the machine. Targets are recorded and printed
pass/fail, never asserted. The writes stay in the world (they are CRM data like any other).

    make bench-freshness                       # 200 writes/s for 5 minutes
    .venv/bin/python -m bench.freshness --smoke  # 20 writes/s for 30 s
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import platform
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.table import Table

from bench.server import server_info

# httpcore asks sniffio which event loop runs on every pooled request; sniffio is not
# installed, and a failed import is not remembered, so each ask searched sys.path again (a
# sixth of the load generator's CPU at 200 requests/s): remember it is missing
sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "freshness.json"
SERVICES = ("lander", "api", "outbox-relay", "dagster")
"""What the event-driven path needs besides the stores (`crm up` starts the ones missing)."""
TARGETS: dict[str, float] = {
    "lost": 0,
    "p95_write_to_mart_s": 60,
    "p95_write_to_score_s": 120,
    "p99_on_demand_score_ms": 50,
}
MIX: dict[str, float] = {"lead_activity": 0.6, "stage_change": 0.25, "new_lead": 0.15}
"""Share of each kind of write: reps log calls and e-mails most, move deals, add leads."""
ACTIVITY_TYPES = ("CALL_MADE", "CALL_ANSWERED", "EMAIL_SENT", "MEETING_SCHEDULED", "MEETING_COMPLETED")
SCORED_KINDS = ("lead_activity", "new_lead")
"""Writes naming a lead, whose score the event-driven rescoring brings up to date."""
WRITE_ROLES = ("admin", "manager", "sales_rep")
RATE_MARGIN = 0.5
"""Share of the API's per-principal rate limit one principal is given (its window is fixed, and
requests queued in a slow moment arrive together)."""
CLIENTS = 64
CONNECTIONS_PER_CLIENT = 8
KEY_NAME = "freshness benchmark"
"""The integration keys the run creates are named so, and revoked after it (and at the next
run's start, should one be stopped before it could)."""

console = Console()


# --- the stack -------------------------------------------------------------------------------


def ensure_stack() -> tuple[Path, str]:
    """The CRM home and the API address; starts what is missing the documented way (`crm demo`
    when nothing runs, `crm up <service>` for a missing service) and says so."""
    import stack
    from crm.settings import get_settings

    home = get_settings().home
    alive = {rec.name: rec for rec, up in stack.status(home) if up}
    crm = [sys.executable, "-m", "stack"]
    local_db = not os.environ.get("DATABASE_URL")
    if local_db and "postgres" not in alive:
        console.print("[yellow]the local stack is not running: starting it with `crm demo` (2-4 minutes)[/]")
        subprocess.run([*crm, "demo"], check=True, cwd=ROOT)
    else:
        missing = [s for s in SERVICES if s not in alive]
        if missing:
            console.print(
                f"[yellow]not running: {', '.join(missing)}: starting with `crm up {' '.join(missing)}`[/]"
            )
            subprocess.run([*crm, "up", *missing], check=True, cwd=ROOT)
    get_settings.cache_clear()
    alive = {rec.name: rec for rec, up in stack.status(home) if up}
    api = alive.get("api")
    if api is None or not api.url:
        raise SystemExit("the API is not running (crm status)")
    return home, api.url


# --- who writes ------------------------------------------------------------------------------


@dataclass
class Principal:
    """One caller: a user's token or an integration's API key, with its recent requests (the
    API limits each principal's requests per window)."""

    label: str
    tenant: str
    headers: dict[str, str]
    role: str
    user_id: str | None = None
    sent: deque[float] = field(default_factory=deque)

    def used(self, now: float, window: float) -> int:
        while self.sent and self.sent[0] <= now - window:
            self.sent.popleft()
        return len(self.sent)


class Callers:
    """Picks who makes each request: the record's own sales rep when it has one and budget
    left, else the tenant's manager, admin or an integration key, whichever has sent least;
    nobody past RATE_MARGIN of the API's rate limit while another has room."""

    def __init__(self, limit: int, window: float) -> None:
        self.budget = max(1, int(limit * RATE_MARGIN))
        self.window = float(window)
        self.shared: dict[str, list[Principal]] = {}
        self.reps: dict[str, Principal] = {}
        self.key_ids: list[str] = []

    def add(self, p: Principal) -> None:
        if p.role == "sales_rep" and p.user_id:
            self.reps[p.user_id] = p
        else:
            self.shared.setdefault(p.tenant, []).append(p)

    def pick(self, tenant: str, owner: str | None = None, own_ok: bool = True) -> Principal:
        now = time.monotonic()
        rep = self.reps.get(owner or "") if own_ok else None
        if rep is not None and rep.used(now, self.window) < self.budget:
            chosen = rep
        else:
            chosen = min(self.shared[tenant], key=lambda p: p.used(now, self.window))
        chosen.sent.append(now)
        return chosen

    def keys_needed(self, tenant_rate: float) -> int:
        """Integration keys a tenant needs so its shared callers stay within budget."""
        return max(1, math.ceil(tenant_rate * self.window / self.budget))


KEY_SCOPES = ["leads:read", "leads:write", "deals:read", "deals:write"]


def user_callers(world: World) -> Callers:
    """A token for every active manager, admin and sales rep (as `crm api-token` mints them)."""
    from api.core.auth import mint_token
    from api.core.config import get_api_settings

    settings = get_api_settings()
    callers = Callers(settings.api_rate_limit, settings.api_rate_window_s)
    for uid, tenant, role, email in world.users:
        token = mint_token(settings, uuid.UUID(uid), uuid.UUID(tenant), [role], ttl_s=6 * 3600)
        callers.add(Principal(email, tenant, {"Authorization": f"Bearer {token}"}, role, uid))
    return callers


def admins(callers: Callers) -> dict[str, Principal]:
    return {p.tenant: p for ps in callers.shared.values() for p in ps if p.role == "admin"}


def tenant_rates(world: World, rate: float, read_rate: float) -> dict[str, float]:
    """Requests a second each tenant gets: lead writes by its share of the leads, stage changes
    by its share of the open deals, score reads by its share of the scored leads."""

    def shares(counts: dict[str, int]) -> dict[str, float]:
        total = sum(counts.values()) or 1
        return {t: n / total for t, n in counts.items()}

    leads = shares({t: len(v) for t, v in world.leads.items()})
    deals = shares(dict(Counter(d.tenant for d in world.deals)))
    scored = shares({t: len(v) for t, v in world.scored.items()})
    lead_rate = rate * (MIX["lead_activity"] + MIX["new_lead"])
    deal_rate = rate * MIX["stage_change"]
    return {
        t: lead_rate * leads.get(t, 0) + deal_rate * deals.get(t, 0) + read_rate * scored.get(t, 0)
        for t in world.tenants
    }


async def add_integration_keys(
    client: httpx.AsyncClient, callers: Callers, world: World, rate: float, read_rate: float
) -> None:
    """Integration keys, created through the API by each tenant's admin, so that no caller runs
    into the API's rate limit (`tenant_rates`)."""
    rates = tenant_rates(world, rate, read_rate)
    for tenant, admin in admins(callers).items():
        for i in range(callers.keys_needed(rates.get(tenant, 0.0))):
            r = await client.post(
                "/api-keys", json={"name": f"{KEY_NAME} {i + 1}", "scopes": KEY_SCOPES}, headers=admin.headers
            )
            r.raise_for_status()
            key = r.json()
            callers.key_ids.append(key["id"])
            callers.add(Principal(f"key {key['key_prefix']}", tenant, {"X-API-Key": key["key"]}, "api_key"))


async def revoke_keys(client: httpx.AsyncClient, callers: Callers, url: str) -> int:
    """Revoke, through the API, every key a run of this benchmark created that is still live."""
    with psycopg.connect(url) as conn:
        live = conn.execute(
            "select id::text, tenant_id::text from crm.api_keys where name like %s and revoked_at is null",
            (f"{KEY_NAME} %",),
        ).fetchall()
    by_tenant = admins(callers)
    for key_id, tenant in live:
        if tenant in by_tenant:
            r = await client.delete(f"/api-keys/{key_id}", headers=by_tenant[tenant].headers)
            r.raise_for_status()
    return len(live)


# --- the world the writes touch ----------------------------------------------------------------


@dataclass
class Deal:
    id: str
    tenant: str
    owner: str | None
    stage: str
    stages: list[str]
    busy: bool = False


@dataclass
class World:
    tenants: dict[str, str]  # id -> slug
    users: list[tuple[str, str, str, str]]  # id, tenant, role, email
    leads: dict[str, list[tuple[str, str | None]]]  # tenant -> (lead id, owner)
    deals: list[Deal]
    scored: dict[str, list[str]]  # tenant -> scored lead ids (the on-demand reads)


def load_world(url: str) -> World:
    with psycopg.connect(url) as conn:
        tenants = {str(t): s for t, s in conn.execute("select id, slug from crm.tenants order by slug")}
        users = [
            (str(u), str(t), r, e)
            for u, t, r, e in conn.execute(
                "select id, tenant_id, role::text, email from crm.users where is_active and role::text = any(%s)",
                (list(WRITE_ROLES),),
            )
        ]
        leads: dict[str, list[tuple[str, str | None]]] = {t: [] for t in tenants}
        for lid, tid, owner in conn.execute(
            "select id, tenant_id, assigned_user_id from crm.leads order by id"
        ):
            leads[str(tid)].append((str(lid), str(owner) if owner else None))
        deals = []
        for did, tid, owner, stage, stages in conn.execute(
            """select d.id, d.tenant_id, d.assigned_user_id, d.stage, p.stages
               from crm.deals d join crm.sales_pipelines p on p.id = d.pipeline_id
               order by d.id"""
        ):
            open_stages = [s["name"] for s in stages if not s.get("is_won") and not s.get("is_lost")]
            if stage in open_stages and len(open_stages) > 1:
                deals.append(Deal(str(did), str(tid), str(owner) if owner else None, stage, open_stages))
        scored: dict[str, list[str]] = {t: [] for t in tenants}
        for lid, tid in conn.execute(
            """select s.lead_id, s.tenant_id from ml.lead_scores s
               join analytics.ml_features__leads f on f.lead_id = s.lead_id order by s.lead_id"""
        ):
            scored[str(tid)].append(str(lid))
    return World(tenants, users, {t: v for t, v in leads.items() if v}, deals, scored)


# --- the load ----------------------------------------------------------------------------------


@dataclass
class Write:
    kind: str
    tenant: str
    sent_wall: float
    lead_id: str | None = None
    deal_id: str | None = None
    event_id: str | None = None
    """The id the mart holds it under (activity id, transition id, lead id)."""
    caller: str = ""
    done_wall: float | None = None
    latency_ms: float | None = None
    status: int | None = None
    error: str | None = None
    mart_wall: float | None = None
    score_wall: float | None = None
    score_mart_wall: float | None = None
    """When analytics.fct_lead_scores (the Leads pages' score) had a score computed after it."""
    headers: dict[str, str] = field(default_factory=dict)
    """Sent with it besides the caller's (a benchmark's own trace context)."""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Load:
    def __init__(self, world: World, callers: Callers, clients: list[httpx.AsyncClient], seed: int) -> None:
        self.world = world
        self.callers = callers
        self.clients = itertools.cycle(clients)
        self.rng = random.Random(seed)
        self.run = uuid.uuid4().hex[:8]
        self.tenant_ids = list(world.leads)
        self.tenant_weights = [len(world.leads[t]) for t in self.tenant_ids]
        self.writes: list[Write] = []
        self.reads: list[tuple[float, int]] = []  # (latency ms, status)
        self.substituted = 0
        """Stage changes sent as lead activities because every open deal had a change in flight."""
        self.tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send(self, w: Write, method: str, path: str, who: Principal, body: dict | None) -> dict | None:
        w.caller = who.role
        t0 = time.perf_counter()
        try:
            r = await next(self.clients).request(method, path, json=body, headers=who.headers | w.headers)
            w.status = r.status_code
            out = r.json() if r.status_code < 300 else None
            if out is None:
                w.error = f"{r.status_code} {r.text[:200]}"
            return out
        except httpx.HTTPError as exc:
            w.error = repr(exc)[:200]
            return None
        finally:
            w.latency_ms = (time.perf_counter() - t0) * 1000
            w.done_wall = time.time()

    async def lead_activity(self, w: Write) -> None:
        lead, owner = self.rng.choice(self.world.leads[w.tenant])
        w.lead_id = lead
        body = {
            "type": self.rng.choice(ACTIVITY_TYPES),
            "description": f"Freshness check {self.run}: logged by the benchmark",
        }
        who = self.callers.pick(w.tenant, owner)
        out = await self._send(w, "POST", f"/leads/{lead}/activities", who, body)
        if out is not None:
            w.event_id = out["id"]

    async def stage_change(self, w: Write, deal: Deal) -> None:
        w.deal_id = deal.id
        stage = self.rng.choice([s for s in deal.stages if s != deal.stage])
        who = self.callers.pick(w.tenant, deal.owner)
        try:
            out = await self._send(w, "POST", f"/deals/{deal.id}/stage", who, {"stage": stage})
            if out is not None:
                deal.stage = out["stage"]
        finally:
            deal.busy = False

    async def new_lead(self, w: Write, i: int) -> None:
        reps = [u for u, t, r, _ in self.world.users if t == w.tenant and r == "sales_rep"]
        who = self.callers.pick(w.tenant, self.rng.choice(reps) if reps else None)
        body = {
            "email": f"fresh-{self.run}-{i}@bench.example",
            "first_name": "Fresh",
            "company": f"Freshness {self.run}",
            "source": self.rng.choice(("website", "referral", "webinar", "paid_ads")),
            "tags": ["freshness-bench"],
        }
        out = await self._send(w, "POST", "/leads", who, body)
        if out is not None:
            w.lead_id = w.event_id = out["id"]
            self.world.leads[w.tenant].append((out["id"], out.get("assigned_user_id")))

    def new_write(self, kind: str, tenant: str) -> Write:
        """The record of a write about to be sent (a subclass may add headers to it)."""
        return Write(kind, tenant, time.time())

    def start_write(self, i: int) -> None:
        kind = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        deal = None
        if kind == "stage_change":
            idle = [d for d in self.world.deals if not d.busy]
            if idle:
                deal = self.rng.choice(idle)
                deal.busy = True
            else:
                kind = "lead_activity"
                self.substituted += 1
        tenant = deal.tenant if deal else self.rng.choices(self.tenant_ids, weights=self.tenant_weights)[0]
        w = self.new_write(kind, tenant)
        self.writes.append(w)
        if deal is not None:
            self._spawn(self.stage_change(w, deal))
        elif kind == "new_lead":
            self._spawn(self.new_lead(w, i))
        else:
            self._spawn(self.lead_activity(w))

    async def read_score(self) -> None:
        tenant = self.rng.choice([t for t in self.tenant_ids if self.world.scored.get(t)])
        lead = self.rng.choice(self.world.scored[tenant])
        who = self.callers.pick(tenant, own_ok=False)
        t0 = time.perf_counter()
        try:
            r = await next(self.clients).get(f"/leads/{lead}/score", headers=who.headers)
            status = r.status_code
        except httpx.HTTPError:
            status = 0
        self.reads.append(((time.perf_counter() - t0) * 1000, status))

    async def run_schedule(self, rate: float, seconds: float, read_rate: float) -> float:
        """Sends write i at t0 + i/rate and read j at t0 + j/read_rate (open loop); returns the
        seconds the schedule took."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        n_writes, n_reads = int(rate * seconds), int(read_rate * seconds)
        events = sorted(
            [(i / rate, "w", i) for i in range(n_writes)] + [(j / read_rate, "r", j) for j in range(n_reads)]
        )
        for at, what, i in events:
            delay = t0 + at - loop.time()
            # behind schedule, still yield: the answers to earlier requests are read meanwhile
            await asyncio.sleep(max(delay, 0))
            if what == "w":
                self.start_write(i)
            else:
                self._spawn(self.read_score())
        elapsed = loop.time() - t0
        while self.tasks:
            await asyncio.gather(*list(self.tasks))
        return elapsed


# --- what the marts and the scores show ----------------------------------------------------------

MART_QUERIES = {
    "lead_activity": "select event_id::text from analytics.fct_lead_activities where event_id = any(%s::uuid[])",
    "stage_change": (
        "select transition_id::text from analytics.fct_deal_stage_transitions where transition_id = any(%s::uuid[])"
    ),
    "new_lead": "select lead_id::text from analytics.dim_leads where lead_id = any(%s::uuid[])",
}
STAGE_ACTIVITIES = """
    select id::text, deal_id::text, extract(epoch from created_at)
    from crm.deal_activities
    where deal_id = any(%s::uuid[]) and type = 'STAGE_CHANGED' and created_at >= to_timestamp(%s)
"""


class Watcher:
    """Once a second: which writes the marts and the scores show now (one query per mart for
    every id not seen yet)."""

    def __init__(self, url: str, writes: list[Write]) -> None:
        self.url = url
        self.writes = writes
        self.ticks = 0
        self.tick_ms: list[float] = []
        self.claimed: set[str] = set()

    def pending_mart(self) -> list[Write]:
        return [w for w in self.writes if w.ok and w.mart_wall is None]

    def pending_score(self) -> list[Write]:
        return [w for w in self.writes if w.ok and w.kind in SCORED_KINDS and w.score_wall is None]

    def pending_score_mart(self) -> list[Write]:
        return [w for w in self.writes if w.ok and w.kind in SCORED_KINDS and w.score_mart_wall is None]

    async def scored_after(
        self, conn: psycopg.AsyncConnection, table: str, waiting: list[Write]
    ) -> dict[str, float]:
        """`{lead: scored_at}` of the waiting writes' leads scored after the first was sent."""
        rows = await (
            await conn.execute(
                f"select lead_id::text, extract(epoch from scored_at) from {table}"
                " where lead_id = any(%s::uuid[]) and scored_at > to_timestamp(%s)",
                (sorted({w.lead_id for w in waiting if w.lead_id}), min(w.sent_wall for w in waiting)),
            )
        ).fetchall()
        return {lid: float(at) for lid, at in rows}

    async def resolve_stage_ids(self, conn: psycopg.AsyncConnection, waiting: list[Write]) -> None:
        """The STAGE_CHANGED activity each stage change stored: the one of its deal created
        between its send and its answer (one change per deal is in flight at a time)."""
        if not waiting:
            return
        since = min(w.sent_wall for w in waiting) - 1
        rows = await (
            await conn.execute(STAGE_ACTIVITIES, (sorted({w.deal_id for w in waiting if w.deal_id}), since))
        ).fetchall()
        by_deal: dict[str, list[tuple[str, float]]] = {}
        for aid, did, at in sorted(rows, key=lambda r: r[2]):
            if aid not in self.claimed:
                by_deal.setdefault(did, []).append((aid, float(at)))
        for w in waiting:
            assert w.done_wall is not None
            for aid, at in by_deal.get(w.deal_id or "", []):
                if w.sent_wall - 0.05 <= at <= w.done_wall + 0.05 and aid not in self.claimed:
                    w.event_id = aid
                    self.claimed.add(aid)
                    break

    async def tick(self, conn: psycopg.AsyncConnection) -> None:
        t0 = time.perf_counter()
        pending = self.pending_mart()
        await self.resolve_stage_ids(
            conn, [w for w in pending if w.kind == "stage_change" and w.event_id is None]
        )
        for kind, sql in MART_QUERIES.items():
            wanted = {w.event_id: w for w in pending if w.kind == kind and w.event_id}
            if not wanted:
                continue
            now = time.time()
            for (seen,) in await (await conn.execute(sql, (list(wanted),))).fetchall():
                wanted[seen].mart_wall = now
        for table, waiting, attr in (
            ("ml.lead_scores", self.pending_score(), "score_wall"),
            ("analytics.fct_lead_scores", self.pending_score_mart(), "score_mart_wall"),
        ):
            if waiting:
                now = time.time()
                scored_at = await self.scored_after(conn, table, waiting)
                for w in waiting:
                    at = scored_at.get(w.lead_id or "")
                    if at is not None and at > w.sent_wall:
                        setattr(w, attr, now)
        self.ticks += 1
        self.tick_ms.append((time.perf_counter() - t0) * 1000)

    async def watch(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            while not stop.is_set():
                started = time.monotonic()
                await self.tick(conn)
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def drain(self, timeout: float, interval: float = 1.0) -> float:
        """Poll until every write is seen (mart and score) or `timeout`; seconds it took."""
        t0 = time.monotonic()
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            while time.monotonic() - t0 < timeout:
                started = time.monotonic()
                await self.tick(conn)
                if not (self.pending_mart() or self.pending_score() or self.pending_score_mart()):
                    break
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
        return time.monotonic() - t0


# --- figures -----------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (nearest rank), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def summary(values: Sequence[float], digits: int = 1) -> dict[str, float | int | None]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, digits)

    return {
        "n": len(values),
        "p50": r(pct(values, 50)),
        "p95": r(pct(values, 95)),
        "p99": r(pct(values, 99)),
        "max": r(max(values) if values else None),
    }


def stage_breakdown(url: str, writes: list[Write]) -> dict[str, dict[str, Any]]:
    """Where a write's time went before the marts: the relay publishing its outbox row
    (outbox.sent_at) and the lander landing its event (raw.*.received_at), per kind of event
    write (a new lead's event is its crm-changes change event)."""
    lanes = {"lead_activity": "lead_activities", "stage_change": "deal_activities"}
    out: dict[str, dict[str, Any]] = {}
    with psycopg.connect(url) as conn:
        for kind, table in lanes.items():
            sent = {w.event_id: w.sent_wall for w in writes if w.kind == kind and w.ok and w.event_id}
            if not sent:
                continue
            rows = conn.execute(
                f"""select o.event_id::text, extract(epoch from o.sent_at), extract(epoch from r.received_at)
                    from crm.outbox o left join raw.{table} r on r.event_id = o.event_id
                    where o.event_id = any(%s::uuid[])""",
                (list(sent),),
            ).fetchall()
            out[kind] = _relay_landing(rows, sent)
        sent = {w.lead_id: w.sent_wall for w in writes if w.kind == "new_lead" and w.ok and w.lead_id}
        if sent:
            rows = conn.execute(
                """select o.payload -> 'payload' ->> 'entity_id', extract(epoch from o.sent_at),
                          extract(epoch from r.received_at)
                   from crm.outbox o left join raw.crm_changes r on r.event_id = o.event_id
                   where o.event_type = 'crm.lead.created' and o.payload -> 'payload' ->> 'entity_id' = any(%s)""",
                (list(sent),),
            ).fetchall()
            out["new_lead"] = _relay_landing(rows, sent)
    return out


def _relay_landing(rows: Iterable[tuple[Any, Any, Any]], sent: dict[Any, float]) -> dict[str, Any]:
    relay = [float(s) - sent[i] for i, s, _ in rows if s is not None and i in sent]
    landed = [float(r) - sent[i] for i, _, r in rows if r is not None and i in sent]
    return {"to_outbox_sent_s": summary(relay, 2), "to_landed_s": summary(landed, 2)}


EVENT_JOBS = ("event_refresh", "event_rescore", "segment_refresh")


def dagster_runs(home: Path, since: float) -> dict[str, Any]:
    """event_refresh / event_rescore runs created since `since` (epoch s): counts by status,
    durations (started to ended) and launch times (created to started: the queue, the run's
    process start and its loading the definitions), from the run history; and the other jobs'
    runs that ran meanwhile (a scheduled run building the same marts holds refreshes back)."""
    os.environ.setdefault("DAGSTER_HOME", str(home / "dagster"))
    from dagster import DagsterInstance, RunsFilter

    out: dict[str, Any] = {}
    with DagsterInstance.get() as instance:
        for job in EVENT_JOBS:
            records = instance.get_run_records(
                RunsFilter(job_name=job, created_after=datetime.fromtimestamp(since, UTC))
            )
            spans = [(r.create_timestamp.timestamp(), r.start_time, r.end_time) for r in records]
            done = [(c, s, e) for c, s, e in spans if s is not None and e is not None]
            out[job] = {
                "runs": len(records),
                "by_status": dict(Counter(r.dagster_run.status.value for r in records)),
                "duration_s": summary([e - s for _, s, e in done]),
                "launch_s": summary([s - c for c, s, _ in done]),
            }
        # scheduled runs building the same marts hold the refresh back while they run
        others = instance.get_run_records(
            RunsFilter(created_after=datetime.fromtimestamp(since - 3600, UTC)), limit=200
        )
        out["other_runs"] = [
            {
                "job": r.dagster_run.job_name,
                "status": r.dagster_run.status.value,
                "started_at": datetime.fromtimestamp(r.start_time, UTC).isoformat(timespec="seconds"),
                "duration_s": round(r.end_time - r.start_time, 1) if r.end_time else None,
            }
            for r in others
            if r.dagster_run.job_name not in EVENT_JOBS
            and r.start_time is not None
            and (r.end_time is None or r.end_time >= since)
        ]
    return out


def figures(load: Load, seconds: float, drain_s: float, watcher: Watcher) -> dict[str, Any]:
    writes = load.writes
    ok = [w for w in writes if w.ok]
    mart = [w.mart_wall - w.sent_wall for w in ok if w.mart_wall is not None]
    scored = [w for w in ok if w.kind in SCORED_KINDS]
    score = [w.score_wall - w.sent_wall for w in scored if w.score_wall is not None]
    score_mart = [w.score_mart_wall - w.sent_wall for w in scored if w.score_mart_wall is not None]
    read_ok = [ms for ms, s in load.reads if s == 200]
    per_kind: dict[str, Any] = {}
    for kind in MIX:
        mine = [w for w in writes if w.kind == kind]
        mine_ok = [w for w in mine if w.ok]
        per_kind[kind] = {
            "sent": len(mine),
            "ok": len(mine_ok),
            "lost": sum(w.mart_wall is None for w in mine_ok),
            "write_ms": summary([w.latency_ms for w in mine if w.latency_ms is not None]),
            "write_to_mart_s": summary(
                [w.mart_wall - w.sent_wall for w in mine_ok if w.mart_wall is not None]
            ),
        }
        if kind in SCORED_KINDS:
            per_kind[kind]["write_to_score_s"] = summary(
                [w.score_wall - w.sent_wall for w in mine_ok if w.score_wall is not None]
            )
            per_kind[kind]["never_scored"] = sum(w.score_wall is None for w in mine_ok)
    errors = Counter((w.error or "")[:80] for w in writes if not w.ok)
    errors_by_caller = Counter(f"{w.caller} {w.status}" for w in writes if not w.ok)
    return {
        "writes": len(ok),
        "lost": sum(w.mart_wall is None for w in ok),
        "p95_write_to_mart_s": summary(mart)["p95"],
        "p95_write_to_score_s": summary(score)["p95"],
        "p99_on_demand_score_ms": summary(read_ok)["p99"],
        "p50_write_to_mart_s": summary(mart)["p50"],
        "p50_write_to_score_s": summary(score)["p50"],
        "write_to_mart_s": summary(mart),
        "write_to_score_s": summary(score),
        "write_to_score_mart_s": summary(score_mart),
        "never_scored": sum(w.score_wall is None for w in scored),
        "writes_sent": len(writes),
        "write_errors": len(writes) - len(ok),
        "write_error_samples": dict(errors.most_common(5)),
        "write_errors_by_caller": dict(errors_by_caller.most_common()),
        "write_rate_achieved": round(len(writes) / seconds, 1) if seconds else None,
        "write_ms": summary([w.latency_ms for w in writes if w.latency_ms is not None]),
        "per_kind": per_kind,
        "stage_changes_sent_as_activities": load.substituted,
        "on_demand_score": {
            "reads": len(load.reads),
            "errors": len(load.reads) - len(read_ok),
            "statuses": dict(Counter(str(s) for _, s in load.reads)),
            "ms": summary(read_ok),
        },
        "timeline_10s": timeline(writes),
        "load_s": round(seconds, 1),
        "drain_s": round(drain_s, 1),
        "poll_ticks": watcher.ticks,
        "poll_ms": summary(watcher.tick_ms),
    }


def timeline(writes: list[Write], step: float = 10.0) -> list[dict[str, Any]]:
    """Per `step` seconds of the schedule: writes sent, failed, their latency and how long they
    took to show, so a slowdown is placed in time."""
    if not writes:
        return []
    t0 = writes[0].sent_wall
    bins: dict[int, list[Write]] = {}
    for w in writes:
        bins.setdefault(int((w.sent_wall - t0) // step), []).append(w)
    out = []
    for b, ws in sorted(bins.items()):
        ok = [w for w in ws if w.ok]
        out.append(
            {
                "from_s": b * step,
                "sent": len(ws),
                "errors": len(ws) - len(ok),
                "write_ms_p50": pct([w.latency_ms for w in ws if w.latency_ms is not None], 50),
                "write_ms_p95": pct([w.latency_ms for w in ws if w.latency_ms is not None], 95),
                "to_mart_s_p50": pct([w.mart_wall - w.sent_wall for w in ok if w.mart_wall], 50),
                "to_score_s_p50": pct([w.score_wall - w.sent_wall for w in ok if w.score_wall], 50),
            }
        )
    return [{k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()} for row in out]


def verdicts(result: dict[str, Any]) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for name, target in TARGETS.items():
        value = result.get(name)
        out[name] = None if value is None else value <= target
    return out


def print_result(result: dict[str, Any]) -> None:
    reads = result["on_demand_score"]
    table = Table(title="API write -> marts and scores", show_lines=False)
    for col in ("figure", "value", "target", ""):
        table.add_column(col, justify="right" if col in ("value", "target") else "left")
    for name, target in TARGETS.items():
        passed = result["pass"][name]
        mark = "[green]pass[/]" if passed else ("[red]fail[/]" if passed is False else "[yellow]n/a[/]")
        table.add_row(name, str(result.get(name)), f"<= {target:g}", mark)
    extra = (
        ("writes sent / errors", f"{result['writes_sent']} / {result['write_errors']}"),
        ("write rate achieved", f"{result['write_rate_achieved']}/s of {result['rate']}/s"),
        ("write p50 / p99 ms", f"{result['write_ms']['p50']} / {result['write_ms']['p99']}"),
        ("write->mart p50 / max s", f"{result['p50_write_to_mart_s']} / {result['write_to_mart_s']['max']}"),
        (
            "write->score p50 / max s",
            f"{result['p50_write_to_score_s']} / {result['write_to_score_s']['max']}",
        ),
        (
            "write->Leads page score p50 / p95 s",
            f"{result['write_to_score_mart_s']['p50']} / {result['write_to_score_mart_s']['p95']}",
        ),
        ("never scored", str(result["never_scored"])),
        (
            "on-demand score p50 / p99 ms",
            f"{reads['ms']['p50']} / {reads['ms']['p99']} ({reads['errors']} errors)",
        ),
    )
    for name, value in extra:
        table.add_row(name, value, "", "")
    for other in result["dagster"]["other_runs"]:
        table.add_row(
            f"also ran: {other['job']}", f"{other['duration_s']} s from {other['started_at'][11:19]}", "", ""
        )
    for job in EVENT_JOBS:
        runs = result["dagster"][job]
        if runs["runs"]:
            d = runs["duration_s"]
            table.add_row(f"{job} runs", f"{runs['runs']} {runs['by_status']}", "", "")
            launch = runs["launch_s"]
            table.add_row(f"{job} run p50 / max s", f"{d['p50']} / {d['max']}", "", "")
            table.add_row(f"{job} launch p50 / max s", f"{launch['p50']} / {launch['max']}", "", "")
    console.print(table)


# --- main ------------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, home: Path, api_url: str, url: str) -> dict[str, Any]:
    world = load_world(url)
    if not world.deals:
        console.print("[yellow]no open deal to move: the mix has no stage changes[/]")
    callers = user_callers(world)
    # several small pools: httpx's pool does work per queued request and open connection on
    # every request, which one pool of hundreds turns into the load generator's bottleneck
    limits = httpx.Limits(
        max_connections=CONNECTIONS_PER_CLIENT, max_keepalive_connections=CONNECTIONS_PER_CLIENT
    )
    started = time.time()
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=api_url, limits=limits, timeout=60))
            for _ in range(CLIENTS)
        ]
        await revoke_keys(clients[0], callers, url)  # left by a run stopped before its end
        try:
            await add_integration_keys(clients[0], callers, world, args.rate, args.read_rate)
            console.print(
                f"{len(world.users)} users and {len(callers.key_ids)} integration keys over"
                f" {len(world.tenants)} tenants; {sum(map(len, world.leads.values()))} leads,"
                f" {len(world.deals)} open deals"
            )
            load = Load(world, callers, clients, args.seed)
            watcher = Watcher(url, load.writes)
            stop = asyncio.Event()
            watching = asyncio.create_task(watcher.watch(stop))
            console.print(
                f"load: {args.rate}/s writes and {args.read_rate}/s score reads for {args.seconds:g} s"
            )
            seconds = await load.run_schedule(args.rate, args.seconds, args.read_rate)
            stop.set()
            await watching
        finally:
            await revoke_keys(clients[0], callers, url)
    console.print(f"load done in {seconds:.1f} s; polling the marts until all is seen (<= {args.drain:g} s)")
    drain_s = await watcher.drain(args.drain)
    result = figures(load, seconds, drain_s, watcher)
    result["breakdown"] = stage_breakdown(url, load.writes)
    result["dagster"] = dagster_runs(home, started)
    result["run"] = load.run
    return result


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    ap = argparse.ArgumentParser(description="API write -> marts and scores freshness benchmark")
    ap.add_argument("--rate", type=float, default=200, help="writes per second")
    ap.add_argument("--seconds", type=float, default=300, help="how long the load runs")
    ap.add_argument("--read-rate", type=float, default=10, help="on-demand score reads per second")
    ap.add_argument("--drain", type=float, default=300, help="seconds to keep polling after the load")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--smoke", action="store_true", help="20 writes/s for 30 s (a quick check)")
    ap.add_argument("--out", type=Path, default=None, help=f"result file (default {RESULTS}; smoke: none)")
    args = ap.parse_args()
    if args.smoke:
        args.rate, args.seconds = 20, 30
    signal.signal(signal.SIGTERM, _interrupted)  # a stopped run still revokes its keys
    home, api_url = ensure_stack()
    from crm.db import libpq_url

    url = libpq_url()
    load_before = os.getloadavg()
    t0 = time.time()
    try:
        import uvloop

        result = uvloop.run(bench(args, home, api_url, url))
    except ImportError:  # pragma: no cover
        result = asyncio.run(bench(args, home, api_url, url))
    result = {
        "benchmark": "API writes (lead activities, deal stage changes, new leads) -> marts and lead scores",
        "smoke": args.smoke,
        "rate": args.rate,
        "seconds": args.seconds,
        "read_rate": args.read_rate,
        "mix": MIX,
        **result,
        "targets": TARGETS,
    }
    result["pass"] = verdicts(result)
    result |= {
        "api": api_url,
        "server": server_info(url),
        "machine": f"{platform.node()} ({os.cpu_count()} cpus, shared with the whole stack)",
        "cpus": os.cpu_count(),
        "load_avg_1m_before": round(load_before[0], 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "started_at": datetime.fromtimestamp(t0, UTC).isoformat(timespec="seconds"),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print_result(result)
    out = args.out or (None if args.smoke else RESULTS)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        console.print(f"written to {out}")
    else:
        console.print(json.dumps({k: result[k] for k in ("breakdown", "dagster", "per_kind")}, indent=1))


if __name__ == "__main__":
    main()
