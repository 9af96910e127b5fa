"""Tenant-wide lead rescores asked for through the API (POST /leads/rescore): the op behind the
`lead_rescore` job, which `rescore_requests_sensor` launches per request. The step is the ML
package's (`ml.rescore.rescore`: take the request, score the tenant's leads as the lead scoring
asset does, record the outcome on the request); the op only calls it and records the new scores
as a materialization of `ml/lead_scores`.

No retry policy, unlike the scoring assets: a failed run has already marked its request failed
with the error, and the client asks again."""

from dagster import AssetMaterialization, Config, OpExecutionContext, in_process_executor, job, op

from . import keys
from .ml_assets import _md
from .resources import PostgresResource, named_run

REQUEST_TAG = "crm/rescore-request"
TENANT_TAG = "crm/rescore-tenant"
"""Each run carries its request and its tenant; the instance runs one run per tenant at a time
(`orchestration.instance`), so a request waits for the tenant's previous one."""


class RescoreRequest(Config):
    """The request to act on (crm.lead_rescore_requests id, set by the sensor)."""

    request_id: str


@op(
    name="rescore_tenant_leads",
    description="Scores one tenant's leads for its rescore request and records the outcome on it.",
)
def lead_rescore(context: OpExecutionContext, config: RescoreRequest, postgres: PostgresResource) -> None:
    from ml import rescore

    with named_run(context):
        summary = rescore.rescore(postgres.url, config.request_id)
    if "skipped" in summary:
        context.log.info(f"rescore request {config.request_id}: {summary['skipped']}")
        return
    if summary.get("fallback_reason"):
        context.log.warning(
            f"lead rescore of {summary['tenant_id']}: fallback ({summary['fallback_reason']})"
        )
    context.log_event(
        AssetMaterialization(
            asset_key=keys.LEAD_SCORES,
            description=f"tenant {summary['tenant_id']} rescored (request {config.request_id})",
            metadata=_md({"scope": "one tenant asked for", **summary}),
        )
    )


@job(
    name="lead_rescore",
    executor_def=in_process_executor,
    description=(
        "A tenant's leads rescored on request (POST /leads/rescore; the rescore sensor passes the "
        "request): the active lead model or the rules, as the lead scoring does, into "
        "ml.lead_scores; the request records running, then done with the rows and method or "
        "failed with the error. One run per tenant at a time."
    ),
)
def lead_rescore_job() -> None:
    lead_rescore()
