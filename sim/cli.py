"""`crm seed`: write the synthetic CRM world (operational rows, hidden truth, events)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.console import Console


def seed(
    scale: Annotated[str, typer.Option(help="S, D (the demo's), M or L")] = "S",
    seed: Annotated[int, typer.Option(help="random seed: same seed, same world")] = 42,
    as_of: Annotated[str | None, typer.Option(help="the world's today, YYYY-MM-DD (default: today)")] = None,
    sink: Annotated[str, typer.Option(help="kafka, raw (COPY into raw.*) or both")] = "kafka",
) -> None:
    """Seed the synthetic CRM world (operational rows, hidden truth, events)."""
    from sim import seed_world

    day = dt.date.fromisoformat(as_of) if as_of else None
    summary = seed_world(scale=scale.upper(), seed=seed, as_of=day, sink=sink, progress=True)
    Console().print(summary)


def register(app: typer.Typer) -> None:
    app.command()(seed)
