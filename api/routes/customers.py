"""Customers: list, read, lifecycle stage changes, and the health score computed now (churn and
next best actions are in `ai`). Their e-mail, names and phone are stored sealed and answered
readable (`api.core.people`); `?email=` finds a customer by the e-mail's blind index."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from api.core.access import record_read
from api.core.auth import Principal
from api.core.db import fetchone
from api.core.people import email_filter, opened, opened_page
from api.core.writes import now
from api.deps import Db, IfMatch, Paging, Requires
from api.routes._common import get_row, page_of, respond, row_response, table_exists
from api.routes._crud import update_entity
from api.schemas.common import CONFLICT, ERRORS, NOT_FOUND, PageOut
from api.schemas.marketing import CustomerOut, CustomerStageChange
from api.schemas.scores import CustomerHealthOut
from crm.enums import CustomerStage
from crm.errors import CRMError, CRMErrorCode

router = APIRouter(prefix="/customers", tags=["customers"], responses=ERRORS)
Reader = Annotated[Principal, Requires("customers:read")]
Writer = Annotated[Principal, Requires("customers:write")]
NF = CRMErrorCode.CUSTOMER_NOT_FOUND


@router.get("", response_model=PageOut[CustomerOut])
async def list_customers(
    p: Reader,
    db: Db,
    page: Paging,
    lifecycle_stage: CustomerStage | None = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    company: Annotated[str | None, Query(max_length=200)] = None,
):
    where: list[tuple[str, Any]] = [
        (sql, v)
        for sql, v in (
            ("lifecycle_stage = %s", lifecycle_stage.value if lifecycle_stage else None),
            ("company = %s", company),
        )
        if v is not None
    ]
    if email is not None:
        where.append(email_filter(p.tenant_id, email))
    async with db.tx(p.tenant_id) as conn:
        found = await page_of(conn, "customers", where, page)
        await record_read(conn, p, "customers", len(found["items"]))
    return respond(opened_page(p.tenant_id, "customers", found))


@router.get("/{customer_id}", response_model=CustomerOut, responses=NOT_FOUND)
async def get_customer(customer_id: UUID, p: Reader, db: Db):
    async with db.tx(p.tenant_id) as conn:
        row = await get_row(conn, "customers", customer_id, NF, "customer")
        await record_read(conn, p, "customers", 1, customer_id)
    return row_response(opened(p.tenant_id, "customers", row))


@router.post("/{customer_id}/stage", response_model=CustomerOut, responses={**NOT_FOUND, **CONFLICT})
async def update_customer_stage(
    customer_id: UUID, body: CustomerStageChange, p: Writer, db: Db, request: Request, if_match: IfMatch
):
    """Lifecycle stage (the seed's updateCustomerStage); ACTIVE stamps became_customer_at the
    first time, CHURNED stamps churned_at."""
    changes: dict[str, Any] = {"lifecycle_stage": body.stage.value}

    async def check(conn: Any, ch: dict[str, Any], before: dict[str, Any] | None) -> None:
        assert before is not None
        if before["lifecycle_stage"] == body.stage.value:
            raise CRMError(
                CRMErrorCode.INVALID_STATUS_TRANSITION,
                f"customer is already {body.stage.value}",
                {"field": "stage"},
            )
        if (
            body.stage in (CustomerStage.ACTIVE, CustomerStage.ONBOARDING)
            and before["became_customer_at"] is None
        ):
            ch["became_customer_at"] = now()
        ch["churned_at"] = now() if body.stage is CustomerStage.CHURNED else None

    return await update_entity(
        db,
        p,
        request,
        customer_id,
        changes,
        table="customers",
        entity="customer",
        code=NF,
        label="customer",
        if_match=if_match,
        body_version=body.version,
        check=check,
    )


@router.get(
    "/{customer_id}/health",
    response_model=CustomerHealthOut,
    responses={**NOT_FOUND, 503: {"description": "the warehouse has not built the health factors yet"}},
)
async def customer_health(customer_id: UUID, p: Reader, db: Db):
    """calculateCustomerHealth, now: health score 0-100, trend, factors, health risk level and
    recommendations, computed at request time from the customer's current health factors by the
    definition the health mart is built with (analytics.customer_health_now)."""
    async with db.tx(p.tenant_id) as conn:
        await get_row(conn, "customers", customer_id, NF, "customer")
        if not await table_exists(conn, "analytics.customer_health_now"):
            raise CRMError(
                CRMErrorCode.ANALYTICS_UNAVAILABLE,
                "customer health is not available yet (run dbt)",
                {"table": "analytics.customer_health_now"},
            )
        row = await fetchone(
            conn, "SELECT * FROM analytics.customer_health_now WHERE customer_id = %s", (customer_id,)
        )
    if row is None:
        raise CRMError(
            CRMErrorCode.ANALYTICS_UNAVAILABLE,
            f"customer {customer_id} has no health factors yet: the warehouse has not taken it in",
            {"id": str(customer_id), "table": "analytics.customer_health_now"},
        )
    return respond(CustomerHealthOut.model_validate(row).model_dump(mode="json"))
