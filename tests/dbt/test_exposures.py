"""dbt's exposures say exactly what reads the warehouse: each dashboard page's exposure depends
on the marts its queries read (parsed from their SQL) and pages read nothing but marts; each API
route reading analytics.* (or, for a score it answers as soon as it is written, ml.*) has one
naming the relations in its code.

Needs no database: `dbt parse` resolves the exposures' refs into a manifest."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from app.data.queries import QUERIES
from app.nav import PAGES, VIEWS, url_path
from crm.settings import PROJECT_ROOT

MART_SCHEMA = "analytics"
API_SCHEMAS = (MART_SCHEMA, "ml")
"""What an API route may read besides the operational store: the marts, and the ML outputs
(a score is answered as soon as the ML job writes it, before dbt's score marts take it in)."""
LOADERS = {"load", "fetch_or_none", "fetch"}
"""app.ui / app.data functions whose first argument names the query a page runs."""
READS_NO_MART = {"operations.py"}
"""Pages that read no warehouse (Operations: Prometheus and the Dagster run storage): no exposure."""


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from warehouse.dbt import run_dbt

    target = tmp_path_factory.mktemp("dbt-parse")
    # parsing connects to nothing; the profile only needs a well-formed URL
    done = run_dbt(
        ["parse"],
        "postgresql://postgres@127.0.0.1:5432/postgres",
        target_path=target,
        log_path=target / "logs",
        check=False,
        capture=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    return json.loads((target / "manifest.json").read_text())


def _marts(manifest: dict) -> dict[str, str]:
    """unique_id -> `analytics.<model>` for every model built into the marts schema."""
    return {
        uid: f"{MART_SCHEMA}.{n['alias'] or n['name']}"
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] == "model" and n["config"].get("schema") == MART_SCHEMA
    }


def _exposures(manifest: dict, kind: str, key: str) -> dict[str, dict]:
    """meta[key] -> exposure, for the exposures of `kind` (dashboard / application)."""
    out: dict[str, dict] = {}
    for e in manifest["exposures"].values():
        if e["type"] == kind:
            ident = e["config"]["meta"][key]
            assert ident not in out, f"two exposures for {ident}"
            out[ident] = e
    return out


def _reads(exposure: dict, marts: dict[str, str]) -> set[str]:
    nodes = exposure["depends_on"]["nodes"]
    assert all(n in marts for n in nodes), f"{exposure['name']} depends on a non-mart: {nodes}"
    return {marts[n] for n in nodes}


def _ml_sources(manifest: dict) -> dict[str, str]:
    """unique_id -> `ml.<table>` for the dbt sources on the ML jobs' outputs."""
    return {
        uid: f"{API_SCHEMAS[1]}.{s['identifier'] or s['name']}"
        for uid, s in manifest["sources"].items()
        if s["schema"] == API_SCHEMAS[1]
    }


def sql_relations(sql: str) -> set[str]:
    """The schema-qualified tables a statement reads (CTE names are not tables)."""
    tree = sqlglot.parse_one(sql, read="postgres")
    ctes = {c.alias for c in tree.find_all(exp.CTE)}
    return {f"{t.db}.{t.name}" for t in tree.find_all(exp.Table) if t.db or t.name not in ctes}


def page_queries(file: str) -> set[str]:
    """The named queries a page's script runs: `load("name", ...)` and the like."""
    tree = ast.parse((VIEWS / file).read_text())
    return {
        call.args[0].value
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id in LOADERS
        and call.args
        and isinstance(call.args[0], ast.Constant)
    }


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_each_query_declares_what_its_sql_reads_and_reads_only_marts(name: str, manifest: dict) -> None:
    query = QUERIES[name]
    assert sql_relations(query.sql) == set(query.relations)
    assert set(query.relations) <= set(_marts(manifest).values()), "a page reads something that is no mart"


def test_every_page_has_an_exposure_of_exactly_what_it_reads(manifest: dict) -> None:
    marts = _marts(manifest)
    exposures = _exposures(manifest, "dashboard", "page")
    assert set(exposures) == {title for file, title, _ in PAGES if file not in READS_NO_MART}
    used: set[str] = set()
    for file, title, _ in PAGES:
        names = page_queries(file)
        if file in READS_NO_MART:
            assert not names, f"{file} runs queries {names}: give it an exposure"
            continue
        assert names, f"{file} runs no query"
        assert names <= set(QUERIES), f"{file} runs unknown queries {names - set(QUERIES)}"
        used |= names
        e = exposures[title]
        assert e["config"]["meta"]["file"] == f"app/views/{file}"
        assert e["url"].endswith(f"/{url_path(file)}")
        assert e["owner"]["name"]
        reads = {r for n in names for r in QUERIES[n].relations}
        assert _reads(e, marts) == reads, title
    assert used == set(QUERIES), f"queries no page runs: {set(QUERIES) - used}"


def _api_reads() -> dict[str, set[str]]:
    """`METHOD /path` -> the analytics.* and ml.* relations named in its endpoint's code, for
    every route of api/routes that names one (and every such name in a route module is in some
    endpoint)."""
    import api.routes

    out: dict[str, set[str]] = {}
    pattern = re.compile(rf"\b(?:{'|'.join(API_SCHEMAS)})\.[a-z_][a-z0-9_]*")
    for info in pkgutil.iter_modules(api.routes.__path__):
        module = importlib.import_module(f"api.routes.{info.name}")
        router = getattr(module, "router", None)
        if router is None:
            continue
        in_endpoints: set[str] = set()
        for route in router.routes:
            names = set(pattern.findall(inspect.getsource(route.endpoint)))
            in_endpoints |= names
            if names:
                for method in route.methods:
                    out[f"{method} {route.path}"] = names
        in_module = set(pattern.findall(Path(inspect.getfile(module)).read_text()))
        assert in_module <= in_endpoints, (
            f"api/routes/{info.name}.py reads {in_module - in_endpoints} outside a route"
        )
    return out


def test_every_api_route_reading_marts_has_an_exposure_of_them(manifest: dict) -> None:
    readable = _marts(manifest) | _ml_sources(manifest)
    exposures = _exposures(manifest, "application", "route")
    reads = _api_reads()
    assert reads, "no API route reads analytics.*"
    assert set(exposures) == set(reads)
    for route, relations in reads.items():
        e = exposures[route]
        assert _reads(e, readable) == relations, route
        assert e["url"].endswith(route.split(" ", 1)[1])
        assert (PROJECT_ROOT / e["config"]["meta"]["file"]).exists()
