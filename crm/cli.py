"""The `crm` command: local stack, migrations, the synthetic world, the demo."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from crm.settings import get_settings

app = typer.Typer(help="CRM analytics stack", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Schema migrations (Alembic)", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()


@app.command()
def up(
    lander: Annotated[bool, typer.Option(help="run a landing worker on the local broker")] = True,
) -> None:
    """Start the local stack (what DATABASE_URL / KAFKA_BOOTSTRAP don't provide) and migrate."""
    from crm import migrate, stack

    home = get_settings().home
    state = stack.up(home)
    migrate.upgrade(state.database_url)
    for name in state.started:
        console.print(f"[green]running[/] {name} (local)")
    if lander and "kafka" not in state.external:
        # A production broker gets its own, deployed workers (README "Streaming"); the local
        # one gets one here, started in the background (it joins its group in a few seconds).
        from streaming import service

        rec = service.start(home, state.database_url, state.kafka_bootstrap, wait=False)
        console.print(f"[green]running[/] lander (Kafka -> raw.*), metrics at {rec.url}")
    for name in state.external:
        console.print(f"[cyan]using[/] {name} from the environment")
    console.print(
        f"Postgres  {state.database_url}\nKafka     {state.kafka_bootstrap}\nenv file  {home / 'env'}"
    )


@app.command()
def down() -> None:
    """Stop everything the project started (PID files under .crm/run), nothing else."""
    from crm import stack

    stopped = stack.down(get_settings().home)
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@app.command()
def purge(yes: Annotated[bool, typer.Option("--yes", help="don't ask")] = False) -> None:
    """Stop the local stack and delete its state (the embedded database included)."""
    from crm import stack

    home = get_settings().home
    if not yes and not typer.confirm(f"Delete {home} and the local database?"):
        raise typer.Abort()
    stack.purge(home)
    console.print(f"removed {home}")


@app.command()
def status() -> None:
    """What runs, where."""
    from crm import stack

    table = Table("service", "pid", "address", "state")
    for rec, alive in stack.status(get_settings().home):
        table.add_row(rec.name, str(rec.pid), rec.url or "", "[green]up[/]" if alive else "[red]dead[/]")
    console.print(table)


@app.command("env")
def env_cmd() -> None:
    """Print `export` lines for the current stack (eval "$(crm env)")."""
    from crm.db import pg_env

    s = get_settings()
    if s.database_url:
        print(f"export DATABASE_URL='{s.database_url}'")
        for k, v in pg_env().items():
            print(f"export {k}='{v}'")
    if s.kafka_bootstrap:
        print(f"export KAFKA_BOOTSTRAP='{s.kafka_bootstrap}'")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    from crm import migrate

    migrate.upgrade(None, revision)
    console.print(f"at {migrate.current(None)}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "base") -> None:
    from crm import migrate

    migrate.downgrade(None, revision)
    console.print(f"at {migrate.current(None)}")


@db_app.command("current")
def db_current() -> None:
    from crm import migrate

    console.print(str(migrate.current(None)))


@app.command()
def seed(
    scale: Annotated[str, typer.Option(help="S, M or L")] = "S",
    seed: Annotated[int, typer.Option(help="random seed: same seed, same world")] = 42,
    as_of: Annotated[str | None, typer.Option(help="the world's today, YYYY-MM-DD (default: today)")] = None,
    sink: Annotated[str, typer.Option(help="kafka, raw (COPY into raw.*) or both")] = "kafka",
) -> None:
    """Seed the synthetic CRM world (operational rows, hidden truth, events)."""
    from crm.sim import seed_world

    day = dt.date.fromisoformat(as_of) if as_of else None
    summary = seed_world(scale=scale.upper(), seed=seed, as_of=day, sink=sink, progress=True)
    console.print(summary)


@app.command()
def dagster(
    materialize: Annotated[
        bool, typer.Option(help="materialize the whole graph once before starting the UI")
    ] = False,
) -> None:
    """Start the Dagster UI (`dagster dev`, DAGSTER_HOME=.crm/dagster) on the running stack."""
    from orchestration import local

    home = get_settings().home
    local.prepare_manifest(local.dagster_env(home))
    if materialize:
        observed, built = local.materialize_everything(home)
        console.print(f"observe_landing: {observed.success}  materialize_everything: {built.success}")
    rec = local.start_ui(home)
    console.print(f"Dagster UI  {rec.url}  (pid {rec.pid}; `make down` stops it)")


@app.command("dagster-status")
def dagster_status() -> None:
    """Is the graph green? Every asset materialized (source assets observed) and every asset
    check's latest evaluation passed, in the local Dagster instance (what the UI shows)."""
    from orchestration.status import local_status

    status = local_status()
    for title, names in (
        ("not materialized", status.missing),
        ("failing", status.failed),
        ("never evaluated", status.unevaluated),
    ):
        for name in names:
            console.print(f"[red]{title}[/] {name}")
    console.print(("[green]green[/] " if status.green else "[red]not green[/] ") + status.summary())
    raise typer.Exit(0 if status.green else 1)


@app.command()
def demo(
    scale: Annotated[str, typer.Option()] = "S",
    seed: Annotated[int, typer.Option()] = 42,
) -> None:
    """Everything on embedded defaults: stack, world, every stage, then the addresses."""
    from crm.demo import run_demo

    run_demo(scale=scale.upper(), seed=seed, console=console)


@app.command(
    "dbt",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def dbt_cmd(ctx: typer.Context) -> None:
    """Run dbt on the warehouse project against the configured database: `crm dbt build`,
    `crm dbt docs generate`, `crm dbt test -s fct_deals` (arguments go to dbt as they are)."""
    from crm.warehouse import run_dbt

    result = run_dbt(ctx.args or ["build"], check=False, timeout=None)
    raise typer.Exit(result.returncode)


segments_app = typer.Typer(help="Dynamic customer segments", no_args_is_help=True)
app.add_typer(segments_app, name="segments")


@segments_app.command("recalc")
def segments_recalc(
    tenant: Annotated[str | None, typer.Option(help="only this tenant id")] = None,
) -> None:
    """Recalculate every active dynamic segment (a failed one keeps its members, marked stale)."""
    from crm.db import get_engine
    from crm.segments import recalculate_all

    results = recalculate_all(get_engine(), tenant_id=tenant)
    table = Table("segment", "members", "status")
    for r in results:
        table.add_row(r.name, str(r.customer_count), "[green]ok[/]" if r.ok else f"[red]stale[/] {r.error}")
    console.print(table)
    if any(not r.ok for r in results):
        raise typer.Exit(1)


# --- the write API (issue 7) ---------------------------------------------------------------

keys_app = typer.Typer(help="API keys for integrations (stored hashed; shown once)", no_args_is_help=True)
app.add_typer(keys_app, name="api-keys")


def _fail(exc: Exception) -> None:
    console.print(f"[red]{exc}[/]")
    raise typer.Exit(1)


@app.command("api")
def api_serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes (one per core)")] = 2,
) -> None:
    """Run the write API (uvicorn, uvloop, httptools); OpenAPI page at /docs."""
    from api.admin import serve

    serve(host, port, workers)


@app.command("api-token")
def api_token(
    email: Annotated[str | None, typer.Option(help="the user's e-mail")] = None,
    tenant: Annotated[str | None, typer.Option(help="tenant slug")] = None,
    role: Annotated[str | None, typer.Option(help="pick the first user with this role")] = None,
    ttl: Annotated[int, typer.Option(help="lifetime in seconds")] = 3600,
) -> None:
    """Mint a JWT for a user (dev and scripts): prints the token alone on stdout."""
    from api.admin import token_for
    from crm.errors import CRMError

    try:
        tok, user = token_for(email, tenant, role, ttl)
    except (CRMError, RuntimeError) as exc:
        _fail(exc)
    Console(stderr=True).print(f"token for {user['email']} ({user['role']}) of tenant {user['slug']}, {ttl}s")
    print(tok)


@keys_app.command("create")
def api_keys_create(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    name: Annotated[str, typer.Option()],
    scope: Annotated[list[str], typer.Option(help="permission, repeatable (e.g. leads:write)")],
) -> None:
    """Create a key; the key itself is printed once and stored only as a hash."""
    from api.admin import create_api_key
    from crm.errors import CRMError

    try:
        row = create_api_key(tenant, name, scope)
    except CRMError as exc:
        _fail(exc)
    Console(stderr=True).print(
        f"key {row['id']} ({row['name']}, scopes {', '.join(row['scopes'])}): store it now"
    )
    print(row["key"])


@keys_app.command("revoke")
def api_keys_revoke(key_id: Annotated[str, typer.Argument()]) -> None:
    from uuid import UUID

    from api.admin import revoke_api_key
    from crm.errors import CRMError

    try:
        row = revoke_api_key(UUID(key_id))
    except (CRMError, ValueError) as exc:
        _fail(exc)
    console.print(f"revoked {row['id']} ({row['name']}) at {row['revoked_at']}")


@keys_app.command("list")
def api_keys_list(tenant: Annotated[str | None, typer.Option()] = None) -> None:
    from api.admin import list_api_keys

    table = Table("id", "tenant", "name", "prefix", "scopes", "last used", "revoked")
    for k in list_api_keys(tenant):
        table.add_row(
            str(k["id"]),
            k["tenant"],
            k["name"],
            k["key_prefix"],
            ",".join(k["scopes"]),
            str(k["last_used_at"] or ""),
            str(k["revoked_at"] or ""),
        )
    console.print(table)


@app.command("outbox-relay")
def outbox_relay() -> None:
    """Publish crm.outbox rows to `crm-changes` until stopped (SIGTERM/Ctrl-C)."""
    import asyncio
    import logging

    from api.outbox import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve())


models_app = typer.Typer(help="ML model registry (ml.model_versions)", no_args_is_help=True)
app.add_typer(models_app, name="models")
ml_app = typer.Typer(help="ML jobs: train, score, explain", no_args_is_help=True)
app.add_typer(ml_app, name="ml")


def _tenant_ids(tenant: str | None) -> list[str] | None:
    return [tenant] if tenant else None


@models_app.command("list")
def models_list(
    tenant: Annotated[str | None, typer.Option(help="only this tenant id")] = None,
    name: Annotated[str | None, typer.Option(help="only this model name")] = None,
) -> None:
    """Every registered model version with its status and holdout metrics."""
    from ml import registry

    table = Table("tenant", "model", "version", "status", "trained", "auc / mape", "baseline", "reason")
    for v in registry.list_versions(None, tenant, name):
        m = v.metrics
        score = m.get("auc", m.get("backtest_mape"))
        base = m.get("baseline_auc", m.get("seasonal_naive_mape"))
        table.add_row(
            v.tenant_id[:8],
            v.name,
            str(v.version),
            v.status,
            f"{v.trained_at:%Y-%m-%d %H:%M}",
            f"{score:.3f}" if isinstance(score, float) else "-",
            f"{base:.3f}" if isinstance(base, float) else "-",
            (v.reason or "")[:60],
        )
    console.print(table)


@models_app.command("promote")
def models_promote(
    tenant: Annotated[str, typer.Option(help="tenant id")],
    name: Annotated[str, typer.Argument(help="model name, e.g. lead_scoring")],
    version: Annotated[int, typer.Argument(help="version to make active")],
) -> None:
    """Make a version active (operator override: the automatic gate runs at training)."""
    from ml import registry
    from ml.errors import CRMError

    try:
        v = registry.promote(None, tenant, name, version, "promoted by operator")
    except CRMError as exc:
        console.print(f"[red]{exc.code}[/] {exc.message}")
        raise typer.Exit(1) from exc
    console.print(f"[green]active[/] {v.label} for tenant {tenant}")


@models_app.command("rollback")
def models_rollback(
    tenant: Annotated[str, typer.Option(help="tenant id")],
    name: Annotated[str, typer.Argument(help="model name")],
) -> None:
    """Retire the active version and restore the one active before it (or none: rules answer)."""
    from ml import registry
    from ml.errors import CRMError

    try:
        v = registry.rollback(None, tenant, name)
    except CRMError as exc:
        console.print(f"[red]{exc.code}[/] {exc.message}")
        raise typer.Exit(1) from exc
    console.print(
        f"[green]active[/] {v.label}" if v else "no earlier version: the rule-based fallback answers now"
    )


@ml_app.command("train")
def ml_train(
    seed: Annotated[int, typer.Option(help="random seed")] = 42,
    tenant: Annotated[str | None, typer.Option(help="only this tenant id")] = None,
) -> None:
    """Train every model per tenant on the warehouse marts; register, gate and promote."""
    from ml import jobs

    report = jobs.train_all(None, seed=seed, tenants=_tenant_ids(tenant))
    table = Table("tenant", "model", "outcome", "detail")
    for r in report.rows:
        table.add_row(r["tenant_id"][:8], r["model"], r["outcome"], r["detail"][:90])
    console.print(table)


@ml_app.command("score")
def ml_score(
    seed: Annotated[int, typer.Option(help="random seed (forecast intervals)")] = 42,
    tenant: Annotated[str | None, typer.Option(help="only this tenant id")] = None,
) -> None:
    """Score leads, open deals and customers, forecast revenue; write ml.*."""
    from ml import jobs

    console.print(jobs.score_all(None, seed=seed, tenants=_tenant_ids(tenant)))


@ml_app.command("explain")
def ml_explain(lead_id: Annotated[str, typer.Argument(help="lead id")]) -> None:
    """explainLeadScore: score, factors with signed contributions, advice, for one lead."""
    import orjson

    from ml import service
    from ml.errors import CRMError

    try:
        out = service.explain_lead_score(None, lead_id)
    except CRMError as exc:
        console.print(f"[red]{exc.code}[/] {exc.message}")
        raise typer.Exit(1) from exc
    console.print_json(orjson.dumps(out, default=str).decode())


if __name__ == "__main__":
    app()


@app.command("app")
def app_cmd(
    port: Annotated[int, typer.Option(help="port (0: a free one)")] = 0,
) -> None:
    """Start the managers' dashboards in the background (`crm down` stops them), print the
    address and a demo sign-in per tenant (password generated into .crm/env)."""
    from app import serve
    from crm import migrate, stack

    home = get_settings().home
    state = stack.up(home)
    migrate.upgrade(state.database_url)
    password = serve.demo_password(home)
    logins = serve.demo_sign_in(state.database_url, password)
    rec = serve.start(home, state.database_url, port or None)
    console.print(f"Dashboards  {rec.url}  (log: {home / 'logs' / 'app.log'})")
    for login in logins:
        console.print(f"  sign in · {login.tenant}: {login.email} / {password}")
    if not logins:
        console.print("no users yet: `crm seed` first to get a demo sign-in")
