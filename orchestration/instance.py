"""The local Dagster instance: DAGSTER_HOME under `.crm/`, the environment Dagster and dbt run
with, the dbt manifest, the `dagster dev` command line and one in-process run of the graph."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crm import db
from crm.settings import PROJECT_ROOT
from warehouse.dbt import DBT_DIR, dbt_env

MODULE = "orchestration.definitions"

DAGSTER_YAML = """\
# written by orchestration/instance.py; production: see docs/data-engineers.md
telemetry:
  enabled: false
python_logs:
  # every run's events as JSON lines in .crm/logs/dagster-runs.log (orchestration/logs.py)
  dagster_handler_config:
    handlers:
      crm_json:
        class: orchestration.logs.RunLogHandler
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    # the event-driven refresh waits for the queue: look at it every second, not every 5
    dequeue_interval_seconds: 1
concurrency:
  runs:
    tag_concurrency_limits:
      # one dbt run per set of marts at a time (two building one table collide on its
      # temporary relation; orchestration/jobs.py)
      - key: crm/dbt-event-marts
        limit: 1
      - key: crm/dbt-score-marts
        limit: 1
      # one tenant rescore per tenant at a time (orchestration/rescore.py)
      - key: crm/rescore-tenant
        value:
          applyLimitPerUniqueValue: true
        limit: 1
"""


def _bin(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    return str(exe) if exe.exists() else name


def dagster_home(home: Path) -> Path:
    """`.crm/dagster` with our dagster.yaml: telemetry off, the run queue looked at every
    second, one warehouse run per set of marts and one rescore per tenant at a time. Written when missing or still ours (a file someone
    edited, without the header line, is kept)."""
    d = home / "dagster"
    d.mkdir(parents=True, exist_ok=True)
    cfg = d / "dagster.yaml"
    header = DAGSTER_YAML.splitlines()[0]
    if not cfg.exists() or (cfg.read_text().startswith(header) and cfg.read_text() != DAGSTER_YAML):
        cfg.write_text(DAGSTER_YAML)
    return d


def dagster_env(home: Path, database_url: str | None = None) -> dict[str, str]:
    """The environment Dagster (and dbt under it) runs with: dbt's (`warehouse.dbt.dbt_env`),
    DAGSTER_HOME, and this interpreter's folder first on PATH (dagster-dbt runs `dbt` by name)."""
    url = db.database_url(database_url)
    env = dbt_env(url)
    env.update(
        DATABASE_URL=url,
        DAGSTER_HOME=str(dagster_home(home)),
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
    return DBT_DIR / "target" / "manifest.json"


SERVER_INFO_PATH = "/server_info"
"""Answers 200 once `dagster dev` serves the UI."""


def ui_argv(port: int) -> list[str]:
    """`dagster dev` on 127.0.0.1:port over the project's Definitions."""
    return [_bin("dagster"), "dev", "-m", MODULE, "-h", "127.0.0.1", "-p", str(port)]


def materialize_everything(home: Path, database_url: str | None = None, full_refresh: bool = False):
    """Observe the landing tables, then materialize the whole graph once, recorded in
    DAGSTER_HOME so the UI shows it. `full_refresh` rebuilds the incremental models from
    scratch (a world seeded again replaced its tenants' rows, which the incremental event stores
    would otherwise keep). Returns the two in-process results."""
    env = dagster_env(home, database_url)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DAGSTER_HOME", *db.pg_env(env["DATABASE_URL"]))})
    from dagster import DagsterInstance

    from orchestration.definitions import defs

    instance = DagsterInstance.get()
    observed = defs.resolve_job_def("observe_landing").execute_in_process(
        instance=instance, raise_on_error=False
    )
    built = defs.resolve_job_def("materialize_everything").execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"crm_dbt": {"config": {"full_refresh": True}}}} if full_refresh else None,
    )
    return observed, built
