"""`crm app serve`: the managers' dashboards (Streamlit) in the foreground."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from app.nav import ENTRYPOINT

app_app = typer.Typer(help="The managers' dashboards (Streamlit)", no_args_is_help=True)


def streamlit_argv(port: int) -> list[str]:
    """`streamlit run` of the entrypoint: headless, loopback, no usage statistics."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ENTRYPOINT),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
    ]


HEALTH_PATH = "/_stcore/health"
"""Answers 200 once the server is up."""


@app_app.command("serve")
def serve(port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 8501) -> None:
    """Serve the dashboards on 127.0.0.1:PORT until stopped (DATABASE_URL: the warehouse)."""
    os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    os.chdir(ENTRYPOINT.parents[1])
    os.execv(sys.executable, streamlit_argv(port))


def register(app: typer.Typer) -> None:
    app.add_typer(app_app, name="app")
