"""Running dbt against the configured database: the environment the committed
`dbt/profiles.yml` reads (PG* from DATABASE_URL or the local stack), and a subprocess runner.

Why a wrapper: the profile holds no secrets and no addresses, so the same project works with
the local stack, CI's throwaway databases and production.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from crm.db import pg_env
from crm.settings import PROJECT_ROOT

DBT_DIR: Path = Path(os.environ.get("DBT_PROJECT_DIR") or PROJECT_ROOT / "dbt")
"""The checkout's dbt/ (DBT_PROJECT_DIR, dbt's own variable, points elsewhere, e.g. a packaged copy)."""


def dbt_executable() -> str:
    """The `dbt` next to this interpreter (the project's .venv), else the one on PATH."""
    local = Path(sys.executable).parent / "dbt"
    if local.exists():
        return str(local)
    found = shutil.which("dbt")
    if not found:
        raise FileNotFoundError("dbt is not installed: run `make install`")
    return found


DBT_SESSION_ENV = {"PGTZ": "UTC", "PGOPTIONS": "-c jit=off"}
"""libpq settings for dbt's sessions: UTC as the time zone, and no JIT: Postgres compiles a
query whose estimated cost passes jit_above_cost, and the incremental models' lookups (few
rows, large estimates before the ids are known) spent more compiling (~0.7 s) than running."""


def dbt_env(database_url: str | None = None, *, extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ plus what the profile reads: PG* for the database, the profiles and project
    folders, the session settings (DBT_SESSION_ENV), and no usage statistics."""
    env = dict(os.environ)
    env.update(pg_env(database_url))
    env.setdefault("DBT_PROFILES_DIR", str(DBT_DIR))
    env.setdefault("DBT_PROJECT_DIR", str(DBT_DIR))
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["DO_NOT_TRACK"] = "1"
    env.update(DBT_SESSION_ENV)
    if extra:
        env.update(extra)
    return env


def run_dbt(
    args: Sequence[str],
    database_url: str | None = None,
    *,
    target_path: str | Path | None = None,
    log_path: str | Path | None = None,
    check: bool = True,
    capture: bool = False,
    timeout: float | None = 1800,
) -> subprocess.CompletedProcess:
    """`dbt <args>` in the project folder. `target_path`/`log_path` let concurrent runs (tests,
    benchmarks) keep their artefacts apart."""
    extra: dict[str, str] = {}
    if target_path:
        extra["DBT_TARGET_PATH"] = str(target_path)
    if log_path:
        extra["DBT_LOG_PATH"] = str(log_path)
    return subprocess.run(
        [dbt_executable(), *args],
        cwd=DBT_DIR,
        env=dbt_env(database_url, extra=extra),
        check=check,
        text=True,
        capture_output=capture,
        timeout=timeout,
    )
