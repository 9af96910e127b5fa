"""Customer segments: criteria checked by the shared segment compiler; recalculation requests,
acted on within seconds by the stale-segment sensor (a new segment or new criteria too)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request

from api.core.auth import Principal
from api.deps import Db, IdempotencyKey, IfMatch, Paging, Requires
from api.routes._common import get_row, page_of, respond, row_response
from api.routes._crud import create_entity, update_entity
from api.schemas.common import CONFLICT, ERRORS, NOT_FOUND, PageOut
from api.schemas.marketing import SegmentCreate, SegmentOut, SegmentUpdate
from api.segments_bridge import check_criteria
from crm.errors import CRMErrorCode

router = APIRouter(prefix="/segments", tags=["segments"], responses=ERRORS)
Reader = Annotated[Principal, Requires("segments:read")]
Writer = Annotated[Principal, Requires("segments:write")]
NF = CRMErrorCode.SEGMENT_NOT_FOUND


@router.post("", status_code=201, response_model=SegmentOut, responses=CONFLICT)
async def create_segment(
    body: SegmentCreate, p: Writer, db: Db, request: Request, idem: IdempotencyKey = None
):
    check_criteria(body.criteria)
    values = body.model_dump(mode="json") | {"is_stale": True}  # members come with the first recalculation
    return await create_entity(
        db, p, request, idem, table="customer_segments", entity="segment", values=values
    )


@router.get("", response_model=PageOut[SegmentOut])
async def list_segments(p: Reader, db: Db, page: Paging, is_active: bool | None = None):
    where = [("is_active = %s", is_active)] if is_active is not None else []
    async with db.tx(p.tenant_id) as conn:
        return respond(await page_of(conn, "customer_segments", where, page, "name, id"))


@router.get("/{segment_id}", response_model=SegmentOut, responses=NOT_FOUND)
async def get_segment(segment_id: UUID, p: Reader, db: Db):
    async with db.tx(p.tenant_id) as conn:
        return row_response(await get_row(conn, "customer_segments", segment_id, NF, "segment"))


@router.patch("/{segment_id}", response_model=SegmentOut, responses={**NOT_FOUND, **CONFLICT})
async def update_segment(
    segment_id: UUID, body: SegmentUpdate, p: Writer, db: Db, request: Request, if_match: IfMatch
):
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    if changes.get("criteria") is not None:
        check_criteria(changes["criteria"])
        changes["is_stale"] = True
    return await update_entity(
        db,
        p,
        request,
        segment_id,
        changes,
        table="customer_segments",
        entity="segment",
        code=NF,
        label="segment",
        if_match=if_match,
        body_version=body.version,
        not_null=("name", "criteria", "is_active", "is_dynamic"),
    )


@router.post("/{segment_id}/recalculate", status_code=202, response_model=SegmentOut, responses=NOT_FOUND)
async def request_recalculation(segment_id: UUID, p: Writer, db: Db, request: Request):
    """Ask for the membership to be recalculated: the segment is marked stale and its current
    members stay (the seed's recovery rule: cached memberships, recalculation scheduled). The
    stale-segment sensor (orchestration/sensors.py, every 5 s) recalculates it within seconds,
    writes the members and clears the flag; a recalculation that fails keeps the members,
    records `last_error` and is retried a minute later. Poll GET /segments/{id} for
    `is_stale: false` and `last_calculated`."""

    resp = await update_entity(
        db,
        p,
        request,
        segment_id,
        {"is_stale": True, "last_error": None},
        table="customer_segments",
        entity="segment",
        code=NF,
        label="segment",
        if_match=None,
        body_version=None,
    )
    resp.status_code = 202
    return resp
