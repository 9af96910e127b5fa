"""`crm tickets ...` commands."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import typer

from integrations.tickets.enrich import RECENT_ACTIVITIES

app = typer.Typer(help="The ticketing system's tickets", no_args_is_help=True)


@app.command("enrich-stream")
def enrich_stream(
    group: str = typer.Option("crm-ticket-enricher", help="Kafka consumer group of the enricher"),
    topic_prefix: str = typer.Option("", help="Prepended to `tickets` and `tickets-enriched`"),
    from_beginning: bool = typer.Option(False, help="A new group starts at the earliest offset"),
    activities: int = typer.Option(
        RECENT_ACTIVITIES, min=0, max=100, help="Recent activities per enrichment"
    ),
) -> None:
    """Enrich every ticket event with the requester's CRM data and publish it on
    tickets-enriched (foreground; SIGINT/SIGTERM stop it after the batch in flight)."""
    from crm.events.producer import resolve_bootstrap
    from integrations.tickets.stream import Enricher, StreamConfig

    cfg = StreamConfig(
        bootstrap=resolve_bootstrap(None),
        group_id=group,
        topic_prefix=topic_prefix,
        from_beginning=from_beginning,
        activities=activities,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        stats = await Enricher(cfg).run(stop, on_ready=lambda: typer.echo("enricher ready", err=True))
        typer.echo(f"enriched {stats.enriched}, skipped {stats.skipped}")

    asyncio.run(main())
