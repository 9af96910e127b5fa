"""`crm lander`: one landing worker in the foreground (Kafka -> raw.*)."""

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


def register(app: typer.Typer) -> None:
    app.command()(lander)
