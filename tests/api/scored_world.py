"""A seeded world the API reads as in production: the scale-S simulator written into raw.*,
the marts built by a real `dbt build`, models trained on the marts and promoted for the largest
tenant (the others have none: their scores come from the rules), and every lead, deal and
customer scored by the ML jobs. No table is stood in by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

AS_OF = date(2026, 11, 1)
NOW = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC)
SEED = 42


@dataclass
class ScoredWorld:
    url: str
    tenant_ids: list[str]
    """Largest first; the first has active models (lead, churn, deal win), the others none."""
    users: dict[str, str] = field(default_factory=dict)
    """tenant id -> the id of one of its users (tokens carry the roles a test needs)."""

    @property
    def modelled(self) -> str:
        return self.tenant_ids[0]

    @property
    def rules_only(self) -> str:
        return self.tenant_ids[1]


def _promote(url: str, tenant: str, name: str, artifact: object, metrics: dict, params: dict) -> None:
    from ml import registry

    v = registry.register(url, tenant, name, artifact, metrics, params, (None, None), NOW)
    registry.promote(url, tenant, name, v.version, "test world: trained on the marts")


def train_models(url: str, tenant: str) -> None:
    """Lead, churn and deal-win models for `tenant`, trained on its marts and promoted. Scale S
    is below the production minimums (enough to learn from, not to trust): they are lowered
    here, as in the ML world tests."""
    from ml import churn, deals, lead, marts

    lm = lead.train(marts.lead_frame(url, tenant), NOW, seed=SEED, min_conversions=20)
    _promote(url, tenant, lead.MODEL_NAME, lm.model, lm.metrics, lm.params)
    frame = marts.customer_frame(url, current=False, tenant_id=tenant)
    cm = churn.train(frame, seed=SEED, min_churners=5)
    _promote(url, tenant, churn.MODEL_NAME, cm.model, cm.metrics, cm.params)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(deals, "MIN_WON", 20)
        mp.setattr(deals, "MIN_LOST", 20)
        dm = deals.train(marts.deal_frame(url, tenant), seed=SEED)
    _promote(url, tenant, deals.MODEL_NAME, dm.model, dm.metrics, dm.params)


def build(url: str, target: Path) -> ScoredWorld:
    """Seed, build the marts, train and score into the migrated database at `url`."""
    from ml import jobs
    from sim import seed_world
    from warehouse.dbt import run_dbt

    summary = seed_world(scale="S", seed=SEED, as_of=AS_OF, database_url=url, sink="raw", progress=False)
    done = run_dbt(
        ["build", "--exclude", "resource_type:test", "--vars", json.dumps({"as_of": AS_OF.isoformat()})],
        url,
        target_path=target,
        log_path=target / "logs",
        check=False,
        capture=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-6000:]
    with psycopg.connect(url) as conn:
        sizes = conn.execute(
            "select tenant_id::text from analytics.ml_features__leads group by 1 order by count(*) desc"
        ).fetchall()
        tenants = [t for (t,) in sizes]
        assert set(tenants) == {str(t) for t in summary.tenant_ids}
        users = dict(
            conn.execute(
                "select distinct on (tenant_id) tenant_id::text, id::text from crm.users"
                " order by tenant_id, email"
            ).fetchall()
        )
    train_models(url, tenants[0])
    jobs.score_all(url)  # as of now: the forecast's months are the ones the API answers for
    return ScoredWorld(url, tenants, users)
