"""`make demo`: every stage that exists, in data-flow order, then the addresses.

Each stage is a function `(ctx) -> None`; a stage whose component is not in the checkout yet
says so and is skipped. Re-running reuses what runs (the stack, the world of the same seed).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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


def stage_seed(ctx: DemoContext) -> None:
    from crm.sim import seed_world

    # Until a landing worker exists the events are also copied straight into raw.* so the
    # later stages have data; with the lander running they go through Kafka only.
    sink = "kafka" if _exists("streaming.app") else "both"
    summary = seed_world(
        scale=ctx.scale,
        seed=ctx.seed,
        database_url=ctx.database_url,
        bootstrap=ctx.kafka_bootstrap,
        sink=sink,
        progress=True,
    )
    ctx.console.print(summary)


def stage_dbt(ctx: DemoContext) -> None:
    """The warehouse: `dbt build` (models, unit and data tests), the docs, then the dynamic
    segments recalculated over the fresh customer 360."""
    from crm.db import make_engine
    from crm.segments import recalculate_all
    from crm.warehouse import DBT_DIR, run_dbt

    run_dbt(["build"], ctx.database_url)
    run_dbt(["docs", "generate"], ctx.database_url)
    engine = make_engine(ctx.database_url)
    try:
        results = recalculate_all(engine)
    finally:
        engine.dispose()
    stale = [r.name for r in results if not r.ok]
    ctx.console.print(
        f"segments recalculated: {len(results) - len(stale)} ok, {len(stale)} stale {stale or ''}"
    )
    ctx.addresses["dbt docs"] = f"{DBT_DIR / 'target' / 'index.html'} (or: make dbt-docs-serve)"


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
            f"{result.job_def.name}: {state}; {len(events)} assets, {len(checks)} checks"
            + (f", not passing: {', '.join(warned)}" if warned else "")
        )
    rec = local.start_ui(home, ctx.database_url)
    ctx.addresses["Dagster UI"] = rec.url or ""


def stage_ml(ctx: DemoContext) -> None:
    """Train every model per tenant (registered, gated, promoted), then score every lead,
    open deal and active customer and forecast revenue into ml.*. Needs the dbt marts."""
    from ml import jobs, store
    from ml.marts import LEADS

    if not store.table_exists(ctx.database_url, LEADS):
        ctx.console.print("[yellow]skipped[/]: the warehouse marts are not built (run the dbt stage first)")
        return
    report = jobs.train_all(ctx.database_url, seed=ctx.seed)
    table = Table("tenant", "model", "outcome", "detail", title="ML training")
    for r in report.rows:
        table.add_row(r["tenant_id"][:8], r["model"], r["outcome"], r["detail"][:80])
    ctx.console.print(table)
    counts = jobs.score_all(ctx.database_url, seed=ctx.seed)
    ctx.console.print(f"scored: {counts}")


STAGES: list[tuple[str, Callable[[DemoContext], None]]] = [
    ("local stack + migrations", stage_stack),
    ("synthetic world", stage_seed),
    ("warehouse (dbt build)", stage_dbt),
    ("ML: train, promote, score", stage_ml),
    ("dagster: whole graph + UI", stage_dagster),
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
