"""`crm ops ...`: the monitoring commands."""

from __future__ import annotations

import typer

ops = typer.Typer(help="monitoring: the stores' metrics for Prometheus", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(ops, name="ops")
