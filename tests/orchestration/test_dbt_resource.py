"""The dbt resource skips what dagster-dbt does before each dbt command that the project never
uses (`orchestration.resources.DbtCli`): the members it overrides still exist, with the shape it
assumes, in the installed dagster-dbt, and the version it reports is the one `dbt` prints."""

from __future__ import annotations

import inspect
import re
import subprocess
from functools import cached_property

from dagster_dbt import DbtCliResource
from packaging.version import Version

from orchestration.resources import DbtCli
from warehouse.dbt import DBT_DIR, dbt_executable


def test_the_overridden_members_are_dagster_dbts() -> None:
    import dagster_dbt

    where = f"dagster-dbt {dagster_dbt.__version__}"
    assert isinstance(inspect.getattr_static(DbtCliResource, "_cli_version"), cached_property), where
    assert list(inspect.signature(DbtCliResource._initialize_dbt_core_adapter).parameters) == [
        "self",
        "args",
    ], where
    cli = inspect.getsource(DbtCliResource.cli)
    assert "self._initialize_dbt_core_adapter(" in cli and "self._cli_version" in cli, where


def test_the_version_is_the_one_dbt_prints_and_no_adapter_is_built() -> None:
    printed = subprocess.run([dbt_executable(), "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"(\d+\.\d+\.\d+)", printed.stdout)
    assert match is not None, printed.stdout
    dbt = DbtCli(project_dir=str(DBT_DIR), dbt_executable=dbt_executable())
    assert dbt._cli_version == Version(match.group(1))
    assert dbt._initialize_dbt_core_adapter(["build"]) is None
