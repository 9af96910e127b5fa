"""`crm conversations ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="Sales conversations", no_args_is_help=True)
