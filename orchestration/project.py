"""The dbt project (issue 4's `dbt/`) as dagster-dbt sees it. Kept in its own module so that
`dagster-dbt project prepare-and-package --file orchestration/project.py` (`make dbt-manifest`)
can import it without loading the whole Definitions.

profiles.yml lives in dbt/ and reads the connection (PG*) from the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster_dbt import DbtProject

from crm.settings import PROJECT_ROOT

DBT_DIR: Path = Path(os.environ.get("DBT_PROJECT_DIR") or PROJECT_ROOT / "dbt")
"""The checkout's dbt/ (DBT_PROJECT_DIR, dbt's own variable, points elsewhere, e.g. a packaged copy)."""


def load_project() -> DbtProject | None:
    if not (DBT_DIR / "dbt_project.yml").exists():
        return None
    # No prepare_if_dev(): `make dagster` / `crm dagster` / `make demo` run `make dbt-manifest`
    # first, and a parse per code-server load would slow every start. After editing models:
    # `make dbt-manifest`, then "Reload definitions" in the UI.
    return DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)


dbt_project: DbtProject | None = load_project()
