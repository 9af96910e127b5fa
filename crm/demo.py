"""`make demo`: every stage that exists, in data-flow order, then the addresses.

Each stage is a function `(ctx) -> None`; a stage whose component is not in the checkout yet
says so and is skipped. Re-running reuses what runs (the stack, the world of the same seed).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from crm.settings import PROJECT_ROOT, get_settings


@dataclass
class DemoContext:
    scale: str
    seed: int
    console: Console
    database_url: str = ""
    kafka_bootstrap: str = ""
    addresses: dict[str, str] = field(default_factory=dict)
    seeded: dict[str, int] = field(default_factory=dict)
    """Events the seed sent, per topic; the tenants they belong to in `seeded_tenants`."""
    seeded_tenants: list[str] = field(default_factory=list)
    seeded_at: datetime | None = None


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def stage_stack(ctx: DemoContext) -> None:
    from crm import migrate, stack

    state = stack.up(get_settings().home)
    migrate.upgrade(state.database_url)
    ctx.database_url, ctx.kafka_bootstrap = state.database_url, state.kafka_bootstrap
    ctx.addresses["Postgres"] = state.database_url
    ctx.addresses["Kafka broker"] = state.kafka_bootstrap


def stage_lander(ctx: DemoContext) -> None:
    """Issue 3: one Faust landing worker (Kafka -> raw.*), started before anything is produced."""
    from streaming import service

    rec = service.start(get_settings().home, ctx.database_url, ctx.kafka_bootstrap)
    ctx.addresses["Lander metrics"] = rec.url or ""


def stage_landed(ctx: DemoContext) -> None:
    """Wait until the lander has committed every seeded event (its group is at the topics' end)."""
    from streaming import service

    lag = service.wait_landed(ctx.kafka_bootstrap)
    rows = _wait_rows_landed(ctx)
    ctx.console.print(f"lander caught up on {len(lag)} partitions: {rows:,} seeded events in raw.*")


def _wait_rows_landed(ctx: DemoContext, timeout: float = 600.0) -> int:
    """Count the seeded tenants' rows (landed or dead-lettered) until every event the seed sent
    is there. The group's lag alone is not enough: Tansu reports a partition's end offset as
    its last batch's base offset + 1, so a lag of 0 can come before the last records landed."""
    import psycopg

    from crm.db import libpq_url
    from crm.schema.landing import LANDING_TABLES

    want = dict(ctx.seeded)
    if not want:
        return 0
    landed = " union all ".join(
        f"select '{topic}', count(*) from raw.{LANDING_TABLES[topic]} where tenant_id = any(%(t)s::uuid[])"
        for topic in want
    )
    # dead-lettered since the seed began (their topic may carry a prefix: LANDER_TOPIC_PREFIX)
    dead = "select topic, count(*) from raw.dead_letters where received_at >= %(since)s group by topic"
    deadline = time.monotonic() + timeout
    with psycopg.connect(libpq_url(ctx.database_url), autocommit=True) as conn:
        while True:
            have = dict(conn.execute(landed, {"t": ctx.seeded_tenants}).fetchall())
            for topic, n in conn.execute(dead, {"since": ctx.seeded_at}).fetchall():
                logical = topic.rsplit(".", 1)[-1]
                if logical in have:
                    have[logical] += n
            missing = {t: n - have[t] for t, n in want.items() if have[t] < n}
            if not missing:
                return sum(have.values())
            if time.monotonic() > deadline:
                raise TimeoutError(f"seeded events not all landed after {timeout:.0f}s: {missing}")
            time.sleep(0.5)


def stage_seed(ctx: DemoContext) -> None:
    from crm.sim import seed_world

    # Until a landing worker exists the events are also copied straight into raw.* so the
    # later stages have data; with the lander running they go through Kafka only.
    sink = "kafka" if _exists("streaming.app") else "both"
    ctx.seeded_at = datetime.now(UTC)
    summary = seed_world(
        scale=ctx.scale,
        seed=ctx.seed,
        database_url=ctx.database_url,
        bootstrap=ctx.kafka_bootstrap,
        sink=sink,
        progress=True,
    )
    ctx.seeded, ctx.seeded_tenants = dict(summary.topics), list(summary.tenant_ids)
    ctx.console.print(summary)


def stage_dbt_docs(ctx: DemoContext) -> None:
    """dbt docs for analysts (the models themselves were built by the Dagster run)."""
    from crm.warehouse import DBT_DIR, run_dbt

    run_dbt(["docs", "generate"], ctx.database_url)
    ctx.addresses["dbt docs"] = f"{DBT_DIR / 'target' / 'index.html'} (or: make dbt-docs-serve)"


def stage_api(ctx: DemoContext) -> None:
    """The write API (uvicorn, 2 workers) and the outbox relay, as background services."""
    import os

    import httpx

    from api.admin import token_for, uvicorn_argv
    from crm.stack import procs

    home = get_settings().home
    env = dict(os.environ)
    rec = procs.read_record(home, "api")
    if rec is None or not procs.record_alive(rec):
        port = 8000 if not procs.port_open(8000) else procs.free_port()
        url = f"http://127.0.0.1:{port}"
        rec = procs.spawn(
            home, "api", uvicorn_argv("127.0.0.1", port, 2), env=env, cwd=PROJECT_ROOT, port=port, url=url
        )

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        procs.wait_until(healthy, 60, "the API")
    relay = procs.read_record(home, "outbox-relay")
    if relay is None or not procs.record_alive(relay):
        import sys

        procs.spawn(home, "outbox-relay", [sys.executable, "-m", "api.outbox"], env=env, cwd=PROJECT_ROOT)
    ctx.addresses["API (OpenAPI docs)"] = f"{rec.url}/docs"
    try:
        _, user = token_for(None, None, "admin", 3600)
        ctx.console.print(
            f"API token for {user['email']} (tenant {user['slug']}): "
            f"TOKEN=$(.venv/bin/crm api-token --tenant {user['slug']} --role admin); "
            f'curl -H "Authorization: Bearer $TOKEN" {rec.url}/leads?limit=3'
        )
    except Exception as exc:  # no admin user seeded: the API still runs
        ctx.console.print(f"[yellow]no admin user to mint a demo token for ({exc})[/]")


def stage_dagster(ctx: DemoContext) -> None:
    """Materialize the whole graph once (recorded in .crm/dagster), then start the UI."""
    from dagster import DagsterEventType

    from orchestration import local

    home = get_settings().home
    local.prepare_manifest(local.dagster_env(home, ctx.database_url))
    observed, built = local.materialize_everything(home, ctx.database_url)
    for result in (observed, built):
        failed = [e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
        events = [
            e
            for e in result.all_events
            if e.event_type in (DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION)
        ]
        checks = result.get_asset_check_evaluations()
        warned = [f"{c.asset_key.to_user_string()}:{c.check_name}" for c in checks if not c.passed]
        state = "[green]ok[/]" if result.success else f"[red]failed[/] steps: {', '.join(failed)}"
        ctx.console.print(
            f"{result.job_def.name}: {state}; {len(events)} materialization/observation events,"
            f" {len(checks)} check evaluations" + (f", not passing: {', '.join(warned)}" if warned else "")
        )
    from orchestration.status import local_status

    status = local_status()
    ctx.console.print(("[green]green:[/] " if status.green else "[red]not green:[/] ") + status.summary())
    rec = local.start_ui(home, ctx.database_url)
    ctx.addresses["Dagster UI"] = rec.url or ""


def stage_app(ctx: DemoContext) -> None:
    """Issue 8: the managers' dashboards (Streamlit), with a demo sign-in per tenant."""
    if not _exists("app.serve"):
        ctx.console.print("dashboards not in this checkout: skipped")
        return
    from app import serve

    home = get_settings().home
    password = serve.demo_password(home)
    logins = serve.demo_sign_in(ctx.database_url, password)
    rec = serve.start(home, ctx.database_url)
    ctx.addresses["Dashboards (Streamlit)"] = rec.url or ""
    for login in logins:
        ctx.addresses[f"  sign in · {login.tenant}"] = f"{login.email} / {password}"
    if not logins:
        ctx.console.print("no tenant managers yet: seed the world to get a demo sign-in")


STAGES: list[tuple[str, Callable[[DemoContext], None]]] = [
    ("local stack + migrations", stage_stack),
    ("landing worker", stage_lander),
    ("synthetic world", stage_seed),
    ("seeded events landed in raw.*", stage_landed),
    ("dagster: the whole graph (dbt, ML, segments) + UI", stage_dagster),
    ("dbt docs", stage_dbt_docs),
    ("write API + outbox relay", stage_api),
    ("dashboards", stage_app),
]


def run_demo(scale: str, seed: int, console: Console) -> DemoContext:
    ctx = DemoContext(scale=scale, seed=seed, console=console)
    for name, fn in STAGES:
        t0 = time.monotonic()
        console.rule(f"[bold]{name}")
        fn(ctx)
        console.print(f"[green]done[/] {name} in {time.monotonic() - t0:.1f}s")
    table = Table("component", "address", title="CRM analytics stack is up")
    for k, v in ctx.addresses.items():
        table.add_row(k, v)
    console.print(table)
    console.print(
        f"Stop everything with [bold]make down[/] (state in {get_settings().home}, code in {PROJECT_ROOT})."
    )
    return ctx
