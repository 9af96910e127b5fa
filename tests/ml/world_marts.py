"""A synthetic world on the real chain, for the ML tests that need real marts: migrated,
seeded straight into raw.* and built by dbt (tests skipped), at a fixed as-of date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path


def seeded_marts(
    create_database: Callable[[str], str], crm_home: Path, name: str, scale: str, as_of: date
) -> str:
    """The url of database `name` holding the scale's world (seed 42) and its marts."""
    from crm import migrate
    from sim import seed_world
    from warehouse.dbt import run_dbt

    url = create_database(f"crm_ml_{name}")
    migrate.upgrade(url)
    seed_world(scale, 42, as_of, database_url=url, sink="raw", progress=False)
    run_dbt(
        ["build", "--vars", f"{{as_of: '{as_of}'}}", "--exclude", "resource_type:test"],
        url,
        target_path=crm_home / f"dbt-target-{name}",
        log_path=crm_home / f"dbt-logs-{name}",
        capture=True,
    )
    return url
