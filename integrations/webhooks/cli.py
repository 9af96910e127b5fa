"""`crm webhooks ...` commands."""

from __future__ import annotations

import logging

import typer

app = typer.Typer(help="Webhooks", no_args_is_help=True)


@app.command()
def deliver(
    once: bool = typer.Option(False, help="run one pass and print its counts"),
    interval: float = typer.Option(0.25, help="seconds between idle passes"),
) -> None:
    """Deliver webhooks and campaign e-mails: plan new events, send, retry, dead-letter (foreground)."""
    from integrations.webhooks.worker import run_forever, run_once

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if once:
        typer.echo(run_once())
        return
    run_forever(interval)
