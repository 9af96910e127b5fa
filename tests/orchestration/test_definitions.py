"""The Definitions load, every job resolves, and the asset graph is one connected piece with no
orphan: every dbt source is an asset we observe or build, every ML input is a dbt asset, every
mart that joins scores has the ML assets upstream."""

from __future__ import annotations

from dagster import AssetKey, Definitions

from orchestration import keys
from orchestration.jobs import JOBS


def _graph(defs):
    return defs.resolve_asset_graph()


def test_definitions_load_and_jobs_resolve(defs) -> None:
    # what `dagster dev`'s code server checks before it serves anything (unique op, graph and
    # job names among them): a failure there leaves the daemon with no sensor and no schedule
    Definitions.validate_loadable(defs)
    for job in JOBS:
        assert defs.resolve_job_def(job.name) is not None
    assert {s.name for s in defs.schedules} >= {
        "lead_scoring_hourly",
        "customer_health_daily",
        "forecast_retrain_weekly",
        "retention_daily",
    }
    assert defs.resolve_job_def("retention") is not None
    assert {s.name for s in defs.sensors} == {
        "new_events_sensor",
        "refreshed_marts_sensor",
        "refreshed_checks_sensor",
        "stale_segments_sensor",
        "rescore_requests_sensor",
        "conversation_signals_sensor",
        "external_sync_sensor",
        "webhooks_backlog_sensor",
        "tenant_partitions",
    }
    assert defs.resolve_job_def("ml_by_tenant").partitions_def is not None


def test_every_key_is_defined(defs) -> None:
    """No stub assets: each key (dbt sources included) is observed or materialized by us."""
    g = _graph(defs)
    for key in g.get_all_asset_keys():
        node = g.get(key)
        assert node.is_materializable or node.is_observable, f"{key.to_user_string()} is an orphan stub"


def test_landing_tables_are_observable_sources(defs) -> None:
    g = _graph(defs)
    for table in keys.RAW_TABLES:
        node = g.get(keys.raw_key(table))
        assert node.is_observable and not node.is_materializable


def test_ml_inputs_are_dbt_assets(defs) -> None:
    g = _graph(defs)
    dbt_groups = {"staging", "intermediate", "marts"}
    ml_keys = [k for k in g.get_all_asset_keys() if k.path[0] == "ml" and g.get(k).is_materializable]
    assert set(ml_keys) >= {
        keys.LEAD_SCORES,
        keys.DEAL_PROBABILITIES,
        keys.CHURN_PREDICTIONS,
        keys.REVENUE_FORECASTS,
        keys.LEAD_MODEL,
        keys.CHURN_MODEL,
    }
    for key in ml_keys:
        external = [p for p in g.get(key).parent_keys if p.path[0] != "ml"]
        for parent in external:
            assert g.get(parent).group_name in dbt_groups, (
                f"{key.to_user_string()} reads {parent.to_user_string()}"
            )
    assert keys.LEAD_FEATURES in g.get(keys.LEAD_MODEL_CANDIDATE).parent_keys
    assert keys.CUSTOMER_FEATURES in g.get(keys.CHURN_MODEL_CANDIDATE).parent_keys
    assert keys.REVENUE_SERIES in g.get(keys.REVENUE_FORECASTS).parent_keys


def _ancestors(g, key: AssetKey) -> set[AssetKey]:
    seen: set[AssetKey] = set()
    todo = [key]
    while todo:
        for parent in g.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_dashboard_marts_have_their_upstreams(defs) -> None:
    """Each analytics mart descends from landed events; marts reading ml.* descend from the ML
    assets and, through them, from the feature marts."""
    g = _graph(defs)
    marts = [k for k in g.get_all_asset_keys() if k.path[0] == "analytics"]
    assert keys.DIM_CUSTOMERS in marts and keys.LEAD_FEATURES in marts
    for mart in marts:
        up = _ancestors(g, mart)
        assert any(k.path[0] in ("raw", "crm") for k in up), f"{mart.to_user_string()} has no landed input"
        ml_parents = {k for k in up if k.path[0] == "ml"}
        if ml_parents:
            assert all(g.get(k).is_materializable for k in ml_parents)
            assert any(k.path[0] == "analytics" for k in _ancestors(g, next(iter(ml_parents))))
    joins_scores = [m for m in marts if any(p.path[0] == "ml" for p in g.get(m).parent_keys)]
    assert joins_scores, "no mart joins the ML outputs"
    assert keys.SEGMENTS in g.get(keys.DIM_CUSTOMERS).child_keys


def test_dbt_tests_are_asset_checks(defs) -> None:
    g = _graph(defs)
    checks = {c for c in g.asset_check_keys if c.asset_key == keys.LEAD_FEATURES}
    assert checks, "dbt tests on ml_features__leads are not asset checks"
    gates = {
        c.name
        for c in g.asset_check_keys
        if c.asset_key in (keys.LEAD_MODEL_CANDIDATE, keys.CHURN_MODEL_CANDIDATE)
    }
    assert gates == {"quality_gate"}


def test_every_model_spec_has_its_training_assets() -> None:
    """The training assets run the specs of `ml.specs` by registry name: one per spec."""
    from ml.specs import SPECS
    from orchestration.ml_assets import MODELS

    assert [name for name, *_ in MODELS] == [s.name for s in SPECS]


def test_event_driven_jobs_run_in_one_process_with_one_dbt_step(defs) -> None:
    """A refresh lasts seconds only if it is not split into processes and dbt invocations: the
    marts refresh is one dbt step and the lead and deal scores after it (a write's score in the
    same run); the rescoring is its Python steps and one dbt step after."""
    refresh = defs.resolve_job_def("event_refresh")
    rescore = defs.resolve_job_def("event_rescore")
    for job in (refresh, rescore):
        assert job.executor_def.name == "in_process"
    dbt_steps = lambda job: [n for n in job.graph.node_dict if n.startswith("crm_dbt")]  # noqa: E731
    assert len(dbt_steps(refresh)) == 1
    assert len(dbt_steps(rescore)) == 1
    assert {"ml__lead_scores", "ml__deal_probabilities"} <= set(refresh.graph.node_dict)
    assert {"ml__churn_predictions", "crm__customer_segment_memberships"} <= set(rescore.graph.node_dict)
    assert not {"ml__lead_scores", "ml__deal_probabilities"} & set(rescore.graph.node_dict)


def test_warehouse_jobs_carry_the_tags_the_queue_limits(defs) -> None:
    """Two runs building one dbt table must not overlap: every job running dbt carries the tag of
    each set of marts it builds, and the instance limits each tag to one run (and tenant
    rescores to one per tenant)."""
    import yaml

    from orchestration.instance import DAGSTER_YAML
    from orchestration.jobs import EVENT_MARTS_TAG, SCORE_MARTS_TAG
    from orchestration.rescore import TENANT_TAG

    configured = yaml.safe_load(DAGSTER_YAML)["concurrency"]["runs"]["tag_concurrency_limits"]
    limits = {t["key"]: t["limit"] for t in configured}
    assert limits == {EVENT_MARTS_TAG: 1, SCORE_MARTS_TAG: 1, TENANT_TAG: 1}
    # tenant rescores: one per tenant, not one in all
    assert [t.get("value") for t in configured if t["key"] == TENANT_TAG] == [
        {"applyLimitPerUniqueValue": True}
    ]
    g = defs.resolve_asset_graph()
    dbt_keys = {
        k for k in g.get_all_asset_keys() if g.get(k).group_name in {"staging", "intermediate", "marts"}
    }
    score_marts = set(keys.EVENT_SCORE_MARTS)
    for job in JOBS:
        built = set(defs.resolve_job_def(job.name).asset_layer.executable_asset_keys) & dbt_keys
        tags = defs.resolve_job_def(job.name).tags
        if built - score_marts:
            assert EVENT_MARTS_TAG in tags, job.name
        if built & score_marts:
            assert SCORE_MARTS_TAG in tags, job.name
