"""`crm tickets ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="The ticketing system's tickets", no_args_is_help=True)
