"""A synthetic world on the real chain, for the tests that need real marts: migrated, seeded
straight into raw.* and built by dbt (tests skipped), at a fixed as-of date. Each (scale, as-of)
is built once per test session; every caller gets its own copy of it (a database made from it as
a template, seconds instead of minutes), free to change it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

_BUILT: dict[tuple[str, date], str] = {}
"""(scale, as-of) -> the database the world was built in, copied by every caller."""


def seeded_marts(
    create_database: Callable[..., str], crm_home: Path, name: str, scale: str, as_of: date
) -> str:
    """The url of a database `name` of its own holding the scale's world (seed 42) and its marts."""
    key = (scale, as_of)
    if key not in _BUILT:
        _BUILT[key] = _build(create_database, crm_home, scale, as_of)
    return create_database(f"crm_ml_{name}", template=_BUILT[key])


def _build(create_database: Callable[..., str], crm_home: Path, scale: str, as_of: date) -> str:
    from crm import migrate
    from sim import seed_world
    from warehouse.dbt import run_dbt

    name = f"world_{scale.lower()}_{as_of:%Y%m%d}"
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
