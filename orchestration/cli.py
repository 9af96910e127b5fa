"""`crm dagster ...`: the Dagster UI, one run of the whole graph, and whether it is green."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

console = Console()
dagster_app = typer.Typer(help="Orchestration (Dagster)", no_args_is_help=True)


@dagster_app.command("ui")
def ui(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 3000,
    prepare: Annotated[
        bool, typer.Option(help="parse the dbt project first (dbt/target/manifest.json)")
    ] = True,
) -> None:
    """Parse the dbt project, then run `dagster dev` in the foreground (DAGSTER_HOME=.crm/dagster)."""
    from crm.settings import get_settings
    from orchestration import instance

    env = instance.dagster_env(get_settings().home)
    if prepare:
        instance.prepare_manifest(env)
    argv = instance.ui_argv(port)
    os.execvpe(argv[0], argv, env)


@dagster_app.command("manifest")
def manifest() -> None:
    """`dagster-dbt project prepare-and-package`: dbt parse -> dbt/target/manifest.json."""
    from crm.settings import get_settings
    from orchestration import instance

    console.print(str(instance.prepare_manifest(instance.dagster_env(get_settings().home))))


@dagster_app.command("materialize")
def materialize(
    full_refresh: Annotated[
        bool,
        typer.Option(help="rebuild the incremental models from scratch (after a world was seeded again)"),
    ] = False,
) -> None:
    """Observe the landing tables, then materialize the whole graph once (recorded in the local
    instance, so the UI shows it)."""
    from crm.settings import get_settings
    from orchestration import instance

    home = get_settings().home
    instance.prepare_manifest(instance.dagster_env(home))
    observed, built = instance.materialize_everything(home, full_refresh=full_refresh)
    console.print(f"observe_landing: {observed.success}  materialize_everything: {built.success}")
    raise typer.Exit(0 if observed.success and built.success else 1)


@dagster_app.command("status")
def status() -> None:
    """Is the graph green? Every asset materialized (source assets observed) and every asset
    check's latest evaluation passed, in the local Dagster instance (what the UI shows)."""
    from orchestration.status import local_status

    result = local_status()
    for title, names in (
        ("not materialized", result.missing),
        ("failing", result.failed),
        ("never evaluated", result.unevaluated),
    ):
        for name in names:
            console.print(f"[red]{title}[/] {name}")
    console.print(("[green]green[/] " if result.green else "[red]not green[/] ") + result.summary())
    raise typer.Exit(0 if result.green else 1)


def register(app: typer.Typer) -> None:
    app.add_typer(dagster_app, name="dagster")
