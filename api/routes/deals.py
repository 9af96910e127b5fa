"""Deals: create, list, read, update, stage changes checked against the pipeline's stage
definitions, won/lost, activities, and products (quantity, unit price, discount, total)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request

from api.core.auth import Principal
from api.core.db import fetchall, fetchone
from api.core.writes import (
    insert_row,
    lock_row,
    new_id,
    now,
    record_activity,
    record_change,
    require_refs,
    update_row,
)
from api.deps import Db, IdempotencyKey, IfMatch, Paging, Requires, expected_version, request_id
from api.routes._common import (
    check_owned_ref,
    check_owner,
    create,
    get_row,
    own_filter,
    owner_for_create,
    page_of,
    respond,
    row_response,
    table_exists,
    unchanged_or,
)
from api.routes._owned import activities_page, activity_row, add_activity, locked_for_write, record_update
from api.schemas.common import CONFLICT, ERRORS, NOT_FOUND, PageOut
from api.schemas.deals import (
    DealActivityCreate,
    DealActivityOut,
    DealCreate,
    DealLost,
    DealOut,
    DealProductOut,
    DealProductSet,
    DealUpdate,
    DealWon,
    StageChange,
)
from crm.enums import DealActivityType
from crm.errors import CRMError, CRMErrorCode

router = APIRouter(prefix="/deals", tags=["deals"], responses=ERRORS)
Reader = Annotated[Principal, Requires("deals:read")]
Writer = Annotated[Principal, Requires("deals:write")]
NF = CRMErrorCode.DEAL_NOT_FOUND


def _activity(
    p: Principal, deal_id: UUID, type_: DealActivityType, description: str, metadata: dict, at: datetime
) -> dict:
    return activity_row(p, "deal", deal_id, type_, description, metadata, at)


def _utc_date(value: datetime | None) -> date | None:
    return None if value is None else value.astimezone(UTC).date()


CHANGE_TYPES = frozenset(
    {
        DealActivityType.CREATED,
        DealActivityType.STAGE_CHANGED,
        DealActivityType.VALUE_UPDATED,
        DealActivityType.PROBABILITY_CHANGED,
        DealActivityType.ASSIGNED,
        DealActivityType.WON,
        DealActivityType.LOST,
    }
)
"""Activities that record a change of the deal itself: written by the route making the change
(create, PATCH, /stage, /won, /lost) with the change's own fields, never logged on their own
(a logged STAGE_CHANGED would be a stage entry the deal never made)."""


async def _pipeline(conn: Any, pipeline_id: UUID | None) -> dict[str, Any]:
    if pipeline_id is None:
        row = await fetchone(
            conn,
            "SELECT * FROM crm.sales_pipelines WHERE is_active ORDER BY is_default DESC, created_at LIMIT 1",
        )
        if row is None:
            raise CRMError(
                CRMErrorCode.PIPELINE_NOT_FOUND, "the tenant has no active pipeline", {"field": "pipeline_id"}
            )
        return row
    row = await fetchone(conn, "SELECT * FROM crm.sales_pipelines WHERE id = %s", (pipeline_id,))
    if row is None:
        raise CRMError(
            CRMErrorCode.PIPELINE_NOT_FOUND, f"pipeline {pipeline_id} not found", {"field": "pipeline_id"}
        )
    return row


def _stage(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    for s in pipeline["stages"]:
        if s.get("name") == name:
            return s
    raise CRMError(
        CRMErrorCode.DEAL_STAGE_INVALID,
        f"stage {name!r} is not a stage of pipeline {pipeline['name']!r}",
        {
            "field": "stage",
            "allowed": [s.get("name") for s in pipeline["stages"]],
            "pipeline_id": str(pipeline["id"]),
        },
    )


def _stage_where(pipeline: dict[str, Any], flag: str) -> dict[str, Any]:
    for s in sorted(pipeline["stages"], key=lambda s: s.get("order", 0)):
        if s.get(flag):
            return s
    raise CRMError(
        CRMErrorCode.DEAL_STAGE_INVALID,
        f"pipeline {pipeline['name']!r} has no {flag} stage",
        {"pipeline_id": str(pipeline["id"])},
    )


def _closed(stage: dict[str, Any]) -> bool:
    return bool(stage.get("is_won") or stage.get("is_lost"))


@router.post("", status_code=201, response_model=DealOut, responses={**NOT_FOUND, **CONFLICT})
async def create_deal(body: DealCreate, p: Writer, db: Db, request: Request, idem: IdempotencyKey = None):
    owner = owner_for_create(p, body.assigned_user_id)
    at = now()

    async def write(conn):
        pipeline = await _pipeline(conn, body.pipeline_id)
        if body.stage is None:
            open_stages = sorted(
                (s for s in pipeline["stages"] if not _closed(s)), key=lambda s: s.get("order", 0)
            )
            if not open_stages:
                raise CRMError(
                    CRMErrorCode.DEAL_STAGE_INVALID, "pipeline has no open stage", {"field": "stage"}
                )
            stage = open_stages[0]
        else:
            stage = _stage(pipeline, body.stage)
        if stage.get("is_lost"):
            raise CRMError(
                CRMErrorCode.DEAL_STAGE_INVALID,
                "create the deal, then mark it lost with a reason",
                {"field": "stage"},
            )
        await require_refs(
            conn,
            [
                ("leads", body.lead_id, "lead_id"),
                ("customers", body.customer_id, "customer_id"),
                ("users", owner, "assigned_user_id"),
            ],
        )
        await check_owned_ref(conn, p, "leads", body.lead_id, "lead_id")
        row = {
            "id": new_id(),
            "tenant_id": p.tenant_id,
            "lead_id": body.lead_id,
            "customer_id": body.customer_id,
            "name": body.name,
            "description": body.description,
            "value": body.value,
            "currency": body.currency,
            "probability": body.probability if body.probability is not None else stage.get("probability", 0),
            "stage": stage["name"],
            "pipeline_id": pipeline["id"],
            "assigned_user_id": owner,
            "expected_close_date": body.expected_close_date,
            "actual_close_date": at if stage.get("is_won") else None,
            "lost_reason": None,
            "tags": body.tags,
            "custom_fields": body.custom_fields,
            "created_at": at,
            "updated_at": at,
            "version": 1,
        }
        await insert_row(conn, "deals", row)
        await record_activity(
            conn,
            "deal",
            _activity(p, row["id"], DealActivityType.CREATED, "deal created", {"stage": stage["name"]}, at),
            {
                "name": row["name"],
                "value": row["value"],
                "currency": row["currency"],
                "pipeline_id": row["pipeline_id"],
                "stage": row["stage"],
                "probability": row["probability"],
                "lead_id": row["lead_id"],
                "customer_id": row["customer_id"],
                "expected_close_date": _utc_date(row["expected_close_date"]),
            },
        )
        await record_change(
            conn,
            p,
            table="deals",
            entity="deal",
            action="created",
            entity_id=row["id"],
            before=None,
            after=row,
            request_id=request_id(request),
            at=at,
        )
        return row

    return await create(db, p, request, body.model_dump(mode="json"), idem, write)


@router.get("", response_model=PageOut[DealOut])
async def list_deals(
    p: Reader,
    db: Db,
    page: Paging,
    stage: str | None = None,
    pipeline_id: UUID | None = None,
    assigned_user_id: UUID | None = None,
    customer_id: UUID | None = None,
    lead_id: UUID | None = None,
    min_value: Decimal | None = None,
    expected_close_from: datetime | None = None,
    expected_close_to: datetime | None = None,
):
    where: list[tuple[str, Any]] = []
    if min_value is not None and not min_value.is_finite():
        raise CRMError(CRMErrorCode.VALIDATION_ERROR, "min_value must be a number", {"field": "min_value"})
    for sql, val in (
        ("stage = %s", stage),
        ("pipeline_id = %s", pipeline_id),
        ("assigned_user_id = %s", assigned_user_id),
        ("customer_id = %s", customer_id),
        ("lead_id = %s", lead_id),
        ("value >= %s", min_value),
        ("expected_close_date >= %s", expected_close_from),
        ("expected_close_date < %s", expected_close_to),
    ):
        if val is not None:
            where.append((sql, val))
    async with db.tx(p.tenant_id) as conn:
        return respond(await page_of(conn, "deals", own_filter(p, where), page))


@router.get("/{deal_id}", response_model=DealOut, responses=NOT_FOUND)
async def get_deal(deal_id: UUID, p: Reader, db: Db):
    """The deal with its products and its probability (ml.deal_probabilities when scored)."""
    async with db.tx(p.tenant_id) as conn:
        row = await get_row(conn, "deals", deal_id, NF, "deal")
        check_owner(p, row, "deal")
        row["products"] = await fetchall(
            conn, "SELECT * FROM crm.deal_products WHERE deal_id = %s ORDER BY id", (deal_id,)
        )
        row["predicted_probability"] = None
        if await table_exists(conn, "ml.deal_probabilities"):
            row["predicted_probability"] = await fetchone(
                conn,
                "SELECT probability, method, model_version, factors, scored_at FROM ml.deal_probabilities"
                " WHERE deal_id = %s",
                (deal_id,),
            )
    return row_response(row)


async def _deal_for_write(conn: Any, p: Principal, deal_id: UUID, expected: int | None) -> dict[str, Any]:
    return await locked_for_write(conn, p, "deals", deal_id, NF, "deal", expected)


@router.patch("/{deal_id}", response_model=DealOut, responses={**NOT_FOUND, **CONFLICT})
async def update_deal(
    deal_id: UUID, body: DealUpdate, p: Writer, db: Db, request: Request, if_match: IfMatch
):
    """Update fields (the stage changes through /stage, /won, /lost); writes VALUE_UPDATED,
    PROBABILITY_CHANGED and ASSIGNED activities as they apply."""
    changes = unchanged_or(body.model_dump(exclude_unset=True, exclude={"version"}))
    for k in ("name", "value", "currency", "probability", "tags", "custom_fields"):
        if k in changes and changes[k] is None:
            raise CRMError(CRMErrorCode.VALIDATION_ERROR, f"{k}: may not be null", {"field": k})
    if p.own_only and "assigned_user_id" in changes and changes["assigned_user_id"] != p.user_id:
        raise CRMError(
            CRMErrorCode.FORBIDDEN, "a sales_rep can only assign to itself", {"field": "assigned_user_id"}
        )
    at = now()
    async with db.tx(p.tenant_id) as conn:
        before = await _deal_for_write(conn, p, deal_id, expected_version(if_match, body.version))
        await require_refs(
            conn,
            [
                ("users", changes.get("assigned_user_id"), "assigned_user_id"),
                ("customers", changes.get("customer_id"), "customer_id"),
            ],
        )
        after = await update_row(conn, "deals", deal_id, changes)
        for col, type_, old_field, new_field in (
            ("value", DealActivityType.VALUE_UPDATED, "old_value", "new_value"),
            ("probability", DealActivityType.PROBABILITY_CHANGED, "old_probability", "new_probability"),
            ("assigned_user_id", DealActivityType.ASSIGNED, "from_user_id", "to_user_id"),
        ):
            if col in changes and before[col] != after[col]:
                typed = {old_field: before[col], new_field: after[col]}
                if type_ is DealActivityType.VALUE_UPDATED:
                    typed["currency"] = after["currency"]
                await record_activity(
                    conn,
                    "deal",
                    _activity(
                        p,
                        deal_id,
                        type_,
                        f"{col} {before[col]} -> {after[col]}",
                        {"from": before[col], "to": after[col]},
                        at,
                    ),
                    typed,
                )
        await record_update(
            conn, p, request, table="deals", entity="deal", row_id=deal_id, before=before, after=after, at=at
        )
    return row_response(after)


async def _move(
    p: Any,
    db: Any,
    request: Request,
    deal_id: UUID,
    expected: int | None,
    target: str | None,
    flag: str | None,
    close_date: datetime | None = None,
    lost_reason: str | None = None,
):
    at = now()
    async with db.tx(p.tenant_id) as conn:
        before = await _deal_for_write(conn, p, deal_id, expected)
        pipeline = await _pipeline(conn, before["pipeline_id"])
        current = next((s for s in pipeline["stages"] if s.get("name") == before["stage"]), None)
        if current is not None and _closed(current):
            raise CRMError(
                CRMErrorCode.INVALID_STATUS_TRANSITION,
                f"deal {deal_id} is closed ({before['stage']}): it cannot move",
                {"id": str(deal_id), "stage": before["stage"]},
            )
        stage = _stage(pipeline, target) if target is not None else _stage_where(pipeline, flag or "")
        if stage.get("is_lost") and not lost_reason:
            raise CRMError(
                CRMErrorCode.DEAL_STAGE_INVALID,
                "a lost deal needs a lost_reason: use /lost",
                {"field": "stage"},
            )
        if stage["name"] == before["stage"]:
            raise CRMError(
                CRMErrorCode.DEAL_STAGE_INVALID,
                f"deal is already in stage {stage['name']!r}",
                {"field": "stage"},
            )
        changes: dict[str, Any] = {
            "stage": stage["name"],
            "probability": stage.get("probability", before["probability"]),
        }
        action, type_ = "stage_changed", DealActivityType.STAGE_CHANGED
        if stage.get("is_won"):
            changes["actual_close_date"] = close_date or at
            action, type_ = "won", DealActivityType.WON
        elif stage.get("is_lost"):
            changes |= {"actual_close_date": close_date or at, "lost_reason": lost_reason}
            action, type_ = "lost", DealActivityType.LOST
        after = await update_row(conn, "deals", deal_id, changes)
        entered = {
            "from_stage": before["stage"],
            "to_stage": stage["name"],
            "probability": after["probability"],
        }
        if type_ is not DealActivityType.STAGE_CHANGED:  # a close is also a stage change
            await record_activity(
                conn,
                "deal",
                _activity(
                    p,
                    deal_id,
                    DealActivityType.STAGE_CHANGED,
                    f"{before['stage']} -> {stage['name']}",
                    {"from": before["stage"], "to": stage["name"]},
                    at,
                ),
                entered,
            )
        closed = {"close_date": _utc_date(after["actual_close_date"])}
        typed = {
            DealActivityType.STAGE_CHANGED: entered,
            DealActivityType.WON: closed | {"value": after["value"], "currency": after["currency"]},
            DealActivityType.LOST: closed | {"lost_reason": lost_reason},
        }[type_]
        await record_activity(
            conn,
            "deal",
            _activity(
                p,
                deal_id,
                type_,
                f"{before['stage']} -> {stage['name']}",
                {"from": before["stage"], "to": stage["name"], "lost_reason": lost_reason},
                at,
            ),
            typed,
        )
        await record_update(
            conn,
            p,
            request,
            table="deals",
            entity="deal",
            row_id=deal_id,
            before=before,
            after=after,
            at=at,
            action=action,
        )
    return row_response(after)


@router.post("/{deal_id}/stage", response_model=DealOut, responses={**NOT_FOUND, **CONFLICT})
async def change_stage(
    deal_id: UUID, body: StageChange, p: Writer, db: Db, request: Request, if_match: IfMatch
):
    """Move to a stage of the deal's pipeline (422 DEAL_STAGE_INVALID otherwise); the
    probability becomes the stage's; a won stage closes the deal."""
    return await _move(p, db, request, deal_id, expected_version(if_match, body.version), body.stage, None)


@router.post("/{deal_id}/won", response_model=DealOut, responses={**NOT_FOUND, **CONFLICT})
async def mark_won(deal_id: UUID, body: DealWon, p: Writer, db: Db, request: Request, if_match: IfMatch):
    return await _move(
        p, db, request, deal_id, expected_version(if_match, body.version), None, "is_won", body.close_date
    )


@router.post("/{deal_id}/lost", response_model=DealOut, responses={**NOT_FOUND, **CONFLICT})
async def mark_lost(deal_id: UUID, body: DealLost, p: Writer, db: Db, request: Request, if_match: IfMatch):
    return await _move(
        p,
        db,
        request,
        deal_id,
        expected_version(if_match, body.version),
        None,
        "is_lost",
        body.close_date,
        body.lost_reason,
    )


@router.post("/{deal_id}/activities", status_code=201, response_model=DealActivityOut, responses=NOT_FOUND)
async def add_deal_activity(
    deal_id: UUID, body: DealActivityCreate, p: Writer, db: Db, request: Request, idem: IdempotencyKey = None
):
    """Log an activity (a call, e-mail, meeting, note...); changes of the deal itself are
    written by the route that makes them (422 here)."""
    if body.type in CHANGE_TYPES:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR,
            f"a {body.type.value} activity is written by the change itself (POST /deals, PATCH,"
            " /stage, /won, /lost)",
            {"field": "type"},
        )
    return await add_activity(db, p, request, idem, parent="deal", parent_id=deal_id, code=NF, body=body)


@router.get("/{deal_id}/activities", response_model=PageOut[DealActivityOut], responses=NOT_FOUND)
async def list_deal_activities(deal_id: UUID, p: Reader, db: Db, page: Paging):
    async with db.tx(p.tenant_id) as conn:
        deal = await get_row(conn, "deals", deal_id, NF, "deal")
        check_owner(p, deal, "deal")
        return respond(await activities_page(conn, p, "deal", deal_id, page))


@router.put("/{deal_id}/products/{product_id}", response_model=DealProductOut, responses=NOT_FOUND)
async def set_deal_product(
    deal_id: UUID, product_id: UUID, body: DealProductSet, p: Writer, db: Db, request: Request
):
    """Add or change a product line: total = quantity x unit price - discount (>= 0)."""
    at = now()
    async with db.tx(p.tenant_id) as conn:
        deal = await lock_row(conn, "deals", deal_id, NF, "deal")
        check_owner(p, deal, "deal")
        product = await get_row(conn, "products", product_id, CRMErrorCode.PRODUCT_NOT_FOUND, "product")
        unit = body.unit_price if body.unit_price is not None else product["price"]
        total = Decimal(body.quantity) * unit - body.discount
        if total < 0:
            raise CRMError(
                CRMErrorCode.VALIDATION_ERROR, "discount exceeds quantity x unit price", {"field": "discount"}
            )
        if total >= Decimal("1e16"):
            raise CRMError(CRMErrorCode.VALIDATION_ERROR, "line total too large", {"field": "quantity"})
        before = await fetchone(
            conn,
            "SELECT * FROM crm.deal_products WHERE deal_id = %s AND product_id = %s FOR UPDATE",
            (deal_id, product_id),
        )
        line = {
            "quantity": body.quantity,
            "unit_price": unit,
            "discount": body.discount,
            "total_price": total,
        }
        if before is None:
            after = {
                "id": new_id(),
                "tenant_id": p.tenant_id,
                "deal_id": deal_id,
                "product_id": product_id,
                **line,
            }
            await insert_row(conn, "deal_products", after)
            action, status = "created", 201
        else:
            after = await update_row(conn, "deal_products", before["id"], line, bump_version=False)
            action, status = "updated", 200
        await record_change(
            conn,
            p,
            table="deal_products",
            entity="deal_product",
            action=action,
            entity_id=after["id"],
            before=before,
            after=after,
            request_id=request_id(request),
            at=at,
        )
    return respond(after, status)


@router.delete("/{deal_id}/products/{product_id}", status_code=204, responses=NOT_FOUND)
async def remove_deal_product(deal_id: UUID, product_id: UUID, p: Writer, db: Db, request: Request):
    at = now()
    async with db.tx(p.tenant_id) as conn:
        deal = await lock_row(conn, "deals", deal_id, NF, "deal")
        check_owner(p, deal, "deal")
        before = await fetchone(
            conn,
            "DELETE FROM crm.deal_products WHERE deal_id = %s AND product_id = %s RETURNING *",
            (deal_id, product_id),
        )
        if before is None:
            raise CRMError(
                CRMErrorCode.PRODUCT_NOT_FOUND,
                f"product {product_id} is not on deal {deal_id}",
                {"product_id": str(product_id)},
            )
        await record_change(
            conn,
            p,
            table="deal_products",
            entity="deal_product",
            action="deleted",
            entity_id=before["id"],
            before=before,
            after=None,
            request_id=request_id(request),
            at=at,
        )
    return respond(None, 204)
