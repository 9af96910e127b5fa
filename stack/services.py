"""Background services of the local stack, all started one way.

Each long-running component has a foreground command registered by its own layer
(`crm lander`, `crm api`, `crm outbox-relay`, `crm app serve`, `crm dagster ui`). Here each gets
a name, the arguments of that command and how to tell it is ready; `start` runs it detached
through `stack.procs` (PID file `.crm/run/<name>.pid`, log `.crm/logs/<name>.log`, stopped by
`crm down`) and waits until it answers. A service that already runs is reused. One that serves
metrics gets a scrape target for the local Prometheus (`stack.prometheus.write_target`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.cli import HEALTH_PATH
from crm.settings import PROJECT_ROOT, get_settings
from orchestration.instance import SERVER_INFO_PATH
from stack import procs, prometheus


@dataclass(frozen=True)
class Service:
    name: str
    args: Callable[[int], list[str]]
    """`crm` arguments of its foreground command, given the port it should use."""
    ready_path: str | None
    """HTTP path that answers 200 once it serves; None: ready when its port is open."""
    url: Callable[[int], str]
    timeout: float = 120.0
    env: dict[str, str] = field(default_factory=dict)
    """Defaults for the local stack (the environment overrides them)."""
    preferred_port: int | None = None
    """Used when free (the documented address), else any free port."""
    uses_port: bool = True
    metrics_path: str | None = None
    """Where Prometheus scrapes it (None: it serves no metrics)."""
    nice: int = 0
    """Scheduling priority it runs at (and its children): batch work yields the cores."""


def _http(port: int) -> str:
    return f"http://127.0.0.1:{port}"


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service(
            "lander",
            lambda p: ["lander", "--web-port", str(p)],
            None,
            lambda p: f"{_http(p)}/metrics",
            timeout=180,
            metrics_path="/metrics",
            # `crm seed` writes a new world's tenants in one transaction while its events are
            # already flowing: the lander parks them until that commit (LANDER_PARK_TIMEOUT, 600 s
            # by default, is far longer than a seed's transaction), holding nothing else up.
        ),
        Service(
            "api",
            lambda p: ["api", "--port", str(p), "--workers", "2"],
            "/health",
            _http,
            timeout=180,  # importing the app costs about 8 s of CPU: minutes on a loaded machine
            preferred_port=8000,
            metrics_path="/metrics",
        ),
        Service("outbox-relay", lambda p: ["outbox-relay"], None, lambda p: "", uses_port=False),
        Service("app", lambda p: ["app", "serve", "--port", str(p)], HEALTH_PATH, _http, timeout=60),
        Service(
            "ops-metrics",
            lambda p: ["ops", "metrics", "--port", str(p)],
            "/metrics",
            lambda p: f"{_http(p)}/metrics",
            metrics_path="/metrics",
        ),
        Service(
            "dagster",
            lambda p: ["dagster", "ui", "--port", str(p)],
            SERVER_INFO_PATH,
            _http,
            timeout=300,
            # Dagster's runs (dbt, training, scoring) are batch work: on a machine they share with
            # the API and the lander, they take the cores those leave (DAGSTER_NICE, default 10).
            nice=int(os.environ.get("DAGSTER_NICE", "10")),
        ),
    )
}
"""Stopped by `crm down` before the stores they use (see `stack.STOP_ORDER`)."""


def crm_argv(*args: str) -> list[str]:
    """`crm <args>` with this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "stack", *args]


def is_ready(service: Service, rec: procs.PidRecord) -> bool:
    if not procs.record_alive(rec):
        return False
    if not service.uses_port or rec.port is None:
        return True
    if service.ready_path is None:
        return procs.port_open(rec.port)
    return procs.http_ok(_http(rec.port) + service.ready_path)


def start(
    home: Path,
    name: str,
    database_url: str,
    kafka_bootstrap: str | None = None,
    *,
    wait: bool = True,
    port: int | None = None,
    extra_args: tuple[str, ...] = (),
) -> procs.PidRecord:
    """Start service `name` unless ours already runs; with `wait`, until it is ready."""
    service = SERVICES[name]
    rec = procs.read_record(home, name)
    if rec is not None and procs.record_alive(rec):
        _scrape(home, service, rec)
        return rec
    procs.forget(home, name)
    if service.uses_port and port is None:
        preferred = service.preferred_port
        port = preferred if preferred and not procs.port_open(preferred) else procs.free_port()
    env = {**service.env, **os.environ, "DATABASE_URL": database_url, "CRM_HOME": str(home)}
    if kafka_bootstrap:
        env["KAFKA_BOOTSTRAP"] = kafka_bootstrap
    redis_url = get_settings().redis_url  # the environment's, else the local stack's (.crm/env)
    if redis_url:
        env["REDIS_URL"] = redis_url
    rec = procs.spawn(
        home,
        name,
        crm_argv(*service.args(port or 0), *extra_args),
        env=env,
        cwd=PROJECT_ROOT,
        port=port,
        url=service.url(port) if port else None,
        nice=service.nice,
    )
    if not wait:
        _scrape(home, service, rec)  # down to Prometheus until it answers
        return rec
    try:
        procs.wait_until(
            lambda: is_ready(service, rec) or not procs.is_alive(rec.pid), service.timeout, name, 0.25
        )
        if not procs.is_alive(rec.pid):
            raise RuntimeError(f"{name} exited: see {procs.log_dir(home) / (name + '.log')}")
    except BaseException:
        procs.stop(home, name)
        raise
    _scrape(home, service, rec)
    return rec


def _scrape(home: Path, service: Service, rec: procs.PidRecord) -> None:
    if service.metrics_path and rec.port:
        prometheus.write_target(home, service.name, rec.port, service.metrics_path)
