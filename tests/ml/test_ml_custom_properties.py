"""Custom properties as model inputs: the keys present on enough of a tenant's rows become
typed inputs, rare keys and keys that give the label away do not; the keys are stored with the
model, so one row scored alone gets the columns the batch gets."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from ml_synthetic import AS_OF, nonlinear_customer_frame, nonlinear_lead_frame

from ml import churn, custom, lead

TENANT = "00000000-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def trained() -> lead.TrainResult:
    return lead.train(nonlinear_lead_frame(TENANT, 3000, seed=4), AS_OF, seed=3)


def test_frequent_keys_become_typed_inputs_rare_and_leaking_ones_do_not(trained: lead.TrainResult) -> None:
    keys = trained.model.custom
    assert keys is not None
    assert keys.numeric == ("seats",) and keys.text == ("plan",)
    assert "referrer" not in keys.numeric + keys.text + tuple(keys.excluded)  # on 5% of the leads
    assert set(keys.excluded) == {"closed_reason"} and "AUC" in keys.excluded["closed_reason"]
    assert trained.params["custom_numeric"] == ["seats"] and trained.params["custom_excluded"]
    assert {"custom.seats", "custom.plan"} <= set(trained.model.model.inputs)
    assert "custom_properties" not in trained.model.model.inputs
    assert trained.model.labels["custom.seats"] == "seats"


def test_one_row_scores_as_in_the_batch_and_explains_exactly(trained: lead.TrainResult) -> None:
    frame = nonlinear_lead_frame(TENANT, 300, seed=9)
    batch = lead.score(frame, trained.model, "lead_scoring@1", AS_OF)
    for i in (0, 5, 123):
        one = lead.score(frame.slice(i, 1), trained.model, "lead_scoring@1", AS_OF)
        assert one.row(0) == batch.row(i)
    out = lead.explain(frame, frame["lead_id"][5], trained.model, "lead_scoring@1", AS_OF)
    assert {"custom.seats", "custom.plan"} <= set(out["all_contributions"])
    z = np.log(out["probability"] / (1 - out["probability"]))
    assert out["base_logit"] + sum(out["all_contributions"].values()) == pytest.approx(z, abs=1e-9)
    # a frame without the JSON column (or a value of the wrong type) scores as missing values
    bare = lead.score(frame.drop("custom_properties").head(3), trained.model, "lead_scoring@1", AS_OF)
    assert bare.height == 3
    odd = frame.head(1).with_columns(custom_properties=pl.lit('{"seats": "many", "plan": 3}'))
    assert custom.expand(odd, trained.model.custom)["custom.seats"][0] is None
    assert lead.score(odd, trained.model, "lead_scoring@1", AS_OF).height == 1


def test_churn_reads_custom_properties_too() -> None:
    r = churn.train(nonlinear_customer_frame(TENANT, 2500, seed=5), seed=3)
    assert r.model.custom is not None and r.model.custom.numeric == ("seats",)
    assert "closed_reason" in r.model.custom.excluded
    rows = churn.predict(r.holdout.head(20), r.model, "churn@1", AS_OF)
    assert set(rows["method"]) == {"model"}


def test_without_the_column_nothing_changes() -> None:
    frame = nonlinear_lead_frame(TENANT, 200, seed=1).drop("custom_properties")
    assert custom.discover(frame, "converted_90d") == custom.Keys()
    assert custom.expand(frame, custom.Keys()) is frame
