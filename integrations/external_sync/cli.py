"""`crm external-sync ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="Two-way sync with HubSpot and Salesforce through their SDKs", no_args_is_help=True)
