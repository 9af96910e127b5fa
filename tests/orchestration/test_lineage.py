"""Lineage without a hidden loop: the asset graph is acyclic, the segment recalculation is keyed
by the table it writes (the dbt source on it maps to that key, nothing else defines it), what
dbt builds from the memberships runs after the recalculation while dim_customers, which it
reads, does not read them back; the marts over ML outputs run after the ML assets."""

from __future__ import annotations

import json
from graphlib import TopologicalSorter
from pathlib import Path

from dagster import AssetKey

from orchestration import keys
from orchestration.dbt_assets import SHARED_TABLES, TRANSLATOR
from orchestration.segments import segment_recalculation

MEMBERSHIPS = ("crm", "customer_segment_memberships")


def _ancestors(g, key: AssetKey) -> set[AssetKey]:
    seen: set[AssetKey] = set()
    todo = [key]
    while todo:
        for parent in g.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def _model_key(node: dict) -> AssetKey:
    return TRANSLATOR.get_asset_key(node)


def _reads_source(manifest: dict, uid: str, source_uid: str) -> bool:
    """Whether dbt node `uid` reads `source_uid`, directly or through other models."""
    todo, seen = [uid], set()
    while todo:
        for parent in manifest["nodes"].get(todo.pop(), {}).get("depends_on", {}).get("nodes", []):
            if parent == source_uid:
                return True
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return False


def test_the_asset_graph_has_no_cycle(defs) -> None:
    g = defs.resolve_asset_graph()
    order = TopologicalSorter({k: set(g.get(k).parent_keys) for k in g.get_all_asset_keys()})
    order.prepare()  # raises graphlib.CycleError on a cycle


def test_segments_are_keyed_by_the_table_they_write(defs, dbt_manifest: Path) -> None:
    assert AssetKey(list(MEMBERSHIPS)) == keys.SEGMENTS
    g = defs.resolve_asset_graph()
    node = g.get(keys.SEGMENTS)
    assert node.is_materializable and not node.is_observable
    assert segment_recalculation.key == keys.SEGMENTS
    assert keys.DIM_CUSTOMERS in node.parent_keys
    manifest = json.loads(dbt_manifest.read_text())
    [source] = [
        s
        for s in manifest["sources"].values()
        if (s["schema"], s.get("identifier") or s["name"]) == MEMBERSHIPS
    ]
    assert TRANSLATOR.get_asset_key(source) == keys.SEGMENTS
    # the observed operational tables are every other crm source
    observed = {k for k in g.get_all_asset_keys() if k.path[0] == "crm" and g.get(k).is_observable}
    crm_sources = {TRANSLATOR.get_asset_key(s) for s in manifest["sources"].values() if s["schema"] == "crm"}
    assert observed == crm_sources - {keys.SEGMENTS}


def test_what_reads_memberships_runs_after_the_recalculation(defs, dbt_manifest: Path) -> None:
    g = defs.resolve_asset_graph()
    manifest = json.loads(dbt_manifest.read_text())
    [source_uid] = [
        uid
        for uid, s in manifest["sources"].items()
        if (s["schema"], s.get("identifier") or s["name"]) == MEMBERSHIPS
    ]
    models = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    readers = {_model_key(n) for uid, n in models.items() if _reads_source(manifest, uid, source_uid)}
    assert keys.mart_key("fct_segment_memberships") in readers
    assert keys.mart_key("dash_segment_summary") in readers
    for key in readers:
        assert keys.SEGMENTS in _ancestors(g, key), key.to_user_string()
    # the recalculation's own input never depends on its output
    assert keys.DIM_CUSTOMERS not in readers
    assert keys.SEGMENTS not in _ancestors(g, keys.DIM_CUSTOMERS)
    for key in _ancestors(g, keys.SEGMENTS):
        assert keys.SEGMENTS not in _ancestors(g, key)


def test_marts_over_ml_outputs_run_after_the_ml_assets(defs, dbt_manifest: Path) -> None:
    g = defs.resolve_asset_graph()
    manifest = json.loads(dbt_manifest.read_text())
    ml_sources = {uid: s for uid, s in manifest["sources"].items() if s["schema"] == "ml"}
    assert {s["name"] for s in ml_sources.values()} >= {
        "lead_scores",
        "churn_predictions",
        "revenue_forecasts",
        "model_versions",
    }
    checked = 0
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        for parent in node["depends_on"]["nodes"]:
            if parent not in ml_sources:
                continue
            source_key = TRANSLATOR.get_asset_key(ml_sources[parent])
            writers = SHARED_TABLES.get(source_key, (source_key,))
            parents = g.get(_model_key(node)).parent_keys
            for writer in writers:
                assert writer in parents, (node["name"], writer.to_user_string())
                assert g.get(writer).is_materializable
            checked += 1
    assert checked >= 5
    registry = g.get(keys.mart_key("dim_model_versions")).parent_keys
    assert {keys.FORECAST_MODEL_CANDIDATE, keys.FORECAST_MODEL, keys.LEAD_MODEL} <= registry
    assert keys.ml_key("model_versions") not in g.get_all_asset_keys()
