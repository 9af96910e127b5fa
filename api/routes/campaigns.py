"""Marketing campaigns: create, update, status transitions, trigger for a customer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request

from api.core.auth import Principal
from api.core.db import Conn, fetchone
from api.core.writes import check_version, lock_row, now, record_change, require_refs, update_row
from api.deps import Db, IdempotencyKey, IfMatch, Paging, Requires, expected_version, request_id
from api.routes._common import get_row, page_of, respond, row_response
from api.routes._crud import create_entity, update_entity
from api.schemas.common import CONFLICT, ERRORS, NOT_FOUND, PageOut
from api.schemas.marketing import (
    CampaignCreate,
    CampaignOut,
    CampaignStatusChange,
    CampaignTrigger,
    CampaignTriggered,
    CampaignUpdate,
)
from crm.enums import CampaignStatus as S
from crm.enums import CampaignType
from crm.errors import CRMError, CRMErrorCode

router = APIRouter(prefix="/campaigns", tags=["campaigns"], responses=ERRORS)
Reader = Annotated[Principal, Requires("campaigns:read")]
Writer = Annotated[Principal, Requires("campaigns:write")]
NF = CRMErrorCode.CAMPAIGN_NOT_FOUND

TRANSITIONS: dict[S, frozenset[S]] = {
    S.DRAFT: frozenset({S.SCHEDULED, S.ACTIVE, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.DRAFT, S.ACTIVE, S.CANCELLED}),
    S.ACTIVE: frozenset({S.PAUSED, S.COMPLETED, S.CANCELLED}),
    S.PAUSED: frozenset({S.ACTIVE, S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}
"""Allowed status changes; COMPLETED and CANCELLED are final."""


def _check_dates(start: Any, end: Any) -> None:
    if start is not None and end is not None and str(end) < str(start):
        raise CRMError(CRMErrorCode.VALIDATION_ERROR, "end_date is before start_date", {"field": "end_date"})


async def _segment_ref(conn: Any, row: dict[str, Any], before: dict[str, Any] | None) -> None:
    await require_refs(conn, [("customer_segments", row.get("segment_id"), "segment_id")])
    if before is not None:
        if before["status"] in (S.COMPLETED, S.CANCELLED):
            raise CRMError(
                CRMErrorCode.INVALID_STATUS_TRANSITION,
                f"campaign is {before['status']}: it cannot change",
                {"status": before["status"]},
            )
        start = row.get("start_date", before["start_date"])
        end = row.get("end_date", before["end_date"])
        from api.core.writes import jsonable

        _check_dates(jsonable(start), jsonable(end))


@router.post("", status_code=201, response_model=CampaignOut, responses=CONFLICT)
async def create_campaign(
    body: CampaignCreate, p: Writer, db: Db, request: Request, idem: IdempotencyKey = None
):
    values = body.model_dump(mode="json") | {"status": S.DRAFT.value, "spent": "0", "metrics": {}}
    _check_dates(body.start_date, body.end_date)
    return await create_entity(
        db,
        p,
        request,
        idem,
        table="marketing_campaigns",
        entity="campaign",
        values=values,
        check=_segment_ref,
    )


@router.get("", response_model=PageOut[CampaignOut])
async def list_campaigns(
    p: Reader,
    db: Db,
    page: Paging,
    status: S | None = None,
    type: CampaignType | None = None,
    segment_id: UUID | None = None,
):
    where = [
        (sql, v)
        for sql, v in (
            ("status = %s", status.value if status else None),
            ("type = %s", type.value if type else None),
            ("segment_id = %s", segment_id),
        )
        if v is not None
    ]
    async with db.tx(p.tenant_id) as conn:
        return respond(await page_of(conn, "marketing_campaigns", where, page))


@router.get("/{campaign_id}", response_model=CampaignOut, responses=NOT_FOUND)
async def get_campaign(campaign_id: UUID, p: Reader, db: Db):
    async with db.tx(p.tenant_id) as conn:
        return row_response(await get_row(conn, "marketing_campaigns", campaign_id, NF, "campaign"))


@router.patch("/{campaign_id}", response_model=CampaignOut, responses={**NOT_FOUND, **CONFLICT})
async def update_campaign(
    campaign_id: UUID, body: CampaignUpdate, p: Writer, db: Db, request: Request, if_match: IfMatch
):
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    return await update_entity(
        db,
        p,
        request,
        campaign_id,
        changes,
        table="marketing_campaigns",
        entity="campaign",
        code=NF,
        label="campaign",
        if_match=if_match,
        body_version=body.version,
        not_null=("name", "spent"),
        check=_segment_ref,
    )


@router.post("/{campaign_id}/status", response_model=CampaignOut, responses={**NOT_FOUND, **CONFLICT})
async def change_status(
    campaign_id: UUID, body: CampaignStatusChange, p: Writer, db: Db, request: Request, if_match: IfMatch
):
    """DRAFT -> SCHEDULED/ACTIVE/CANCELLED, SCHEDULED -> DRAFT/ACTIVE/CANCELLED, ACTIVE ->
    PAUSED/COMPLETED/CANCELLED, PAUSED -> ACTIVE/COMPLETED/CANCELLED; others are 409."""
    at = now()
    async with db.tx(p.tenant_id) as conn:
        before = await lock_row(conn, "marketing_campaigns", campaign_id, NF, "campaign")
        check_version(before, expected_version(if_match, body.version), "campaign")
        current = S(before["status"])
        if body.status not in TRANSITIONS[current]:
            raise CRMError(
                CRMErrorCode.INVALID_STATUS_TRANSITION,
                f"campaign cannot go from {current} to {body.status}",
                {"field": "status", "from": current.value, "allowed": sorted(TRANSITIONS[current])},
            )
        changes: dict[str, Any] = {"status": body.status.value}
        if body.status is S.ACTIVE and before["start_date"] is None:
            changes["start_date"] = at
        if body.status in (S.COMPLETED, S.CANCELLED) and before["end_date"] is None:
            changes["end_date"] = at
        after = await update_row(conn, "marketing_campaigns", campaign_id, changes)
        await record_change(
            conn,
            p,
            table="marketing_campaigns",
            entity="campaign",
            action="updated",
            entity_id=campaign_id,
            before=before,
            after=after,
            request_id=request_id(request),
            at=at,
        )
    return row_response(after)


@router.post(
    "/{campaign_id}/trigger",
    status_code=202,
    response_model=CampaignTriggered,
    responses={**NOT_FOUND, **CONFLICT},
)
async def trigger_campaign(campaign_id: UUID, body: CampaignTrigger, p: Writer, db: Db, request: Request):
    """Trigger an ACTIVE campaign for one customer (the seed's triggerCampaign), or without a
    customer for every member of the campaign's segment: counted in the campaign's metrics and
    published as `crm.campaign.triggered` for the senders (who expand a segment per member)."""
    at = now()
    async with db.tx(p.tenant_id) as conn:
        before = await lock_row(conn, "marketing_campaigns", campaign_id, NF, "campaign")
        if before["status"] != S.ACTIVE:
            raise CRMError(
                CRMErrorCode.INVALID_STATUS_TRANSITION,
                f"campaign is {before['status']}: only an ACTIVE campaign can be triggered",
                {"status": before["status"]},
            )
        audience = await _audience(conn, before, body)
        metrics = dict(before["metrics"] or {})
        metrics["triggered"] = int(metrics.get("triggered", 0)) + 1
        after = await update_row(
            conn, "marketing_campaigns", campaign_id, {"metrics": metrics, "updated_at": at}
        )
        await record_change(
            conn,
            p,
            table="marketing_campaigns",
            entity="campaign",
            action="triggered",
            entity_id=campaign_id,
            before=before,
            after=after | audience.event_fields() | {"trigger_metadata": body.metadata},
            request_id=request_id(request),
            at=at,
        )
    return respond(
        {
            "campaign_id": campaign_id,
            "customer_id": body.customer_id,
            "segment_id": audience.segment_id,
            "segment_members": audience.members,
            "triggered_at": at,
            "campaign_version": after["version"],
        },
        202,
    )


@dataclass(frozen=True)
class _Audience:
    customer_id: UUID | None
    segment_id: UUID | None = None
    members: int | None = None

    def event_fields(self) -> dict[str, Any]:
        """What the senders read from the event: one customer, or the segment to expand."""
        if self.customer_id is not None:
            return {"triggered_for": str(self.customer_id)}
        return {"triggered_for": None, "triggered_segment": str(self.segment_id)}


async def _audience(conn: Conn, campaign: dict[str, Any], body: CampaignTrigger) -> _Audience:
    """The trigger's customer (it must exist) or, without one, the campaign's segment."""
    if body.customer_id is not None:
        await get_row(conn, "customers", body.customer_id, CRMErrorCode.CUSTOMER_NOT_FOUND, "customer")
        return _Audience(body.customer_id)
    segment_id = campaign["segment_id"]
    if segment_id is None:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR,
            "customer_id is required: the campaign has no segment to send to",
            {"field": "customer_id", "campaign_id": str(campaign["id"])},
        )
    row = await fetchone(
        conn,
        "SELECT count(*) AS n FROM crm.customer_segment_memberships WHERE segment_id = %s",
        (segment_id,),
    )
    return _Audience(None, segment_id, int(row["n"]) if row else 0)
