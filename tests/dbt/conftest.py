"""One seeded, dbt-built warehouse for the session: a fresh migrated database (its own name,
so nothing collides with other sessions or the demo), the scale-S world written straight into
raw.* (sink='raw'), then a real `dbt build` whose artefacts go to a temporary folder."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

AS_OF = date(2026, 11, 1)
SEED = 42


@dataclass
class Warehouse:
    url: str
    as_of: date
    tenant_ids: list[str]
    target: Path
    build_results: dict

    def dbt(self, *args: str, check: bool = True):
        from warehouse.dbt import run_dbt

        done = run_dbt(
            [*args, "--vars", json.dumps({"as_of": self.as_of.isoformat()})],
            self.url,
            target_path=self.target,
            log_path=self.target / "logs",
            check=False,
            capture=True,
            timeout=900,
        )
        if check and done.returncode:
            raise AssertionError(f"dbt {' '.join(args)} failed:\n{done.stdout[-4000:]}")
        return done


@pytest.fixture(scope="session")
def warehouse(
    create_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    from crm import migrate
    from sim import seed_world

    url = create_database("crm_dbt")
    migrate.upgrade(url)
    summary = seed_world(scale="S", seed=SEED, as_of=AS_OF, database_url=url, sink="raw", progress=False)
    target = tmp_path_factory.mktemp("dbt-target")
    wh = Warehouse(url, AS_OF, [str(t) for t in summary.tenant_ids], target, {})
    result = wh.dbt("build", check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    wh.build_results = json.loads((target / "run_results.json").read_text())
    yield wh
