"""Each model chooses its family per tenant on validation rows the holdout never sees: a tenant
whose signal follows bands and thresholds gets gradient-boosted trees, a linear one keeps the
logistic model; both explain exactly (base + contributions = the served logit); the registry
records the family and why; a tree model answers on demand as the batch does."""

from __future__ import annotations

import numpy as np
import orjson
import psycopg
import pytest
from ml_synthetic import (
    AS_OF,
    NONLINEAR,
    customer_frame,
    lead_frame,
    nonlinear_customer_frame,
    nonlinear_lead_frame,
)

from ml import churn, deals, family, jobs, lead, registry, service
from ml.linear import LinearModel
from ml.trees import TreeModel

TENANT = "00000000-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def leads() -> dict[str, lead.TrainResult]:
    return {
        "linear": lead.train(lead_frame(TENANT, 4000, seed=1), AS_OF, seed=3),
        "trees": lead.train(nonlinear_lead_frame(TENANT, 4000, seed=2), AS_OF, seed=3),
    }


@pytest.fixture(scope="module")
def customers() -> dict[str, churn.ChurnTrain]:
    return {
        "linear": churn.train(customer_frame(TENANT, 2500, seed=13), seed=3),
        "trees": churn.train(nonlinear_customer_frame(TENANT, 2500, seed=5), seed=3),
    }


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


@pytest.mark.parametrize("signal", ["linear", "trees"])
def test_the_family_follows_the_signal(leads, customers, signal: str) -> None:
    for r in (leads[signal], customers[signal]):
        assert r.params["family"] == signal
        assert isinstance(r.model.model, TreeModel if signal == "trees" else LinearModel)
        assert r.params["family_why"].startswith(f"{signal}:")
        m = r.metrics
        gain = m["family_auc_trees"] - m["family_auc_linear"]
        bar = max(family.MIN_GAIN, family.NOISE_SE * m["family_gain_se"])
        assert (gain > bar) == (signal == "trees")
    # where the trees are chosen they do fit better on the holdout the choice never saw
    if signal == "trees":
        assert leads["trees"].metrics["auc"] > 0.75 and customers["trees"].metrics["auc"] > 0.8


@pytest.mark.parametrize("signal", ["linear", "trees"])
def test_contributions_sum_to_the_served_logit(leads, customers, signal: str) -> None:
    r = leads[signal]
    m = r.model.model
    p, contrib = m.contributions(r.holdout)
    assert contrib.shape == (r.holdout.height, len(m.inputs))
    assert np.allclose(m.base_logit + contrib.sum(axis=1), _logit(p), atol=1e-9)
    assert np.allclose(p, m.predict(r.holdout), atol=1e-12)  # the same probability the gate measured
    rows = lead.score(r.holdout, r.model, "lead_scoring@1", AS_OF)
    assert (rows["score"].to_numpy() == np.clip(np.round(100 * p), 0, 100)).all()
    one = lead.explain(r.holdout, r.holdout["lead_id"][3], r.model, "lead_scoring@1", AS_OF)
    total = one["base_logit"] + sum(one["all_contributions"].values())
    assert total == pytest.approx(_logit(np.array([one["probability"]]))[0], abs=1e-9)
    c = customers[signal].model
    p, contrib = c.model.contributions(customers[signal].holdout)
    assert np.allclose(c.model.base_logit + contrib.sum(axis=1), _logit(p), atol=1e-9)
    factors = orjson.loads(
        churn.predict(customers[signal].holdout.head(1), c, "churn@1", AS_OF)["factors"][0]
    )
    assert factors and all(f["category"] and float(f["weight"]) >= 0 for f in factors)


def test_one_row_explains_as_in_its_batch(leads) -> None:
    """TreeSHAP explains a row alone exactly as within the whole frame (on demand = batch)."""
    m = leads["trees"].model.model
    frame = leads["trees"].holdout.head(50)
    p, contrib = m.contributions(frame)
    for i in (0, 17, 49):
        p1, c1 = m.contributions(frame.slice(i, 1))
        assert p1[0] == p[i] and np.array_equal(c1[0], contrib[i])


def test_a_gain_within_noise_keeps_the_simpler_family() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(int)
    linear = y + rng.normal(0, 1.5, 400)
    trees = linear + rng.normal(0, 0.05, 400)  # nearly the same ranking, a hair apart either way
    c = family.choose(y, {family.LINEAR: linear, family.TREES: trees}, "test rows")
    assert c.family == family.LINEAR and "does not clear the noise bar" in c.why
    clear = family.choose(
        y, {family.LINEAR: rng.normal(size=400), family.TREES: y + 0.3 * rng.normal(size=400)}, "t"
    )
    assert clear.family == family.TREES and clear.gain > 0.3


@pytest.fixture(scope="module")
def scored(nonlinear_db: str) -> str:
    jobs.train_all(nonlinear_db, AS_OF, seed=42)
    jobs.score_all(nonlinear_db, AS_OF, seed=42)
    return nonlinear_db


@pytest.mark.parametrize("name", [lead.MODEL_NAME, churn.MODEL_NAME, deals.MODEL_NAME])
def test_the_registry_records_the_family_and_why(scored: str, name: str) -> None:
    v = registry.active(scored, NONLINEAR, name)
    assert v is not None
    assert v.params["family"] == "trees" and v.params["model"].startswith("lightgbm+platt")
    assert v.params["family_why"].startswith("trees: validation AUC")
    assert v.metrics["family_auc_trees"] > v.metrics["family_auc_linear"] + family.MIN_GAIN
    assert v.metrics["family_gain_se"] > 0
    assert isinstance(registry.load(v), object) and type(registry.load(v).model) is TreeModel


def _stored(url: str, table: str, key: str) -> list[dict]:
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            f"SELECT * FROM {table} WHERE tenant_id = %s ORDER BY md5({key}::text) LIMIT 15", (NONLINEAR,)
        )
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_tree_models_answer_on_demand_as_the_batch(scored: str) -> None:
    keys = tuple(c for c in lead.COLUMNS if c not in ("tenant_id", "lead_id", "scored_at"))
    for stored in _stored(scored, "ml.lead_scores", "lead_id"):
        out = service.calculate_lead_score(scored, str(stored["lead_id"]), write=False)
        assert {k: out[k] for k in keys} == {k: stored[k] for k in keys} and out["method"] == "model"
        explained = service.explain_lead_score(scored, str(stored["lead_id"]))
        total = explained["base_logit"] + sum(explained["all_contributions"].values())
        assert total == pytest.approx(_logit(np.array([explained["probability"]]))[0], abs=1e-9)
    keys = ("probability", "method", "model_version", "factors")
    for stored in _stored(scored, "ml.deal_probabilities", "deal_id"):
        out = service.calculate_deal_probability(scored, str(stored["deal_id"]))
        assert {k: out[k] for k in keys} == {k: stored[k] for k in keys} and out["method"] == "model"
    keys = ("churn_probability", "churn_risk_level", "method", "model_version", "factors")
    for stored in _stored(scored, "ml.churn_predictions", "customer_id"):
        out = service.predict_churn(scored, str(stored["customer_id"]))
        assert {k: out[k] for k in keys} == {k: stored[k] for k in keys} and out["method"] == "model"
    assert {r["model_version"] for r in _stored(scored, "ml.lead_scores", "lead_id")} == {"lead_scoring@1"}
