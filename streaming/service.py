"""The landing worker as a background service of the local stack (`crm up`, `make demo`):
started once through `crm.stack.procs` (PID file `.crm/run/lander.pid`, log
`.crm/logs/lander.log`, stopped by `crm down`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from crm.settings import PROJECT_ROOT
from crm.stack import procs

NAME = "lander"
LOCAL_TENANT_GRACE = 180.0


def faust_argv(web_port: int) -> list[str]:
    return [
        str(Path(sys.executable).with_name("faust")),
        "-A",
        "streaming.app",
        "worker",
        "-l",
        "info",
        "--web-port",
        str(web_port),
    ]


def start(
    home: Path, database_url: str, kafka_bootstrap: str, *, wait: bool = True, timeout: float = 180.0
) -> procs.PidRecord:
    """Start one landing worker unless ours already runs; with `wait`, until its /metrics
    answers (the web server starts once the worker has joined its group)."""
    rec = procs.read_record(home, NAME)
    if rec and procs.record_alive(rec):
        return rec
    port = procs.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CRM_HOME": str(home),
    }
    # `crm seed` writes a new world's tenants in one transaction while its events are already
    # flowing: on the local stack let events of a new tenant wait for that commit.
    env.setdefault("LANDER_TENANT_GRACE", str(LOCAL_TENANT_GRACE))
    rec = procs.spawn(
        home,
        NAME,
        faust_argv(port),
        env=env,
        cwd=PROJECT_ROOT,
        port=port,
        url=f"http://127.0.0.1:{port}/metrics",
    )
    if not wait:
        return rec
    try:
        procs.wait_until(
            lambda: procs.port_open(port) or not procs.is_alive(rec.pid),
            timeout,
            "landing worker (faust)",
            0.25,
        )
        if not procs.is_alive(rec.pid):
            raise RuntimeError(f"landing worker exited: see {procs.log_dir(home) / (NAME + '.log')}")
    except BaseException:
        procs.stop(home, NAME)
        raise
    return rec


def wait_landed(kafka_bootstrap: str, timeout: float = 900.0) -> dict:
    """Block until the lander group has committed every data topic to its end."""
    from streaming.config import get_config
    from streaming.lag import wait_caught_up

    cfg = get_config()
    return wait_caught_up(kafka_bootstrap, cfg.app_id, list(cfg.data_topics), timeout)
