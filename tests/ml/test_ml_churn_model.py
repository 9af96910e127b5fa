"""Churn training over several labelled snapshots: the holdout is a fifth of the customers at
the latest snapshot and none of their rows, earlier ones included, is trained on; the model
learns, is calibrated on out-of-fold logits, and explains exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from ml_synthetic import customer_frame

from ml import churn
from ml.linear import LinearModel, split_columns

TENANT = "00000000-0000-4000-8000-000000000003"
LATEST = datetime(2026, 8, 25, tzinfo=UTC)
EARLIER = datetime(2026, 5, 27, tzinfo=UTC)


@pytest.fixture(scope="module")
def two_snapshots() -> pl.DataFrame:
    """The same 3,000 customers at two snapshots (features and labels drawn afresh)."""
    late = customer_frame(TENANT, 3000, seed=21).with_columns(snapshot_at=pl.lit(LATEST))
    early = customer_frame(TENANT, 3000, seed=22).with_columns(
        customer_id=late["customer_id"], snapshot_at=pl.lit(EARLIER)
    )
    return pl.concat([early, late])


def test_holdout_is_latest_snapshot_customers_never_trained_on(two_snapshots: pl.DataFrame) -> None:
    fit, hold = churn._split(two_snapshots)
    assert hold["snapshot_at"].unique().to_list() == [LATEST]
    assert hold.height == 3000 - int(3000 * 0.8)
    held = set(hold["customer_id"].to_list())
    assert not held & set(fit["customer_id"].to_list())
    # every other row, at both snapshots, is trained on
    assert fit.height == two_snapshots.height - hold.height * 2
    assert set(fit["snapshot_at"].unique().to_list()) == {LATEST, EARLIER}


def test_training_on_two_snapshots_learns_and_reports_it(two_snapshots: pl.DataFrame) -> None:
    r = churn.train(two_snapshots, seed=5)
    assert r.params["snapshots"] == 2
    assert r.metrics["holdout_rows"] == 600
    assert r.metrics["auc"] > 0.7
    p, contrib = r.model.model.contributions(r.holdout)
    z = np.log(p / (1 - p))
    assert np.allclose(z, r.model.model.base_logit + contrib.sum(axis=1))
    assert np.allclose(p, r.holdout_pred)


def test_out_of_fold_calibration_matches_the_base_rate(two_snapshots: pl.DataFrame) -> None:
    data = two_snapshots
    num, cat = split_columns(data, exclude={"snapshot_at"})
    y = data["churned_90d"].to_numpy()
    m = LinearModel.fit_cross_calibrated(data, y, num, cat, groups=churn._id_hash(data), seed=1)
    # calibrated on logits the model had not seen: the mean probability is the churn rate
    assert abs(m.predict(data).mean() - y.mean()) < 0.01
    assert m.platt_a > 0
