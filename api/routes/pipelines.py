"""Sales pipelines and their stage definitions."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request

from api.core.auth import Principal
from api.core.db import fetchall, fetchone
from api.core.writes import now, record_change, update_row
from api.deps import Db, IdempotencyKey, IfMatch, Paging, Requires, request_id
from api.routes._common import get_row, page_of, respond, row_response
from api.routes._crud import create_entity, update_entity
from api.schemas.catalog import PipelineCreate, PipelineOut, PipelineUpdate
from api.schemas.common import CONFLICT, ERRORS, NOT_FOUND, PageOut
from crm.errors import CRMError, CRMErrorCode
from crm.schema.pipelines import validate_stages

router = APIRouter(prefix="/pipelines", tags=["pipelines"], responses=ERRORS)
Reader = Annotated[Principal, Requires("catalog:read")]
Writer = Annotated[Principal, Requires("catalog:write")]
NF = CRMErrorCode.PIPELINE_NOT_FOUND


def _check_stages(stages: list[dict[str, Any]]) -> None:
    problems = validate_stages(stages)
    if problems:
        raise CRMError(
            CRMErrorCode.PIPELINE_STAGES_INVALID, "; ".join(problems), {"field": "stages", "errors": problems}
        )


def _one_default(p: Principal, request: Request) -> Any:
    """The check of a write that makes a pipeline the default: the tenant's other default
    pipelines stop being default, each a versioned, audited change with its event."""

    async def check(conn: Any, row: dict[str, Any], before: dict[str, Any] | None) -> None:
        if not row.get("is_default"):
            return
        keep = before["id"] if before else row["id"]
        others = await fetchall(
            conn,
            "SELECT * FROM crm.sales_pipelines WHERE is_default AND id <> %s ORDER BY id FOR UPDATE",
            (keep,),
        )
        for old in others:
            after = await update_row(
                conn, "sales_pipelines", old["id"], {"is_default": False, "updated_at": now()}
            )
            await record_change(
                conn,
                p,
                table="sales_pipelines",
                entity="pipeline",
                action="updated",
                entity_id=old["id"],
                before=old,
                after=after,
                request_id=request_id(request),
            )

    return check


@router.post("", status_code=201, response_model=PipelineOut, responses=CONFLICT)
async def create_pipeline(
    body: PipelineCreate, p: Writer, db: Db, request: Request, idem: IdempotencyKey = None
):
    values = body.model_dump(mode="json")
    _check_stages(values["stages"])
    return await create_entity(
        db,
        p,
        request,
        idem,
        table="sales_pipelines",
        entity="pipeline",
        values=values,
        check=_one_default(p, request),
    )


@router.get("", response_model=PageOut[PipelineOut])
async def list_pipelines(p: Reader, db: Db, page: Paging, is_active: bool | None = None):
    where = [("is_active = %s", is_active)] if is_active is not None else []
    async with db.tx(p.tenant_id) as conn:
        return respond(await page_of(conn, "sales_pipelines", where, page, "name, id"))


@router.get("/{pipeline_id}", response_model=PipelineOut, responses=NOT_FOUND)
async def get_pipeline(pipeline_id: UUID, p: Reader, db: Db):
    async with db.tx(p.tenant_id) as conn:
        return row_response(await get_row(conn, "sales_pipelines", pipeline_id, NF, "pipeline"))


@router.patch("/{pipeline_id}", response_model=PipelineOut, responses={**NOT_FOUND, **CONFLICT})
async def update_pipeline(
    pipeline_id: UUID, body: PipelineUpdate, p: Writer, db: Db, request: Request, if_match: IfMatch
):
    """Changing stages is refused (409) while open deals sit in a stage that would disappear."""
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    make_default = _one_default(p, request)

    async def check(conn: Any, ch: dict[str, Any], before: dict[str, Any] | None) -> None:
        if "stages" in ch:
            _check_stages(ch["stages"])
            names = [s["name"] for s in ch["stages"]]
            stuck = await fetchone(
                conn,
                "SELECT stage, count(*) AS n FROM crm.deals WHERE pipeline_id = %s"
                " AND NOT (stage = ANY(%s)) GROUP BY stage LIMIT 1",
                (pipeline_id, names),
            )
            if stuck:
                raise CRMError(
                    CRMErrorCode.INVALID_STATUS_TRANSITION,
                    f"{stuck['n']} deal(s) are in stage {stuck['stage']!r}, which the new stages drop",
                    {"field": "stages", "stage": stuck["stage"]},
                )
        await make_default(conn, ch, before)

    return await update_entity(
        db,
        p,
        request,
        pipeline_id,
        changes,
        table="sales_pipelines",
        entity="pipeline",
        code=NF,
        label="pipeline",
        if_match=if_match,
        body_version=body.version,
        not_null=("name", "stages", "is_default", "is_active"),
        check=check,
    )
