"""`crm lander`: one landing worker in the foreground (Kafka -> raw.*); `crm raw partitions |
retention`: the landing tables' months; `crm raw dead-letters`: refused events, opened."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer


def worker_argv(web_port: int, log_level: str = "info") -> list[str]:
    """The Faust worker of `streaming.app`; its web server (/metrics) on `web_port`."""
    faust = str(Path(sys.executable).with_name("faust"))
    return [faust, "-A", "streaming.app", "worker", "-l", log_level, "--web-port", str(web_port)]


def lander(
    web_port: Annotated[int, typer.Option(help="port of its web server (/metrics)")] = 6066,
    log_level: Annotated[str, typer.Option(help="crit, error, warn, info or debug")] = "info",
) -> None:
    """Run a landing worker in the foreground: Kafka topics -> raw.* (metrics at /metrics).
    Several workers form one consumer group; each needs its own --web-port."""
    argv = worker_argv(web_port, log_level)
    os.execv(argv[0], argv)


raw = typer.Typer(help="the landing tables' monthly partitions and their retention", no_args_is_help=True)


@raw.command("partitions")
def raw_partitions(
    ahead: Annotated[int, typer.Option(help="months after this one to create now")] = 2,
) -> None:
    """Create the months ahead and move rows waiting in the default partitions to their month's."""
    from streaming import partitions

    made = partitions.maintain(ahead=ahead)
    for m in made:
        print(f"created {m.partition} ({m.rows} rows moved in)")
    print(f"{len(made)} partitions created")


@raw.command("retention")
def raw_retention(
    keep_months: Annotated[int, typer.Option(help="months before this one to keep")],
    apply: Annotated[bool, typer.Option("--apply", help="drop them (default: only list them)")] = False,
) -> None:
    """Drop the months of raw events that end before the kept ones (a dry run unless --apply)."""
    from streaming import partitions

    cutoff = partitions.retention_cutoff(keep_months)
    dropped = partitions.drop_before(cutoff, dry_run=not apply)
    verb = "dropped" if apply else "would drop"
    for d in dropped:
        print(f"{verb} {d.partition} ({d.rows} rows)")
    print(f"events before {cutoff:%Y-%m-%d}: {verb} {sum(d.rows for d in dropped)} rows")


@raw.command("dead-letters")
def raw_dead_letters(
    topic: Annotated[str | None, typer.Option(help="only this Kafka topic's")] = None,
    reason: Annotated[
        str | None, typer.Option(help="only this reason code's (NOT_JSON, CONFLICT, ...)")
    ] = None,
    ids: Annotated[list[int] | None, typer.Option("--id", help="these rows (repeat the option)")] = None,
    limit: Annotated[int, typer.Option(help="newest rows to show")] = 20,
) -> None:
    """The newest dead letters, one JSON object per line, with the bytes sent opened (they are
    stored sealed under the deployment's data key): what to fix, or to send again."""
    import orjson

    from streaming.undelivered import dead_letters

    for row in dead_letters(topic=topic, reason=reason, ids=ids or (), limit=limit):
        sys.stdout.write(orjson.dumps(row, default=str).decode() + "\n")


def register(app: typer.Typer) -> None:
    app.command()(lander)
    app.add_typer(raw, name="raw")
