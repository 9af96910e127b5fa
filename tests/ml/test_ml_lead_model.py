"""Lead scoring as plain functions over frames: quality, calibration, explanations that add
up to the score, the conversion minimum, rule fallback when the model fails, determinism."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import orjson
import polars as pl
import pytest
from ml_synthetic import AS_OF, lead_frame

from crm.errors import CRMErrorCode
from ml import lead

TENANT = "00000000-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return lead_frame(TENANT, 4000, seed=1)


@pytest.fixture(scope="module")
def trained(frame: pl.DataFrame) -> lead.TrainResult:
    return lead.train(frame, AS_OF, seed=3)


def test_model_learns_and_beats_the_naive_bayes_baseline(trained: lead.TrainResult) -> None:
    m = trained.metrics
    assert m["auc"] > 0.70
    assert m["auc"] > m["baseline_auc"] + 0.05
    assert m["ece"] < 0.06
    assert trained.window_end <= AS_OF


def test_unlabeled_and_young_leads_are_not_trained_on(frame: pl.DataFrame) -> None:
    data = lead.labeled(frame, AS_OF)
    assert data["converted_90d"].null_count() == 0
    assert data["created_at"].max() <= AS_OF - timedelta(days=90)
    fit, cal, hold = lead.time_split(data)
    assert fit["created_at"].max() <= cal["created_at"].min() <= hold["created_at"].min()


def test_contributions_add_up_to_the_score(frame: pl.DataFrame, trained: lead.TrainResult) -> None:
    rows = lead.score(frame.head(200), trained.model, "lead_scoring@1", AS_OF)
    p, contrib = trained.model.model.contributions(frame.head(200))
    z = np.log(p / (1 - p))
    assert np.allclose(trained.model.model.base_logit + contrib.sum(axis=1), z, atol=1e-9)
    assert (rows["score"].to_numpy() == np.clip(np.round(100 * p), 0, 100)).all()
    assert set(rows["method"]) == {"model"}
    inputs = trained.model.model.inputs
    for i, factors in enumerate(rows["factors"].to_list()):
        parsed = orjson.loads(factors)
        pos = [f for f in parsed if f["contribution"] > 0]
        neg = [f for f in parsed if f["contribution"] < 0]
        assert pos == sorted(pos, key=lambda f: -f["contribution"])
        assert neg == sorted(neg, key=lambda f: f["contribution"])
        for f in parsed:
            assert f["contribution"] == pytest.approx(contrib[i, inputs.index(f["feature"])], abs=1e-4)
            assert f["label"]
        # the strongest factor shown is the strongest there is
        if pos:
            assert pos[0]["contribution"] == pytest.approx(contrib[i].max(), abs=1e-4)


def test_explain_one_lead(frame: pl.DataFrame, trained: lead.TrainResult) -> None:
    lead_id = frame["lead_id"][7]
    out = lead.explain(frame, lead_id, trained.model, "lead_scoring@1", AS_OF)
    z = np.log(out["probability"] / (1 - out["probability"]))
    assert out["base_logit"] + sum(out["all_contributions"].values()) == pytest.approx(z, abs=1e-9)
    assert out["score"] == round(100 * out["probability"])
    assert isinstance(out["next_best_actions"], list) and out["next_best_actions"]
    assert {"action", "reason", "priority"} <= set(out["next_best_actions"][0])
    with pytest.raises(lead.CRMError) as err:
        lead.explain(frame, "00000000-0000-4000-8000-00000000dead", trained.model, "x", AS_OF)
    assert err.value.code == CRMErrorCode.LEAD_NOT_FOUND


def test_too_few_conversions_means_no_model(frame: pl.DataFrame) -> None:
    few = lead.labeled(frame, AS_OF)
    few = pl.concat(
        [few.filter(pl.col("converted_90d") == 1).head(119), few.filter(pl.col("converted_90d") == 0)]
    )
    with pytest.raises(lead.NotEnoughData) as err:
        lead.train(few, AS_OF)
    assert err.value.code == CRMErrorCode.SCORING_SERVICE_UNAVAILABLE
    rows = lead.score(frame.head(50), None, None, AS_OF)
    assert set(rows["method"]) == {"rules"} and set(rows["model_version"]) == {lead.RULES_VERSION}
    assert rows["score"].is_between(0, 100).all()


def test_a_model_that_fails_to_score_falls_back_to_rules(
    frame: pl.DataFrame, trained: lead.TrainResult
) -> None:
    import copy

    from ml.scoring import with_fallback

    broken = copy.deepcopy(trained.model)
    broken.model.coef = broken.model.coef[:2]  # shape mismatch: scoring raises
    with pytest.raises(IndexError):
        lead.score(frame.head(30), broken, "lead_scoring@9", AS_OF)
    rows, reason = with_fallback(
        lambda m, v: lead.score(frame.head(30), m, "lead_scoring@9" if m else None, AS_OF), broken, None, None
    )
    assert set(rows["method"]) == {"rules"}
    assert set(rows["model_version"]) == {lead.RULES_VERSION}
    assert reason is not None and "failed" in reason


def test_rule_scores_are_documented_points(frame: pl.DataFrame) -> None:
    one = frame.head(1).with_columns(
        email_opens=pl.lit(3),
        email_clicks=pl.lit(0),
        website_visits=pl.lit(0),
        meetings_completed=pl.lit(1),
        calls_answered=pl.lit(0),
        employee_count=pl.lit(500),
    )
    score, inputs, pts = lead.rule_scores(one)
    assert score[0] == lead.RULE_BASE + 3 * 2 + 10 + 5
    assert dict(zip(inputs, pts[0], strict=True))["meetings_completed"] == 10


def test_training_is_deterministic_for_a_seed(frame: pl.DataFrame) -> None:
    a = lead.train(frame, AS_OF, seed=5)
    b = lead.train(frame, AS_OF, seed=5)
    assert a.metrics == b.metrics
    assert np.array_equal(a.model.predict(frame), b.model.predict(frame))
    ra = lead.score(frame.head(100), a.model, "v", AS_OF)
    rb = lead.score(frame.head(100), b.model, "v", AS_OF)
    assert ra.equals(rb)
