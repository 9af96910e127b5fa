"""`crm ops ...`: the monitoring commands."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

ops = typer.Typer(help="monitoring: the stores' metrics for Prometheus", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(ops, name="ops")


@ops.command("metrics")
def metrics(
    port: Annotated[int, typer.Option(help="serve GET /metrics on this port")] = 9464,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    once: Annotated[bool, typer.Option("--once", help="print one scrape's exposition text and exit")] = False,
    timeout_ms: Annotated[int, typer.Option(help="bound of each database statement")] = 5000,
    dagster_home: Annotated[
        Path | None, typer.Option(help="the Dagster instance (default: DAGSTER_HOME, else .crm/dagster)")
    ] = None,
) -> None:
    """The stores' metrics (warehouse freshness, Dagster runs and checks, model drift, integration
    queues) in the Prometheus text format, read on each scrape (monitoring/collector.py)."""
    from prometheus_client import generate_latest

    from monitoring.collector import OpsCollector, ops_registry

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    collector = OpsCollector(dagster_home=dagster_home, timeout_ms=timeout_ms)
    registry = ops_registry(collector)
    if once:
        sys.stdout.write(generate_latest(registry).decode())
        collector.dagster.close()
        return
    serve(registry, host, port)
    collector.dagster.close()


def serve(registry, host: str, port: int) -> None:
    """One scrape at a time on host:port until SIGTERM or SIGINT."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from prometheus_client import make_wsgi_app

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args) -> None:  # one line per scrape is noise
            pass

    server = make_server(host, port, make_wsgi_app(registry), handler_class=QuietHandler)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    logging.getLogger("monitoring").info("serving the ops metrics on http://%s:%d/metrics", host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
