"""The ML jobs (issue 5's `ml/` functions) as assets, downstream of the dbt feature marts.

Per model: `<model>_candidate` trains, evaluates on a time-based holdout and registers a
candidate in `ml.model_versions`; its blocking `quality_gate` check fails (and rejects the
candidate) when the holdout metrics miss the gate, which stops `<model>` (the promotion) from
running, so the active model stays in place. Scoring assets use the active model and fall back
to the rule-based scorers when there is none or scoring fails, and say so in their metadata.
"""

from typing import Any

from dagster import (
    Backoff,
    Config,
    MetadataValue,
    RetryPolicy,
)

TRAINING_GROUP = "ml_training"
SCORING_GROUP = "ml_scoring"

SCORING_RETRY = RetryPolicy(max_retries=2, delay=3, backoff=Backoff.EXPONENTIAL)


class TrainingConfig(Config):
    """Training run parameters."""

    seed: int = 42
    holdout_days: int = 60
    """The newest `holdout_days` of labelled rows are the time-based holdout."""


class QualityGateConfig(Config):
    """Thresholds a candidate must reach on the holdout to be promoted (empty: the ML defaults)."""

    min_metrics: dict[str, float] = {}
    """e.g. {"roc_auc": 0.7}: every named metric must be at least this."""


class ScoringConfig(Config):
    """Scoring run parameters."""

    force_rules: bool = False
    """Score with the rule-based scorer even when an active model exists (incident switch)."""


def _md(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, bool | str):
            out[k] = v
        elif isinstance(v, int):
            out[k] = MetadataValue.int(v)
        elif isinstance(v, float):
            out[k] = MetadataValue.float(v)
        elif v is None:
            out[k] = MetadataValue.null()
        else:
            out[k] = MetadataValue.json(v)
    return out


ML_ASSETS: list = []
ML_CHECKS: list = []
