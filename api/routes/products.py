"""The product catalog."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from api.core.auth import Principal
from api.deps import Db, IdempotencyKey, IfMatch, Paging, Requires
from api.routes._common import get_row, page_of, respond, row_response
from api.routes._crud import create_entity, update_entity
from api.schemas.catalog import ProductCreate, ProductOut, ProductUpdate
from api.schemas.common import CONFLICT, ERRORS, NOT_FOUND, PageOut
from crm.errors import CRMErrorCode

router = APIRouter(prefix="/products", tags=["products"], responses=ERRORS)
Reader = Annotated[Principal, Requires("catalog:read")]
Writer = Annotated[Principal, Requires("catalog:write")]
NF = CRMErrorCode.PRODUCT_NOT_FOUND


@router.post("", status_code=201, response_model=ProductOut, responses=CONFLICT)
async def create_product(
    body: ProductCreate, p: Writer, db: Db, request: Request, idem: IdempotencyKey = None
):
    return await create_entity(
        db, p, request, idem, table="products", entity="product", values=body.model_dump(mode="json")
    )


@router.get("", response_model=PageOut[ProductOut])
async def list_products(
    p: Reader,
    db: Db,
    page: Paging,
    is_active: bool | None = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    sku: Annotated[str | None, Query(max_length=200)] = None,
):
    where = [
        (sql, v)
        for sql, v in (("is_active = %s", is_active), ("category = %s", category), ("sku = %s", sku))
        if v is not None
    ]
    async with db.tx(p.tenant_id) as conn:
        return respond(await page_of(conn, "products", where, page, "name, id"))


@router.get("/{product_id}", response_model=ProductOut, responses=NOT_FOUND)
async def get_product(product_id: UUID, p: Reader, db: Db):
    async with db.tx(p.tenant_id) as conn:
        return row_response(await get_row(conn, "products", product_id, NF, "product"))


@router.patch("/{product_id}", response_model=ProductOut, responses={**NOT_FOUND, **CONFLICT})
async def update_product(
    product_id: UUID, body: ProductUpdate, p: Writer, db: Db, request: Request, if_match: IfMatch
):
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    return await update_entity(
        db,
        p,
        request,
        product_id,
        changes,
        table="products",
        entity="product",
        code=NF,
        label="product",
        if_match=if_match,
        body_version=body.version,
        not_null=("name", "price", "currency", "is_active", "metadata"),
    )
