"""`crm dbt ...` and `crm segments ...`: the warehouse from the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()
segments_app = typer.Typer(help="Dynamic customer segments", no_args_is_help=True)


def dbt(ctx: typer.Context) -> None:
    """Run dbt on the warehouse project against the configured database: `crm dbt build`,
    `crm dbt docs generate`, `crm dbt test -s fct_deals` (arguments go to dbt as they are)."""
    from warehouse.dbt import run_dbt

    result = run_dbt(ctx.args or ["build"], check=False, timeout=None)
    raise typer.Exit(result.returncode)


@segments_app.command("recalc")
def segments_recalc(
    tenant: Annotated[str | None, typer.Option(help="only this tenant id")] = None,
) -> None:
    """Recalculate every active dynamic segment (a failed one keeps its members, marked stale)."""
    from crm.db import get_engine
    from warehouse.segments import recalculate_all

    results = recalculate_all(get_engine(), tenant_id=tenant)
    table = Table("segment", "members", "status")
    for r in results:
        table.add_row(r.name, str(r.customer_count), "[green]ok[/]" if r.ok else f"[red]stale[/] {r.error}")
    console.print(table)
    if any(not r.ok for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("dbt", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(dbt)
    app.add_typer(segments_app, name="segments")
