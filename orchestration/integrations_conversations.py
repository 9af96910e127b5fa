"""Dagster jobs, schedules and sensors of the integrations (conversations); the steps are
`integrations.conversations`'s.

`conversation_signals_sensor` watches `raw.conversations` for landed messages not yet analysed
and launches `conversation_signals`, which analyses them into `crm.conversation_signals`
(idempotent per message: a run that repeats one writes nothing)."""

from typing import Any

from dagster import (
    AssetMaterialization,
    DefaultSensorStatus,
    OpExecutionContext,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    in_process_executor,
    job,
    op,
    sensor,
)

from .resources import PostgresResource, named_run


@op(
    name="analyze_conversation_messages",
    description="Analyses every landed conversation message not yet analysed into crm.conversation_signals.",
)
def analyze_conversation_messages(context: OpExecutionContext, postgres: PostgresResource) -> None:
    from integrations.conversations.store import analyze_new_messages

    with named_run(context):
        counts = analyze_new_messages(postgres.url)
    context.log.info(f"conversation messages analysed: {counts}")
    context.log_event(
        AssetMaterialization(
            asset_key=["crm", "conversation_signals"],
            description="signals of newly landed conversation messages",
            metadata=counts,
        )
    )


@job(
    name="conversation_signals",
    executor_def=in_process_executor,
    description=(
        "Sales signals of newly landed conversation messages (sentiment, intent, buying signals, "
        "objections, competitors, pricing, timeline, next steps) into crm.conversation_signals."
    ),
)
def conversation_signals_job() -> None:
    analyze_conversation_messages()


@sensor(
    job=conversation_signals_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launches conversation_signals when landed conversation messages wait for analysis.",
)
def conversation_signals_sensor(context: SensorEvaluationContext, postgres: PostgresResource):
    from integrations.conversations.store import pending

    waiting, latest = pending(postgres.url)
    if not waiting:
        return SkipReason("no conversation message waits for analysis")
    return RunRequest(run_key=f"{latest}/{waiting}", tags={"crm/trigger": "conversation_signals"})


JOBS: list[Any] = [conversation_signals_job]
SCHEDULES: list[Any] = []
SENSORS: list[Any] = [conversation_signals_sensor]
