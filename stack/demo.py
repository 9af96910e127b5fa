"""`make demo`: every stage in data-flow order, then the addresses.

Each stage is a function `(ctx) -> str` returning its one-line result. While a stage runs, the
terminal shows its name, a progress bar and the time; everything the stage and its children
print (Dagster's run log, dbt, the seed) goes to `.crm/logs/demo.log`. Re-running reuses what
runs (the stack, the world of the same seed).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from crm.settings import PROJECT_ROOT, get_settings
from stack import procs, services


@dataclass
class DemoContext:
    scale: str
    seed: int
    console: Console
    database_url: str = ""
    kafka_bootstrap: str = ""
    addresses: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Lines printed under the addresses (how to get an API token)."""
    seeded: dict[str, int] = field(default_factory=dict)
    """Events the seed sent, per topic; the tenants they belong to in `seeded_tenants`."""
    seeded_tenants: list[str] = field(default_factory=list)
    seeded_at: datetime | None = None
    progress: Progress | None = None
    task: TaskID | None = None

    def advance(self, completed: float, total: float | None = None) -> None:
        """Move the current stage's bar (a stage that never calls this shows a pulsing bar)."""
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=completed, total=total)


def stage_stack(ctx: DemoContext) -> str:
    import stack
    from crm import migrate

    state = stack.up(get_settings().home)
    migrate.upgrade(state.database_url)
    ctx.database_url, ctx.kafka_bootstrap = state.database_url, state.kafka_bootstrap
    ctx.addresses["Postgres"] = state.database_url
    ctx.addresses["Kafka broker"] = state.kafka_bootstrap
    if state.prometheus_url:
        ctx.addresses["Prometheus (alerts: /alerts)"] = state.prometheus_url
    if state.alertmanager_url:
        ctx.addresses["Alertmanager"] = state.alertmanager_url
    ctx.notes += state.notes
    local = ", ".join(state.started) or "nothing"
    return f"migrated; started {local}" + (f", using {', '.join(state.external)}" if state.external else "")


def stage_lander(ctx: DemoContext) -> str:
    """One Faust landing worker (Kafka -> raw.*), started before anything is produced."""
    rec = services.start(get_settings().home, "lander", ctx.database_url, ctx.kafka_bootstrap)
    ctx.addresses["Lander metrics"] = rec.url or ""
    return f"Kafka -> raw.*, metrics at {rec.url}"


def stage_seed(ctx: DemoContext) -> str:
    from sim import seed_world

    ctx.seeded_at = datetime.now(UTC)
    summary = seed_world(
        scale=ctx.scale,
        seed=ctx.seed,
        database_url=ctx.database_url,
        bootstrap=ctx.kafka_bootstrap,
        sink="kafka",
        progress=False,
    )
    ctx.seeded, ctx.seeded_tenants = dict(summary.topics), list(summary.tenant_ids)
    rows = sum(summary.tables.values())
    return (
        f"scale {summary.scale}, seed {summary.seed}: {len(summary.tenant_ids)} tenants, {rows:,} rows, "
        f"{summary.events:,} events sent"
    )


def stage_landed(ctx: DemoContext) -> str:
    """Wait until the lander has committed every seeded event (its group is at the topics' end)."""
    from streaming.lag import wait_landed

    lag = wait_landed(ctx.kafka_bootstrap)
    rows = _wait_rows_landed(ctx)
    return f"{rows:,} seeded events in raw.* (lander caught up on {len(lag)} partitions)"


def stage_partitions(ctx: DemoContext) -> str:
    """The landed history moved from the default partitions to its months (the daily job's step)."""
    from streaming import partitions

    made = partitions.maintain(ctx.database_url)
    return f"{len(made)} monthly partitions of raw.*, {sum(m.rows for m in made):,} rows moved in"


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
            have: dict[str, int] = dict(conn.execute(landed, {"t": ctx.seeded_tenants}).fetchall())
            for topic, n in conn.execute(dead, {"since": ctx.seeded_at}).fetchall():
                logical = topic.rsplit(".", 1)[-1]
                if logical in have:
                    have[logical] += n
            ctx.advance(sum(min(have[t], n) for t, n in want.items()), sum(want.values()))
            missing = {t: n - have[t] for t, n in want.items() if have[t] < n}
            if not missing:
                return sum(have.values())
            if time.monotonic() > deadline:
                raise TimeoutError(f"seeded events not all landed after {timeout:.0f}s: {missing}")
            time.sleep(0.5)


def stage_real_data(ctx: DemoContext) -> str:
    """CDNOW, a real music store's orders (1997-98, from the lifetimes wheel), imported the way
    a user's order history is (`crm import transactions`) as a tenant of its own, its clock at
    the data's end, with a manager to sign in as. A second demo finds it unchanged."""
    import psycopg

    from crm.db import libpq_url
    from crm.keys import staff
    from crm.keys.keyring import keyring
    from integrations.imports.run import import_files
    from integrations.imports.samples import CDNOW_COLUMNS, CDNOW_NAME, CDNOW_TENANT, cdnow_csv

    folder = get_settings().home / "data"
    folder.mkdir(parents=True, exist_ok=True)
    result = import_files(
        "transactions",
        [cdnow_csv(folder)],
        CDNOW_TENANT,
        columns=CDNOW_COLUMNS,
        create_tenant=CDNOW_NAME,
        clock="last",
        url=ctx.database_url,
        progress=lambda _kind, done, total: ctx.advance(done, total),
    )
    url = libpq_url(ctx.database_url)
    manager = {"email": f"manager@{CDNOW_TENANT}.example", "full_name": "CDNOW manager"}
    row = staff.seal_row(result.tenant_id, manager, keyring(url))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(  # once: a manager stored before encryption is found by its text
            "INSERT INTO crm.users (tenant_id, email, full_name, email_bidx, role)"
            " SELECT %(t)s, %(sealed)s, %(name)s, %(bidx)s, 'manager' WHERE NOT EXISTS"
            f" (SELECT 1 FROM crm.users u WHERE u.tenant_id = %(t)s AND {staff.email_match('u')})"
            " ON CONFLICT (tenant_id, email_bidx) DO NOTHING",
            {
                "t": result.tenant_id,
                "sealed": row["email"],
                "name": row["full_name"],
                "bidx": row[staff.EMAIL_INDEX],
            }
            | staff.email_params(manager["email"]),
        )
    orders = result.counts.get("transaction", {})
    return (
        f"tenant {CDNOW_TENANT}: {orders.get('created', 0):,} orders imported, {orders.get('unchanged', 0):,} unchanged"
        f" (crm import transactions; clock {result.clock:%Y-%m-%d})"
    )


def stage_dagster(ctx: DemoContext) -> str:
    """Materialize the whole graph once (recorded in .crm/dagster), then start the UI."""
    from dagster import DagsterEventType

    from orchestration import instance
    from orchestration.status import local_status

    home = get_settings().home
    instance.prepare_manifest(instance.dagster_env(home, ctx.database_url))
    # the world was just seeded (replacing any earlier one of the same seed): the incremental
    # models are rebuilt from it, so nothing of a replaced world stays in the event stores
    observed, built = instance.materialize_everything(home, ctx.database_url, full_refresh=True)
    failed = [
        e.step_key
        for result in (observed, built)
        for e in result.all_events
        if e.event_type == DagsterEventType.STEP_FAILURE
    ]
    status = local_status()
    rec = services.start(home, "dagster", ctx.database_url, ctx.kafka_bootstrap, extra_args=("--no-prepare",))
    ctx.addresses["Dagster UI"] = rec.url or ""
    line = ("green: " if status.green else "[red]not green[/]: ") + status.summary()
    if failed:
        line += f"; [red]failed steps[/] {', '.join(sorted(set(failed)))}"
    if status.failed:
        line += f"; [yellow]checks not passing[/] {', '.join(status.failed)}"
    return line


def stage_dbt_docs(ctx: DemoContext) -> str:
    """dbt docs for analysts (the models themselves were built by the Dagster run)."""
    from warehouse.dbt import DBT_DIR, run_dbt

    run_dbt(["docs", "generate"], ctx.database_url)
    index = DBT_DIR / "target" / "index.html"
    ctx.addresses["dbt docs"] = f"{index} (or: make dbt-docs-serve)"
    return f"written to {index.relative_to(PROJECT_ROOT)}"


def stage_api(ctx: DemoContext) -> str:
    """The write API (uvicorn, 2 workers) and the outbox relay, as background services."""
    from api.admin import token_for

    home = get_settings().home
    rec = services.start(home, "api", ctx.database_url, ctx.kafka_bootstrap)
    services.start(home, "outbox-relay", ctx.database_url, ctx.kafka_bootstrap)
    ctx.addresses["API (OpenAPI docs)"] = f"{rec.url}/docs"
    try:
        _, user = token_for(None, None, "admin", 3600)
    except Exception as exc:  # no admin user seeded: the API still runs
        return f"serving at {rec.url} (no admin user to mint a demo token for: {exc})"
    ctx.notes.append(
        f"API token for {user['email']} (tenant {user['slug']}): "
        f"TOKEN=$(.venv/bin/crm api-token --tenant {user['slug']} --role admin); "
        f'curl -H "Authorization: Bearer $TOKEN" {rec.url}/leads?limit=3'
    )
    return f"serving at {rec.url}; outbox relay publishing crm.outbox to crm-changes"


def stage_app(ctx: DemoContext) -> str:
    """The managers' dashboards (Streamlit), with a demo sign-in per tenant."""
    from stack.demo_logins import demo_password, demo_sign_in

    home = get_settings().home
    password = demo_password(home)
    logins = demo_sign_in(ctx.database_url, password)
    rec = services.start(home, "app", ctx.database_url, ctx.kafka_bootstrap)
    ctx.addresses["Dashboards (Streamlit)"] = rec.url or ""
    for login in logins:
        ctx.addresses[f"  sign in · {login.tenant}"] = f"{login.email} / {password}"
    return f"serving at {rec.url}, {len(logins)} demo sign-ins"


def stage_ops_metrics(ctx: DemoContext) -> str:
    """The stores' gauges for Prometheus (`crm ops metrics`): runs, freshness, drift, queues."""
    rec = services.start(get_settings().home, "ops-metrics", ctx.database_url, ctx.kafka_bootstrap)
    ctx.addresses["Ops metrics"] = rec.url or ""
    return f"serving at {rec.url}, scraped by Prometheus"


STAGES: list[tuple[str, Callable[[DemoContext], str]]] = [
    ("local stack + migrations", stage_stack),
    ("landing worker", stage_lander),
    ("synthetic world", stage_seed),
    ("seeded events landed in raw.*", stage_landed),
    ("real data: CDNOW imported", stage_real_data),
    ("raw.* by month", stage_partitions),
    ("dagster: the whole graph (dbt, ML, segments) + UI", stage_dagster),
    ("dbt docs", stage_dbt_docs),
    ("write API + outbox relay", stage_api),
    ("dashboards", stage_app),
    ("monitoring: ops metrics", stage_ops_metrics),
]


@contextlib.contextmanager
def output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so child processes and
    logging handlers too) to `log` for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("ab") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _terminal(console: Console) -> tuple[Console, TextIO]:
    """A console on a copy of the terminal's descriptor, which `output_to` leaves alone."""
    stream = os.fdopen(os.dup(console.file.fileno() if hasattr(console.file, "fileno") else 1), "w")
    # a file or a pipe gets whole lines (no wrapping at 80 columns) and no live display
    width = console.width if console.is_terminal else 200
    return Console(file=stream, force_terminal=console.is_terminal, width=width), stream


def run_demo(scale: str, seed: int, console: Console) -> DemoContext:
    home = get_settings().home
    log = procs.log_dir(home) / "demo.log"
    term, stream = _terminal(console)
    ctx = DemoContext(scale=scale, seed=seed, console=term)
    term.print(f"[bold]CRM analytics demo[/]: scale {scale}, seed {seed}; full log in {log}")
    try:
        for name, fn in STAGES:
            t0 = time.monotonic()
            with (
                Progress(
                    SpinnerColumn(),
                    TextColumn("{task.description}"),
                    BarColumn(),
                    TimeElapsedColumn(),
                    console=term,
                    transient=True,
                    disable=not term.is_terminal,
                ) as progress,
                output_to(log),
            ):
                ctx.progress, ctx.task = progress, progress.add_task(name, total=None)
                failure: BaseException | None = None
                try:
                    result = fn(ctx)
                except BaseException as exc:
                    failure = exc
            ctx.progress = ctx.task = None
            took = time.monotonic() - t0
            if failure is not None:
                term.print(f"[red]✗[/] {name} failed after {took:.1f}s: {failure}")
                tail = log.read_text(errors="replace").splitlines()[-20:]
                term.print("\n".join(tail), markup=False, highlight=False)
                term.print(f"full log: {log}")
                raise failure
            term.print(f"[green]✓[/] {name} [dim]({took:.1f}s)[/]: {result}")
        table = Table("component", "address", title="CRM analytics stack is up")
        for k, v in ctx.addresses.items():
            table.add_row(k, v)
        term.print(table)
        for note in ctx.notes:
            term.print(note, markup=False, highlight=False)
        term.print(f"Stop everything with [bold]make down[/] (state in {home}, code in {PROJECT_ROOT}).")
    finally:
        stream.flush()
    return ctx
