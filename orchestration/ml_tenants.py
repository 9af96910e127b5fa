"""ML one tenant at a time: the `ml_by_tenant` job, partitioned by tenant, for installs whose
tenants no longer fit one weekly run.

Each tenant is a partition of the dynamic partition set `tenants` (the `tenant_partitions`
sensor keeps it equal to `crm.tenants`). A run trains, gates, promotes and scores the four models
of its tenant only, one step per model; the multiprocess executor runs the steps in their own
processes, as many at once as it has cores (the deal model's step goes before the forecast's,
which weighs the pipeline by its scores). A backfill over the partition set is one run per
tenant: the run queue's `max_concurrent_runs` and the run launcher spread them over the workers
there are. The steps are
`ml.training`'s and `ml.scoring`'s, the same as the unpartitioned assets' (`ml_assets`), with the
tenant passed down; a tenant's runs never read or write another tenant's rows.
"""

from typing import Any

from dagster import (
    AddDynamicPartitionsRequest,
    Config,
    DefaultSensorStatus,
    DeleteDynamicPartitionsRequest,
    DynamicPartitionsDefinition,
    In,
    JobDefinition,
    Nothing,
    OpExecutionContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    job,
    multiprocess_executor,
    op,
    sensor,
)

from .resources import PostgresResource, named_run

TENANTS = DynamicPartitionsDefinition(name="tenants")
"""One partition per tenant id (`crm.tenants.id`)."""

MODELS = ("lead_scoring", "deal_win", "churn", "revenue_prophet")
"""Registry names (`ml.specs`), in the order a tenant's steps may start."""


class TenantTrainingConfig(Config):
    seed: int = 42
    """Training seed (the time-based holdout split is the ML package's)."""
    min_metrics: dict[str, float] = {}  # noqa: RUF012 (pydantic copies defaults)
    """The quality gate's minimum per holdout metric (empty: the ML defaults)."""
    max_metrics: dict[str, float] = {}  # noqa: RUF012
    """The quality gate's maximum per holdout metric."""


def _tenant(context: OpExecutionContext) -> str:
    tenant = context.partition_key
    if not tenant:
        raise ValueError("ml_by_tenant runs for one tenant: pick a partition")
    return tenant


def _summary(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if isinstance(v, int | float | str | bool) or v is None}


def _model_op(model: str):
    """One model for the run's tenant: train, gate and promote, then score with the active model
    (one step: its process imports the ML stack once)."""
    ins = {"after": In(Nothing)} if model == "revenue_prophet" else {}

    @op(
        name=f"{model}_for_tenant",
        ins=ins,
        description=f"Train, gate, promote and score the tenant's {model} model.",
    )
    def step(
        context: OpExecutionContext, config: TenantTrainingConfig, postgres: PostgresResource
    ) -> dict[str, Any]:
        from ml import scoring, training
        from ml.specs import BY_NAME

        tenant, spec = _tenant(context), BY_NAME[model]
        trained = training.train_candidates(postgres.url, spec, seed=config.seed, tenants=[tenant])
        context.log.info(f"{model} for {tenant}: {trained.summary()}")
        verdicts = training.gate_candidates(
            postgres.url, model, dict(config.min_metrics), dict(config.max_metrics), tenants=[tenant]
        )
        for v in verdicts:
            context.log.info(f"{model} v{v.version}: {v.kind} ({v.reason})")
        promoted = training.promote_candidates(postgres.url, model, tenants=[tenant])
        context.log.info(f"{model} promotion: {promoted.summary()}")
        with named_run(context):
            scored = scoring.score_model(postgres.url, spec, tenants=[tenant]).summary()
        if scored.get("fallback_reason"):
            context.log.warning(f"{model}: fallback ({scored['fallback_reason']})")
        context.log.info(f"{model} scores: {scored}")
        return _summary({**trained.summary(), **promoted.summary(), **scored})

    return step


_OPS = {model: _model_op(model) for model in MODELS}


@job(
    name="ml_by_tenant",
    partitions_def=TENANTS,
    executor_def=multiprocess_executor,
    description=(
        "One tenant's ML (a partition per tenant): the lead, deal, churn and forecast models trained, "
        "gated, promoted and scored for it alone, each model in a process of its own. Backfill "
        "the partition set to spread the tenants over the run workers."
    ),
    tags={"crm/ml-by-tenant": "1"},
)
def ml_by_tenant_job() -> None:
    deals = _OPS["deal_win"]()
    _OPS["lead_scoring"]()
    _OPS["churn"]()
    _OPS["revenue_prophet"](after=deals)


@sensor(
    name="tenant_partitions",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Keeps the `tenants` partition set equal to crm.tenants (added and removed tenants).",
)
def tenant_partitions_sensor(
    context: SensorEvaluationContext, postgres: PostgresResource
) -> SensorResult | SkipReason:
    if not postgres.relation_exists("crm.tenants"):
        return SkipReason("crm.tenants does not exist yet")
    tenants = {str(row[0]) for row in postgres.fetchall("select id from crm.tenants")}
    known = set(context.instance.get_dynamic_partitions(TENANTS.name or "tenants"))
    added, removed = sorted(tenants - known), sorted(known - tenants)
    if not added and not removed:
        return SkipReason(f"{len(known)} tenants, none added or removed")
    requests: list[AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest] = []
    if added:
        requests.append(TENANTS.build_add_request(added))
    if removed:
        requests.append(TENANTS.build_delete_request(removed))
    return SensorResult(dynamic_partitions_requests=requests)


def resolved_job() -> JobDefinition:
    """The job as the Definitions bind it (resources included): what `reconstructable` takes to
    run it outside the webserver (`dagster.execute_job`)."""
    from .definitions import defs

    return defs.resolve_job_def("ml_by_tenant")
