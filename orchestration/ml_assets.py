"""The ML steps as assets, downstream of the dbt feature marts. The assets only call the steps
`ml.training` and `ml.scoring` run for every model spec (`ml.specs`), the same ones the CLI
(`crm ml train|score`) runs.

Per model: `<model>_candidate` trains, evaluates on a time-based holdout and registers a
candidate in `ml.model_versions`; its blocking `quality_gate` check fails (and rejects the
candidate) when the holdout metrics miss the gate, which stops `<model>` (the promotion) from
running, so the active model stays in place. Scoring assets use the active model and fall back
to the rules when there is none or scoring fails, and say so in their metadata. In an
event-driven run (`EventWindow`) they rescore only the entities the run's events name.
"""

import importlib
import threading
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    Backoff,
    Config,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
    asset_check,
)

from . import keys
from .event_window import EventWindow, taken_in
from .resources import PostgresResource, named_run

if TYPE_CHECKING:
    from ml.specs import ModelSpec

TRAINING_GROUP = "ml_training"
SCORING_GROUP = "ml_scoring"

SCORING_RETRY = RetryPolicy(max_retries=2, delay=3, backoff=Backoff.EXPONENTIAL)


class TrainingConfig(Config):
    """Training run parameters (the time-based holdout split is the ML package's)."""

    seed: int = 42


class QualityGateConfig(Config):
    """Thresholds a candidate must reach on the holdout to be promoted (empty: the ML defaults)."""

    min_metrics: dict[str, float] = {}  # noqa: RUF012 (pydantic copies defaults)
    """e.g. {"auc": 0.7}: each named holdout metric must be at least this."""
    max_metrics: dict[str, float] = {}  # noqa: RUF012
    """e.g. {"backtest_mape": 0.3}: each named metric must be at most this."""


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


def import_ml_meanwhile() -> threading.Thread:
    """Import the scoring code in a thread: a run that scores right after its dbt step (the
    event-driven refresh) spends those seconds while dbt works in its own process, not after."""
    thread = threading.Thread(
        target=importlib.import_module, args=("ml.scoring",), name="import-ml", daemon=True
    )
    thread.start()
    return thread


def _spec(model: str) -> "ModelSpec":
    """The model's `ml.specs.ModelSpec`. ML is imported when a step runs, not when the
    Definitions load (scikit-learn, Polars and pandas take seconds to import)."""
    from ml.specs import BY_NAME

    return BY_NAME[model]


def _training_assets(model: str, candidate_key: AssetKey, active_key: AssetKey, inputs: list[AssetKey]):
    """candidate (train + register) -> blocking quality gate -> promotion, for one model."""

    @asset(
        key=candidate_key,
        deps=inputs,
        group_name=TRAINING_GROUP,
        kinds={"python", "postgres"},
        description=(
            f"Trains the {model} model per tenant on {inputs[0].to_user_string()}, evaluates it on a "
            "time-based holdout and registers it in ml.model_versions as a candidate."
        ),
    )
    def candidate(
        context: AssetExecutionContext, config: TrainingConfig, postgres: PostgresResource
    ) -> MaterializeResult:
        from ml import training

        summary = training.train_candidates(postgres.url, _spec(model), seed=config.seed).summary()
        context.log.info(f"{model}: {summary}")
        return MaterializeResult(metadata=_md(summary))

    @asset_check(
        asset=candidate_key,
        name="quality_gate",
        blocking=True,
        description=(
            "Each new candidate must beat the gate on its holdout (and the active model). Failing "
            "candidates are rejected; if none passes, promotion does not run and the active model stays."
        ),
    )
    def quality_gate(
        context: AssetCheckExecutionContext, config: QualityGateConfig, postgres: PostgresResource
    ) -> AssetCheckResult:
        from ml import training

        verdicts = training.gate_candidates(
            postgres.url, model, dict(config.min_metrics), dict(config.max_metrics)
        )
        passed = [v for v in verdicts if v.passed]
        quality = [asdict(v) for v in verdicts if v.kind == "quality"]
        metadata = {
            "candidates": MetadataValue.int(len(verdicts)),
            "passed": MetadataValue.int(len(passed)),
            "no_improvement": MetadataValue.int(sum(v.kind == "no_improvement" for v in verdicts)),
            "failed_quality": MetadataValue.json(quality),
        }
        if quality and not passed:
            # nothing qualifies: block the promotion step (blocking check, ERROR severity)
            return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR, metadata=metadata)
        if quality:
            # some tenants' candidates were rejected: they keep their active model
            return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN, metadata=metadata)
        # no candidate, or candidates that pass or merely do not beat the active model (kept)
        return AssetCheckResult(passed=True, metadata=metadata)

    @asset(
        key=active_key,
        deps=[candidate_key],
        group_name=TRAINING_GROUP,
        kinds={"python", "postgres"},
        description=f"Promotes the {model} candidates that passed the quality gate to active (ml.model_versions).",
    )
    def promotion(context: AssetExecutionContext, postgres: PostgresResource) -> MaterializeResult:
        from ml import training

        summary = training.promote_candidates(postgres.url, model).summary()
        context.log.info(f"{model} promotion: {summary}")
        return MaterializeResult(metadata=_md(summary))

    return [candidate, promotion], [quality_gate]


CUSTOMER_PURCHASES = keys.mart_key("ml_series__customer_purchases")
"""Each customer's purchases per day: the customer-base forecast candidate reads them."""

MODELS = (
    # registry name (`ml.specs`), candidate key, promotion key, training input
    ("lead_scoring", keys.LEAD_MODEL_CANDIDATE, keys.LEAD_MODEL, [keys.LEAD_FEATURES]),
    ("churn", keys.CHURN_MODEL_CANDIDATE, keys.CHURN_MODEL, [keys.CUSTOMER_FEATURES]),
    ("deal_win", keys.DEAL_MODEL_CANDIDATE, keys.DEAL_MODEL, [keys.DEAL_FEATURES]),
    (
        "revenue_prophet",
        keys.FORECAST_MODEL_CANDIDATE,
        keys.FORECAST_MODEL,
        [keys.REVENUE_SERIES, CUSTOMER_PURCHASES],
    ),
)
"""The training assets of each model; a test holds the names equal to `ml.specs.SPECS`'."""
_training = [_training_assets(name, cand, active, deps) for name, cand, active, deps in MODELS]


def _scored(
    context: AssetExecutionContext,
    postgres: PostgresResource,
    model: str,
    *,
    seed: int = 42,
    force_rules: bool = False,
    window: EventWindow | None = None,
) -> MaterializeResult:
    """Score with `ml.scoring` and put its summary (rows by method, fallbacks) in the metadata;
    in an event-driven run (`window`), only the entities its events name."""
    from ml import scoring

    spec = _spec(model)
    with named_run(context):
        if window is not None and window.limited and spec.key is not None:
            ids = taken_in(window, context.run_id).touched(postgres).by_key(spec.key)
            run = scoring.score_ids(postgres.url, spec, ids, seed=seed, force_rules=force_rules)
            summary = {"scope": "entities new events touched", **run.summary()}
        else:
            summary = scoring.score_model(postgres.url, spec, seed=seed, force_rules=force_rules).summary()
    if summary.get("fallback_reason"):
        context.log.warning(f"{model}: fallback ({summary['fallback_reason']})")
    return MaterializeResult(metadata=_md(summary))


@asset(
    key=keys.LEAD_SCORES,
    deps=[keys.LEAD_MODEL, keys.LEAD_FEATURES],
    group_name=SCORING_GROUP,
    kinds={"python", "postgres"},
    retry_policy=SCORING_RETRY,
    description=(
        "Lead scores 0-100 with confidence, factors, recommendations and next best actions "
        "(ml.lead_scores). Rule-based per tenant when there is no active model or it fails."
    ),
)
def lead_scores(
    context: AssetExecutionContext,
    config: ScoringConfig,
    postgres: PostgresResource,
    event_window: EventWindow,
) -> MaterializeResult:
    return _scored(context, postgres, "lead_scoring", force_rules=config.force_rules, window=event_window)


@asset(
    key=keys.DEAL_PROBABILITIES,
    deps=[keys.DEAL_MODEL, keys.DEAL_FEATURES],
    group_name=SCORING_GROUP,
    kinds={"python", "postgres"},
    retry_policy=SCORING_RETRY,
    description="Win probability of every open deal (ml.deal_probabilities); stage defaults when no model qualifies.",
)
def deal_probabilities(
    context: AssetExecutionContext,
    config: ScoringConfig,
    postgres: PostgresResource,
    event_window: EventWindow,
) -> MaterializeResult:
    return _scored(context, postgres, "deal_win", force_rules=config.force_rules, window=event_window)


@asset(
    key=keys.CHURN_PREDICTIONS,
    deps=[keys.CHURN_MODEL, keys.CUSTOMER_FEATURES_CURRENT],
    group_name=SCORING_GROUP,
    kinds={"python", "postgres"},
    retry_policy=SCORING_RETRY,
    description="Churn probability, churn risk level and factors per active customer (ml.churn_predictions).",
)
def churn_predictions(
    context: AssetExecutionContext,
    config: ScoringConfig,
    postgres: PostgresResource,
    event_window: EventWindow,
) -> MaterializeResult:
    return _scored(context, postgres, "churn", force_rules=config.force_rules, window=event_window)


@asset(
    key=keys.REVENUE_FORECASTS,
    deps=[keys.FORECAST_MODEL, keys.REVENUE_SERIES, CUSTOMER_PURCHASES, keys.DEAL_PROBABILITIES],
    group_name=SCORING_GROUP,
    kinds={"python", "postgres"},
    retry_policy=SCORING_RETRY,
    description=(
        "Daily won revenue forecast by the method the backtest chose (with its backtest MAPE; the "
        "seasonal naive baseline when nothing beat it) and the pipeline-weighted forecast."
    ),
)
def revenue_forecasts(
    context: AssetExecutionContext, config: TrainingConfig, postgres: PostgresResource
) -> MaterializeResult:
    return _scored(context, postgres, "revenue_prophet", seed=config.seed)


ML_ASSETS = [
    *(a for assets, _ in _training for a in assets),
    lead_scores,
    deal_probabilities,
    churn_predictions,
    revenue_forecasts,
]
ML_CHECKS = [c for _, checks in _training for c in checks]
