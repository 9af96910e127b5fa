"""`crm conversations ...` commands."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Sales conversations", no_args_is_help=True)


@app.command("analyze")
def analyze(
    text: str = typer.Argument(..., help="a message"),
    competitor: list[str] = typer.Option([], "--competitor", help="a competitor name (repeatable)"),
) -> None:
    """Print the sales signals of a message (sentiment, intent, buying signals, objections,
    competitors, pricing, timeline, next steps) with confidence and evidence, as JSON."""
    from integrations.conversations.analyzer import extract_sales_signals

    analysis = extract_sales_signals(text, competitors=competitor)
    typer.echo(json.dumps([s.as_dict() for s in analysis.signals], indent=2))


@app.command("process")
def process() -> None:
    """Analyse every landed conversation message not yet analysed into crm.conversation_signals
    (what the conversation_signals Dagster job runs)."""
    from integrations.conversations.store import analyze_new_messages

    typer.echo(json.dumps(analyze_new_messages()))
