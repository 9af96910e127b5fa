"""The `crm` command: the local stack (`up`, `down`, `status`, `env`, `purge`), the demo, and
every layer's own sub-commands, each registered by its layer (`<package>/cli.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api import cli as api_cli
from app import cli as app_cli
from crm import cli as crm_cli
from crm.settings import get_settings
from integrations import cli as integrations_cli
from ml import cli as ml_cli
from monitoring import cli as monitoring_cli
from orchestration import cli as orchestration_cli
from sim import cli as sim_cli
from stack import replica_cli
from streaming import cli as streaming_cli
from warehouse import cli as warehouse_cli

app = typer.Typer(help="CRM analytics stack", no_args_is_help=True, add_completion=False)
console = Console()

for layer in (
    crm_cli,
    sim_cli,
    streaming_cli,
    warehouse_cli,
    ml_cli,
    integrations_cli,
    api_cli,
    app_cli,
    orchestration_cli,
    monitoring_cli,
):
    layer.register(app)

app.add_typer(replica_cli.replica, name="replica")


def _print_sign_in(home: Path, database_url: str) -> None:
    from stack.demo_logins import demo_password, demo_sign_in

    password = demo_password(home)
    logins = demo_sign_in(database_url, password)
    for login in logins:
        console.print(f"  sign in · {login.tenant}: {login.email} / {password}")
    if not logins:
        console.print("no users yet: `crm seed` first to get a demo sign-in")


@app.command()
def up(
    services: Annotated[
        list[str] | None,
        typer.Argument(help="also start these in the background: api, outbox-relay, app, dagster"),
    ] = None,
    lander: Annotated[bool, typer.Option(help="run a landing worker on the local broker")] = True,
) -> None:
    """Start the local stack (what DATABASE_URL / KAFKA_BOOTSTRAP don't provide), migrate, and
    start the named services; `crm down` stops them."""
    import stack
    from crm import migrate
    from stack import services as svc

    unknown = sorted(set(services or ()) - set(svc.SERVICES))
    if unknown:
        raise typer.BadParameter(f"unknown service(s) {unknown}: choose from {sorted(svc.SERVICES)}")
    home = get_settings().home
    state = stack.up(home)
    migrate.upgrade(state.database_url)
    for name in state.started:
        console.print(f"[green]running[/] {name} (local)")
    for name in state.external:
        console.print(f"[cyan]using[/] {name} from the environment")
    # A production broker gets its own, deployed landing workers (docs/operators.md); the
    # local one gets one here.
    wanted = (["lander"] if lander and "kafka" not in state.external else []) + list(services or ())
    for name in dict.fromkeys(wanted):
        rec = svc.start(home, name, state.database_url, state.kafka_bootstrap, wait=name != "lander")
        console.print(f"[green]running[/] {name}" + (f" at {rec.url}" if rec.url else ""))
        if name == "app":
            _print_sign_in(home, state.database_url)
    for note in state.notes:
        console.print(f"[yellow]{note}[/]")
    for label, address in (
        ("Postgres", state.database_url),
        ("Kafka", state.kafka_bootstrap),
        ("Redis", state.redis_url),
        ("Prometheus", state.prometheus_url or "-"),
        ("Alertmanager", state.alertmanager_url or "-"),
        ("env file", str(home / "env")),
    ):
        console.print(f"{label:<13}{address}")


@app.command()
def down() -> None:
    """Stop everything the project started (PID files under .crm/run), nothing else."""
    import stack

    stopped = stack.down(get_settings().home)
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@app.command()
def purge(yes: Annotated[bool, typer.Option("--yes", help="don't ask")] = False) -> None:
    """Stop the local stack and delete its state (the embedded database included)."""
    import stack

    home = get_settings().home
    if not yes and not typer.confirm(f"Delete {home} and the local database?"):
        raise typer.Abort()
    stack.purge(home)
    console.print(f"removed {home}")


@app.command()
def status() -> None:
    """What runs, where."""
    import stack

    s = get_settings()
    table = Table("service", "pid", "address", "state")
    local = set()
    for rec, alive in stack.status(s.home):
        local.add(rec.name)
        table.add_row(rec.name, str(rec.pid), rec.url or "", "[green]up[/]" if alive else "[red]dead[/]")
    for name, url in (("prometheus", s.prometheus_url), ("alertmanager", s.alertmanager_url)):
        if url and name not in local:
            table.add_row(name, "", url, "[cyan]external[/]")
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
    if s.redis_url:
        print(f"export REDIS_URL='{s.redis_url}'")
    if s.prometheus_url:
        print(f"export PROMETHEUS_URL='{s.prometheus_url}'")
    if s.alertmanager_url:
        print(f"export ALERTMANAGER_URL='{s.alertmanager_url}'")


@app.command()
def demo(
    scale: Annotated[
        str, typer.Option(help="D (S with one mid-market tenant: every model trains), S, M or L")
    ] = "D",
    seed: Annotated[int, typer.Option()] = 42,
) -> None:
    """Everything on embedded defaults: stack, world, every stage, then the addresses."""
    from stack.demo import run_demo

    run_demo(scale=scale.upper(), seed=seed, console=console)


if __name__ == "__main__":
    app()
