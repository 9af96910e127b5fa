"""Running Dagster locally: DAGSTER_HOME under `.crm/`, the dbt manifest, `dagster dev` as the
`dagster` background service (stopped by `make down`), and one in-process run of the graph."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from crm import db
from crm.settings import PROJECT_ROOT
from crm.stack import procs

NAME = "dagster"
MODULE = "orchestration.definitions"

DAGSTER_YAML = """\
# written by orchestration/local.py; production: see README "Data engineers"
telemetry:
  enabled: false
"""


def _bin(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    return str(exe) if exe.exists() else name


def dagster_home(home: Path) -> Path:
    """`.crm/dagster` with a dagster.yaml that turns telemetry off (kept if one exists)."""
    d = home / "dagster"
    d.mkdir(parents=True, exist_ok=True)
    cfg = d / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML)
    return d


def dagster_env(home: Path, database_url: str | None = None) -> dict[str, str]:
    """The environment Dagster (and dbt under it) runs with."""
    url = db.database_url(database_url)
    env = dict(os.environ)
    env.update(db.pg_env(url))
    env.update(
        DATABASE_URL=url,
        DAGSTER_HOME=str(dagster_home(home)),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def prepare_manifest(env: dict[str, str] | None = None) -> Path:
    """`dagster-dbt project prepare-and-package`: dbt parse -> dbt/target/manifest.json."""
    env = dict(env or os.environ)
    # its preparer runs `dbt` by name: the one next to this interpreter
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    subprocess.run(
        [
            _bin("dagster-dbt"),
            "project",
            "prepare-and-package",
            "--file",
            str(PROJECT_ROOT / "orchestration" / "project.py"),
        ],
        check=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=600,
    )
    return PROJECT_ROOT / "dbt" / "target" / "manifest.json"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def start_ui(home: Path, database_url: str | None = None, timeout: float = 300.0) -> procs.PidRecord:
    """Start `dagster dev` on 127.0.0.1 and a free port (or reuse the running one)."""
    rec = procs.read_record(home, NAME)
    if rec and procs.record_alive(rec) and rec.url and _answers(rec.url):
        return rec
    procs.forget(home, NAME)
    port = procs.free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [_bin("dagster"), "dev", "-m", MODULE, "-h", "127.0.0.1", "-p", str(port)]
    rec = procs.spawn(
        home, NAME, argv, env=dagster_env(home, database_url), cwd=PROJECT_ROOT, port=port, url=url
    )
    try:
        procs.wait_until(lambda: _answers(url), timeout, f"dagster dev on {url}", interval=0.5)
    except TimeoutError:
        procs.stop(home, NAME)
        raise
    return rec


def materialize_everything(home: Path, database_url: str | None = None):
    """Observe the landing tables, then materialize the whole graph once, recorded in
    DAGSTER_HOME so the UI shows it. Returns the two in-process results."""
    env = dagster_env(home, database_url)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DAGSTER_HOME", *db.pg_env(env["DATABASE_URL"]))})
    from dagster import DagsterInstance

    from orchestration.definitions import defs

    instance = DagsterInstance.get()
    observed = defs.resolve_job_def("observe_landing").execute_in_process(
        instance=instance, raise_on_error=False
    )
    built = defs.resolve_job_def("materialize_everything").execute_in_process(
        instance=instance, raise_on_error=False
    )
    return observed, built
