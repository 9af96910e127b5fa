"""Training, gating, scoring and fallbacks against a real Postgres (synthetic marts)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import psycopg
import pytest
from ml_synthetic import AS_OF, BIG, SMALL

from crm.db import enter_tenant_pg
from crm.errors import CRMError, CRMErrorCode
from ml import churn, deals, jobs, lead, marts, registry, training
from ml.specs import LEAD


@pytest.fixture(scope="module")
def trained(ml_db: str) -> jobs.TrainReport:
    return jobs.train_all(ml_db, AS_OF, seed=42)


def _count(url: str, sql: str, *args) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchone()[0]


def test_models_are_trained_gated_and_promoted_per_tenant(ml_db: str, trained: jobs.TrainReport) -> None:
    outcome = {(r["tenant_id"], r["model"].split("@")[0]): r["outcome"] for r in trained.rows}
    assert outcome[(BIG, "lead_scoring")] == "promoted"
    assert outcome[(BIG, "churn")] == "promoted"
    assert outcome[(BIG, "deal_win")] == "promoted"
    assert outcome[(BIG, "revenue_prophet")] in ("promoted", "rejected")
    assert outcome[(SMALL, "lead_scoring")] == "skipped"  # too few conversions: rules answer
    assert outcome[(SMALL, "deal_win")] == "skipped"  # < 200 won / lost: stage defaults
    v = registry.active(ml_db, BIG, lead.MODEL_NAME)
    assert v is not None and v.metrics["auc"] > v.metrics["baseline_auc"]
    for name in (lead.MODEL_NAME, churn.MODEL_NAME, deals.MODEL_NAME):  # a linear world keeps linear
        a = registry.active(ml_db, BIG, name)
        assert a is not None and a.params["family"] == "linear", a.params.get("family_why")
        assert a.params["family_why"].startswith("linear: validation AUC") and "family_auc_trees" in a.metrics
    assert Path(v.artifact_path).is_file() and str(v.artifact_path).startswith(str(registry.models_dir()))


def test_everything_is_scored_with_method_and_version(ml_db: str, trained: jobs.TrainReport) -> None:
    runs = jobs.score_all(ml_db, AS_OF, seed=42)
    leads = marts.lead_frame(ml_db)
    assert runs["lead_scores"]["rows"] == leads.height
    assert _count(ml_db, "SELECT count(*) FROM ml.lead_scores") == leads.height
    by = dict.fromkeys(("model", "rules"), 0)
    with psycopg.connect(ml_db) as conn:
        rows = conn.execute(
            "SELECT tenant_id::text, method, model_version, count(*) FROM ml.lead_scores GROUP BY 1, 2, 3"
        ).fetchall()
        for t, method, version, n in rows:
            by[method] += n
            if t == BIG:
                assert (method, version) == ("model", "lead_scoring@1")
            else:
                assert (method, version) == ("rules", lead.RULES_VERSION)
        bad = conn.execute(
            "SELECT count(*) FROM ml.lead_scores WHERE (method = 'model' AND jsonb_array_length(factors) = 0)"
            " OR jsonb_typeof(next_best_actions) <> 'array' OR jsonb_typeof(factors) <> 'array'"
        ).fetchone()[0]
        assert bad == 0
        risk = dict(conn.execute("SELECT method, count(*) FROM ml.churn_predictions GROUP BY 1").fetchall())
        assert risk.get("model", 0) > 0 and risk.get("rules", 0) > 0
        cats = conn.execute(
            "SELECT DISTINCT f->>'category' FROM ml.churn_predictions, jsonb_array_elements(factors) f"
            " WHERE tenant_id = %s",
            (BIG,),
        ).fetchall()
        assert {c[0] for c in cats} <= {"usage", "support", "engagement", "financial"}
        kinds = dict(
            conn.execute(
                "SELECT kind, count(*) FROM ml.revenue_forecasts WHERE tenant_id = %s GROUP BY 1", (BIG,)
            ).fetchall()
        )
        assert kinds.get("pipeline", 0) > 0
        if "prophet" in kinds:
            assert kinds["prophet"] == 90
            assert (
                conn.execute(
                    "SELECT count(*) FROM ml.revenue_forecasts WHERE kind = 'prophet'"
                    " AND (backtest_mape IS NULL OR yhat_lower > yhat OR yhat_upper < yhat)"
                ).fetchone()[0]
                == 0
            )
        methods = dict(
            conn.execute(
                "SELECT tenant_id::text, min(method) FROM ml.deal_probabilities GROUP BY 1"
            ).fetchall()
        )
        assert methods == {BIG: "model", SMALL: "stage_default"}
    assert by["model"] > 0 and by["rules"] > 0


def test_readers_see_only_their_tenant(ml_db: str, trained: jobs.TrainReport) -> None:
    jobs.score_all(ml_db, AS_OF, seed=42, tenants=[BIG, SMALL])
    with psycopg.connect(ml_db) as conn:
        conn.execute("SET ROLE crm_reader")
        enter_tenant_pg(conn, SMALL)
        seen = {r[0] for r in conn.execute("SELECT DISTINCT tenant_id::text FROM ml.lead_scores").fetchall()}
        assert seen == {SMALL}
        assert (
            conn.execute("SELECT count(*) FROM ml.model_versions WHERE tenant_id = %s", (BIG,)).fetchone()[0]
            == 0
        )
        conn.rollback()
        conn.execute("SET ROLE crm_api")
        assert (
            conn.execute("SELECT count(*) FROM ml.lead_scores").fetchone()[0] == 0
        )  # no tenant set: nothing


def test_registry_refuses_a_worse_model(ml_db: str, trained: jobs.TrainReport) -> None:
    frame = marts.lead_frame(ml_db).filter(pl.col("tenant_id") == BIG)
    rng = np.random.default_rng(0)
    noisy = frame.with_columns(  # features carry no signal any more: a worse model
        [
            pl.Series(c, rng.permutation(frame[c].to_numpy()))
            for c in (
                "email_opens",
                "email_clicks",
                "website_visits",
                "meetings_completed",
                "calls_answered",
                "response_time_minutes",
            )
        ]
    )
    before = registry.active(ml_db, BIG, lead.MODEL_NAME)
    candidate = training.train_tenant(ml_db, LEAD, BIG, seed=42, as_of=AS_OF, frame=noisy)
    [verdict] = training.gate_candidates(ml_db, lead.MODEL_NAME, tenants=[BIG])
    assert (verdict.version, verdict.passed) == (candidate.version, False)
    assert training.promote_candidates(ml_db, lead.MODEL_NAME, tenants=[BIG]).promoted == []
    after = registry.active(ml_db, BIG, lead.MODEL_NAME)
    assert after.version == before.version
    rejected = registry.get(ml_db, BIG, lead.MODEL_NAME, status="rejected")
    assert rejected is not None and "does not beat" in rejected.reason


def test_a_broken_model_file_falls_back_to_rules(ml_db: str, trained: jobs.TrainReport) -> None:
    v = registry.active(ml_db, BIG, lead.MODEL_NAME)
    path = Path(v.artifact_path)
    backup = path.with_suffix(".bak")
    shutil.copy(path, backup)
    try:
        path.write_bytes(b"not a model")
        with pytest.raises(CRMError) as err:
            registry.load_active(ml_db, BIG, lead.MODEL_NAME)
        assert err.value.code == CRMErrorCode.SCORING_SERVICE_UNAVAILABLE
        runs = jobs.score_all(ml_db, AS_OF, tenants=[BIG])
        assert f"cannot load {v.label}" in runs["lead_scores"]["fallback_reason"]
        with psycopg.connect(ml_db) as conn:
            methods = {
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT method FROM ml.lead_scores WHERE tenant_id = %s", (BIG,)
                ).fetchall()
            }
        assert methods == {"rules"}
    finally:
        shutil.move(backup, path)
    jobs.score_all(ml_db, AS_OF, tenants=[BIG])
    assert (
        _count(ml_db, "SELECT count(*) FROM ml.lead_scores WHERE tenant_id = %s AND method = 'model'", BIG)
        > 0
    )


def test_a_broken_active_model_falls_back_to_rules_through_the_cli(
    ml_db: str, trained: jobs.TrainReport
) -> None:
    """An active model that loads but cannot score: `crm ml score` writes the rules' answer for
    the tenant, and the rows and the command's output say so."""
    from typer.testing import CliRunner

    from stack.cli import app

    answers = {
        lead.MODEL_NAME: ("lead_scores", "rules"),
        churn.MODEL_NAME: ("churn_predictions", "rules"),
        deals.MODEL_NAME: ("deal_probabilities", deals.STAGE_DEFAULT),
    }
    broken = {
        name: registry.register(ml_db, BIG, name, {"not": "a model"}, {}, {}, (None, None))
        for name in answers
    }
    for name, v in broken.items():
        registry.promote(ml_db, BIG, name, v.version, "test: a model that cannot score")
    try:
        res = CliRunner().invoke(app, ["ml", "score", "--tenant", BIG], env={"COLUMNS": "250"})
        assert res.exit_code == 0, res.output
        with psycopg.connect(ml_db) as conn:
            for name, (table, method) in answers.items():
                written = conn.execute(
                    f"SELECT array_agg(DISTINCT method), count(*) FROM ml.{table} WHERE tenant_id = %s",
                    (BIG,),
                ).fetchone()
                assert written[0] == [method] and written[1] > 0, name
                assert f"{broken[name].label} failed" in res.output.replace("\n", ""), (name, res.output)
    finally:
        for name in answers:
            registry.rollback(ml_db, BIG, name)  # the trained model is active again
    assert registry.active(ml_db, BIG, lead.MODEL_NAME).version == 1


def test_promote_and_rollback(ml_db: str, trained: jobs.TrainReport) -> None:
    frame = marts.lead_frame(ml_db).filter(pl.col("tenant_id") == BIG)
    r = lead.train(frame, AS_OF, seed=7)
    cand = registry.register(
        ml_db, BIG, lead.MODEL_NAME, r.model, r.metrics, r.params, (r.window_start, r.window_end)
    )
    first = registry.active(ml_db, BIG, lead.MODEL_NAME)
    registry.promote(ml_db, BIG, lead.MODEL_NAME, cand.version)
    assert registry.active(ml_db, BIG, lead.MODEL_NAME).version == cand.version
    back = registry.rollback(ml_db, BIG, lead.MODEL_NAME)
    assert back is not None and back.version == first.version
    assert registry.get(ml_db, BIG, lead.MODEL_NAME, cand.version).status == "retired"
    with pytest.raises(CRMError):
        registry.promote(ml_db, BIG, lead.MODEL_NAME, 999)


def test_cli_lists_models(ml_db: str, trained: jobs.TrainReport) -> None:
    from typer.testing import CliRunner

    from stack.cli import app

    res = CliRunner().invoke(app, ["models", "list", "--tenant", BIG], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "lead_scoring" in res.output and "active" in res.output and "linear" in res.output


def test_service_explains_one_lead(ml_db: str, trained: jobs.TrainReport) -> None:
    from ml import service

    lead_id = marts.lead_frame(ml_db, BIG)["lead_id"][0]
    out = service.explain_lead_score(ml_db, lead_id)
    assert out["method"] == "model" and out["model_version"].startswith("lead_scoring@")
    with pytest.raises(CRMError) as err:
        service.explain_lead_score(ml_db, "00000000-0000-4000-8000-00000000dead")
    assert err.value.code == CRMErrorCode.LEAD_NOT_FOUND
    factors = service.identify_churn_factors(ml_db, marts.customer_frame(ml_db, True, BIG)["customer_id"][0])
    assert factors and {"category", "factor", "weight", "value", "impact", "contribution"} <= set(factors[0])
