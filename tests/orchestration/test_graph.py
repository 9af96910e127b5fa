"""The whole graph materializes in process against real Postgres (scale S, events COPYed into
raw.*), a failing quality gate blocks promotion and keeps the active model, and scoring falls
back to the rules when the active model cannot score."""

from __future__ import annotations

import psycopg
from dagster import AssetCheckSeverity, DagsterEventType, materialize

from orchestration import keys


def _failures(result) -> list[str]:
    return [
        f"{e.step_key}: {e.event_specific_data.error.message[:500]}"
        for e in result.all_events
        if e.event_type == DagsterEventType.STEP_FAILURE
    ]


def _one(url: str, sql: str, params: tuple = ()):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()


def test_whole_graph_materializes(defs, full_run, seeded_db: str) -> None:
    observed, built = full_run
    assert observed.success, _failures(observed)
    assert built.success, _failures(built)

    g = defs.resolve_asset_graph()
    materialized = {e.asset_key for e in built.get_asset_materialization_events()}
    missing = set(g.materializable_asset_keys) - materialized
    assert not missing, sorted(k.to_user_string() for k in missing)
    observed_keys = {
        e.asset_key for e in observed.all_events if e.event_type == DagsterEventType.ASSET_OBSERVATION
    }
    assert {keys.raw_key(t) for t in keys.RAW_TABLES} <= observed_keys
    freshness = [c for c in observed.get_asset_check_evaluations() if c.check_name == "freshness"]
    assert freshness and all(c.passed for c in freshness)

    checks = built.get_asset_check_evaluations()
    errors = [
        (c.asset_key.to_user_string(), c.check_name)
        for c in checks
        if not c.passed and c.severity == AssetCheckSeverity.ERROR
    ]
    assert not errors
    recon = [c for c in checks if c.check_name.startswith("reconciles_with_raw")]
    assert recon and all(c.passed for c in recon)
    assert any(c.check_name == "quality_gate" for c in checks)

    # the marts the dashboards read hold every lead and open deal, each scored
    leads = _one(seeded_db, "select count(*) from crm.leads")[0]
    scored = _one(
        seeded_db,
        "select count(*), count(*) filter (where method <> 'unscored') from analytics.fct_lead_scores",
    )
    assert scored == (leads, leads)
    assert _one(seeded_db, "select count(*) from ml.lead_scores")[0] == leads
    assert (
        _one(
            seeded_db, "select count(*) from analytics.fct_customer_risk where churn_probability is not null"
        )[0]
        > 0
    )
    assert _one(seeded_db, "select count(*) from ml.revenue_forecasts")[0] > 0


def test_the_instance_shows_the_graph_green(defs, full_run, dagster_instance) -> None:
    """What the UI shows after the run: every asset materialized (sources observed), every
    check's latest evaluation passed, the forecast quality gates included."""
    from orchestration.status import graph_status

    status = graph_status(defs, dagster_instance)
    assert status.green, status.summary()


def _gate(defs, model_key):
    """The quality gate as the Definitions bound it (with its resources)."""
    return next(
        a
        for a in defs.resolve_asset_graph().assets_defs
        if not a.keys and any(c.asset_key == model_key and c.name == "quality_gate" for c in a.check_keys)
    )


def _active(url: str) -> set[tuple]:
    with psycopg.connect(url) as conn:
        return set(
            conn.execute(
                "select tenant_id, name, version from ml.model_versions where status = 'active'"
            ).fetchall()
        )


def test_failing_quality_gate_blocks_promotion(defs, full_run, seeded_db: str, dagster_instance) -> None:
    """Forecast models train at scale S: make the gate impossible to pass and retrain."""
    before = _active(seeded_db)
    assert any(name == "revenue_prophet" for _, name, _ in before), "the full run promoted no forecast model"
    gate = _gate(defs, keys.FORECAST_MODEL_CANDIDATE)
    result = materialize(
        [
            defs.resolve_assets_def(keys.FORECAST_MODEL_CANDIDATE),
            defs.resolve_assets_def(keys.FORECAST_MODEL),
            gate,
        ],
        instance=dagster_instance,
        raise_on_error=False,
        run_config={"ops": {gate.node_def.name: {"config": {"max_metrics": {"backtest_mape": 0.0}}}}},
    )
    assert not result.success
    [verdict] = result.get_asset_check_evaluations()
    assert not verdict.passed and verdict.severity == AssetCheckSeverity.ERROR
    started = {e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START}
    assert "ml__forecast_model" not in started  # the promotion step never ran
    assert _active(seeded_db) == before  # the active models stayed in place
    statuses = {
        r[0]
        for r in psycopg.connect(seeded_db).execute(
            "select status from ml.model_versions where name = 'revenue_prophet' and version ="
            " (select max(version) from ml.model_versions m where m.tenant_id = model_versions.tenant_id"
            " and m.name = 'revenue_prophet')"
        )
    }
    assert statuses == {"rejected"}


def test_scoring_falls_back_to_rules_when_the_model_fails(
    defs, full_run, seeded_db: str, dagster_instance
) -> None:
    """Active lead and churn models that load but cannot score: the scoring assets write the
    rules' answer for the tenant, and say so in their metadata (as `crm ml score` does)."""
    from ml import churn, lead, registry

    tenant = _one(seeded_db, "select id::text from crm.tenants order by created_at, id limit 1")[0]
    outputs = {lead.MODEL_NAME: keys.LEAD_SCORES, churn.MODEL_NAME: keys.CHURN_PREDICTIONS}
    broken = {
        name: registry.register(seeded_db, tenant, name, {"not": "a model"}, {}, {}, (None, None))
        for name in outputs
    }
    for name, v in broken.items():
        registry.promote(seeded_db, tenant, name, v.version, "test: a model that cannot score")
    try:
        result = materialize(
            [defs.resolve_assets_def(k) for k in outputs.values()],
            instance=dagster_instance,
            raise_on_error=False,
        )
        assert result.success, _failures(result)
        by_key = {m.asset_key: m.materialization.metadata for m in result.get_asset_materialization_events()}
        for name, key in outputs.items():
            md = {k: v.value for k, v in by_key[key].items()}
            assert f"{tenant}: {broken[name].label} failed" in md["fallback_reason"], md
            assert set(md["methods"]) == {"rules"} and md["method"] == "rules"
            table = key.path[-1]
            methods = _one(
                seeded_db,
                f"select array_agg(distinct method) from ml.{table} where tenant_id = %s",
                (tenant,),
            )[0]
            assert methods == ["rules"], table
    finally:
        with psycopg.connect(seeded_db) as conn:
            for v in broken.values():
                conn.execute("update ml.model_versions set status = 'retired' where id = %s", (v.id,))
