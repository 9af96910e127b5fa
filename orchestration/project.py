"""The dbt project (`dbt/`, located by `warehouse.dbt.DBT_DIR`) as dagster-dbt sees it. Kept in its own module so that
`dagster-dbt project prepare-and-package --file orchestration/project.py` (`crm dagster manifest`)
can import it without loading the whole Definitions.

profiles.yml lives in dbt/ and reads the connection (PG*) from the environment.
"""

from __future__ import annotations

from dagster_dbt import DbtProject

from warehouse.dbt import DBT_DIR


def load_project() -> DbtProject | None:
    if not (DBT_DIR / "dbt_project.yml").exists():
        return None
    # No prepare_if_dev(): `crm dagster ui|materialize` and `make demo` parse the project
    # first, and a parse per code-server load would slow every start. After editing models:
    # `crm dagster manifest`, then "Reload definitions" in the UI.
    return DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)


dbt_project: DbtProject | None = load_project()
