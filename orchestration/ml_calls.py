"""The seam between the Dagster assets and issue 5's `ml/` package: one function per asset step,
each returning a small summary dict for the materialization metadata. Keys starting with `_`
stay out of the metadata."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine


def train_candidates(engine: Engine, model: str, *, seed: int, holdout_days: int) -> dict[str, Any]:
    raise NotImplementedError


def gate_candidates(engine: Engine, model: str, min_metrics: dict[str, float] | None) -> list[dict[str, Any]]:
    raise NotImplementedError


def promote_candidates(engine: Engine, model: str) -> dict[str, Any]:
    raise NotImplementedError


def score_leads(engine: Engine, *, force_rules: bool = False) -> dict[str, Any]:
    raise NotImplementedError


def score_deals(engine: Engine, *, force_rules: bool = False) -> dict[str, Any]:
    raise NotImplementedError


def predict_churn(engine: Engine, *, force_rules: bool = False) -> dict[str, Any]:
    raise NotImplementedError


def forecast_revenue(engine: Engine, *, seed: int) -> dict[str, Any]:
    raise NotImplementedError
