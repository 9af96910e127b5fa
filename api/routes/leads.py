"""Leads: create, list, read (with the ML score explanation), update, assign, activities,
convert to customer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from api.core.access import record_read
from api.core.auth import Principal
from api.core.batcher import Rows
from api.core.db import fetchall, fetchone
from api.core.people import email_filter, opened, opened_rows, sealed, sealed_changes, without_indexes
from api.core.writes import (
    after_image,
    change_rows,
    check_version,
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
    check_owner,
    create,
    get_row,
    own_filter,
    owner_for_create,
    respond,
    row_response,
    unchanged_or,
    where_params,
)
from api.routes._owned import activities_page, activity_row, add_activity, locked_for_write, record_update
from api.schemas.common import CONFLICT, ERRORS, NOT_FOUND, HistoryOut, PageOut
from api.schemas.leads import (
    ConvertOut,
    LeadActivityCreate,
    LeadActivityOut,
    LeadAssign,
    LeadConvert,
    LeadCreate,
    LeadOut,
    LeadUpdate,
)
from crm.enums import CustomerStage, LeadActivityType, LeadStatus
from crm.errors import CRMError, CRMErrorCode
from crm.keys.personal import DERIVED, FIELDS, is_sealed, open_value

router = APIRouter(prefix="/leads", tags=["leads"], responses=ERRORS)
Reader = Annotated[Principal, Requires("leads:read")]
Writer = Annotated[Principal, Requires("leads:write")]
NF = CRMErrorCode.LEAD_NOT_FOUND


async def _lead_for_write(conn: Any, p: Principal, lead_id: UUID, expected: int | None) -> dict[str, Any]:
    return await locked_for_write(conn, p, "leads", lead_id, NF, "lead", expected)


def _activity(p: Principal, lead_id: UUID, description: str, metadata: dict, at: datetime) -> dict:
    """The NOTE_ADDED activity the API writes for status changes, assignments, conversion
    (stored with its `lead.note_added` event: `record_activity`)."""
    return activity_row(p, "lead", lead_id, LeadActivityType.NOTE_ADDED, description, metadata, at)


def new_lead(p: Principal, body: LeadCreate) -> dict[str, Any]:
    """The row of a lead to create, its personal values sealed (422 for a CONVERTED status,
    403 for a sales_rep assigning someone else). Shared by the route below and the fast lane
    (api.fastlane)."""
    if body.status is LeadStatus.CONVERTED:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR,
            "a lead is converted through /leads/{id}/convert",
            {"field": "status"},
        )
    at = now()
    row = {
        "id": new_id(),
        "tenant_id": p.tenant_id,
        "customer_id": None,
        "email": body.email,
        "first_name": body.first_name,
        "last_name": body.last_name,
        "company": body.company,
        "phone": body.phone,
        "source": body.source,
        "status": body.status.value,
        "score": 0,
        "score_reason": None,
        "assigned_user_id": owner_for_create(p, body.assigned_user_id),
        "tags": body.tags,
        "custom_fields": body.custom_fields,
        "last_activity_at": None,
        "converted_at": None,
        "created_at": at,
        "updated_at": at,
        "version": 1,
    }
    return sealed(p.tenant_id, "leads", row)


UNSCORED: dict[str, Any] = {"score": None, "score_reason": None}
"""A lead the lead scoring has not scored yet (`crm.leads.score` is a leftover column the API
no longer answers with)."""


def created_answer(rows: Rows, body: LeadCreate) -> Any:
    """What a create answers: the lead as audited, not scored yet, its personal values as the
    client sent them (what was sealed: nothing to open). Shared with the fast lane."""
    return without_indexes(after_image(rows)) | UNSCORED | {k: getattr(body, k) for k in FIELDS}


def answer(tenant_id: UUID, lead: dict[str, Any] | None) -> Any:
    """A lead (or its audit image) as the API answers it: its personal values readable."""
    return opened(tenant_id, "leads", lead)


def is_plain(p: Principal, row: dict[str, Any]) -> bool:
    """Nothing to check in the database first (no other user to look up): insert-only."""
    return row["assigned_user_id"] in (None, p.user_id)


def created_rows(p: Principal, row: dict[str, Any], rid: str | None) -> Rows:
    """The lead, its audit_log and its outbox rows."""
    change = change_rows(
        p,
        table="leads",
        entity="lead",
        action="created",
        entity_id=row["id"],
        before=None,
        after=row,
        request_id=rid,
        at=row["created_at"],
    )
    return [("leads", row), *change]


@router.post("", status_code=201, response_model=LeadOut, responses=CONFLICT)
async def create_lead(body: LeadCreate, p: Writer, db: Db, request: Request, idem: IdempotencyKey = None):
    """Create a lead: the lead, audit_log and outbox rows in one transaction, one round trip
    (concurrent plain creates share it: api.core.batcher)."""
    row = new_lead(p, body)
    rows = created_rows(p, row, request_id(request))
    if idem is None and is_plain(p, row):
        await db.insert(p.tenant_id, rows)
        return respond(created_answer(rows, body), 201, version=1)

    async def write(conn):
        if not is_plain(p, row):
            await require_refs(conn, [("users", row["assigned_user_id"], "assigned_user_id")])
        for table, r in rows:
            await insert_row(conn, table, r)
        return row | UNSCORED

    return await create(
        db, p, request, body.model_dump(mode="json"), idem, write, lambda out: answer(p.tenant_id, out)
    )


@router.get("", response_model=PageOut[LeadOut])
async def list_leads(
    p: Reader,
    db: Db,
    page: Paging,
    status: LeadStatus | None = None,
    assigned_user_id: UUID | None = None,
    source: Annotated[str | None, Query(max_length=200)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    min_score: Annotated[int | None, Query(ge=0, le=100, description="leads scored at least this")] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
):
    """Leads, newest first, each with the score the lead scoring last wrote (ml.lead_scores;
    null until the lead is scored) and its strongest factor as `score_reason`."""
    where: list[tuple[str, Any]] = []
    if email is not None:
        where.append(email_filter(p.tenant_id, email, "l"))
    for sql, val in (
        ("l.status = %s", status.value if status else None),
        ("l.assigned_user_id = %s", assigned_user_id),
        ("l.source = %s", source),
        ("s.score >= %s", min_score),
        ("l.created_at >= %s", created_from),
        ("l.created_at < %s", created_to),
    ):
        if val is not None:
            where.append((sql, val))
    clauses = " AND ".join(w for w, _ in own_filter(p, where)) or "true"
    async with db.tx(p.tenant_id) as conn:
        rows = await fetchall(
            conn,
            f"SELECT l.*, {SCORED} FROM crm.leads l LEFT JOIN ml.lead_scores s ON s.lead_id = l.id"
            f" WHERE {clauses} ORDER BY l.created_at DESC, l.id LIMIT %s OFFSET %s",
            [*where_params(where), page.limit, page.offset],
        )
        await record_read(conn, p, "leads", len(rows))
    return respond(
        {
            "items": [_with_score(r) for r in opened_rows(p.tenant_id, "leads", rows)],
            "limit": page.limit,
            "offset": page.offset,
            "next_offset": page.offset + page.limit if len(rows) == page.limit else None,
        }
    )


SCORED = "s.score AS scored, s.factors -> 0 ->> 'label' AS scored_reason"
"""A lead's score as the lead scoring wrote it, and its strongest factor in words."""


def _with_score(row: dict[str, Any]) -> dict[str, Any]:
    """The lead row with `score`/`score_reason` from the lead scoring (`SCORED`): clients
    never set them."""
    row["score"], row["score_reason"] = row.pop("scored"), row.pop("scored_reason")
    return row


async def _scored(conn: Any, row: dict[str, Any]) -> dict[str, Any]:
    """A written lead row as the reads answer it: readable, with the score the lead scoring
    last wrote."""
    score = await fetchone(conn, f"SELECT {SCORED} FROM ml.lead_scores s WHERE s.lead_id = %s", (row["id"],))
    return _with_score(answer(row["tenant_id"], row) | (score or {"scored": None, "scored_reason": None}))


@router.get("/{lead_id}", response_model=LeadOut, responses=NOT_FOUND)
async def get_lead(lead_id: UUID, p: Reader, db: Db):
    """The lead with the score the lead scoring last wrote and its explanation (ml.lead_scores;
    null until the lead is scored; GET /leads/{id}/score computes one now)."""
    async with db.tx(p.tenant_id) as conn:
        row = await fetchone(
            conn,
            f"SELECT l.*, {SCORED} FROM crm.leads l LEFT JOIN ml.lead_scores s ON s.lead_id = l.id"
            " WHERE l.id = %s",
            (lead_id,),
        )
        if row is None:
            raise CRMError(NF, f"lead {lead_id} not found", {"id": str(lead_id)})
        check_owner(p, row, "lead")
        await record_read(conn, p, "leads", 1, lead_id)
        row["score_explanation"] = await fetchone(
            conn,
            "SELECT score, confidence, method, model_version, factors, recommendations, next_best_actions,"
            " scored_at FROM ml.lead_scores WHERE lead_id = %s",
            (lead_id,),
        )
    return row_response(_with_score(answer(p.tenant_id, row)))


@router.patch("/{lead_id}", response_model=LeadOut, responses={**NOT_FOUND, **CONFLICT})
async def update_lead(
    lead_id: UUID, body: LeadUpdate, p: Writer, db: Db, request: Request, if_match: IfMatch
):
    """Update fields; send the version (body or If-Match) to get 409 on a concurrent change."""
    changes = unchanged_or(body.model_dump(exclude_unset=True, exclude={"version"}))
    if changes.get("status") in (LeadStatus.CONVERTED, None) and "status" in changes:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR,
            "status: use /convert to convert (and it cannot be null)",
            {"field": "status"},
        )
    for k in ("email", "source", "tags", "custom_fields", "score"):
        if k in changes and changes[k] is None:
            raise CRMError(CRMErrorCode.VALIDATION_ERROR, f"{k}: may not be null", {"field": k})
    at = now()
    async with db.tx(p.tenant_id) as conn:
        before = await _lead_for_write(conn, p, lead_id, expected_version(if_match, body.version))
        if before["status"] == LeadStatus.CONVERTED and "status" in changes:
            raise CRMError(
                CRMErrorCode.LEAD_ALREADY_CONVERTED, "a converted lead keeps its status", {"field": "status"}
            )
        after = await update_row(
            conn, "leads", lead_id, sealed_changes(p.tenant_id, "leads", before, changes)
        )
        if "status" in changes and changes["status"] != before["status"]:
            act = _activity(
                p,
                lead_id,
                f"status {before['status']} -> {changes['status']}",
                {"kind": "status_changed", "from": before["status"], "to": changes["status"]},
                at,
            )
            await record_activity(conn, "lead", act)
        await record_update(
            conn, p, request, table="leads", entity="lead", row_id=lead_id, before=before, after=after, at=at
        )
        answer = await _scored(conn, after)
    return row_response(answer)


@router.post("/{lead_id}/assign", response_model=LeadOut, responses={**NOT_FOUND, **CONFLICT})
async def assign_lead(
    lead_id: UUID, body: LeadAssign, p: Writer, db: Db, request: Request, if_match: IfMatch
):
    if p.own_only and body.user_id != p.user_id:
        raise CRMError(CRMErrorCode.FORBIDDEN, "a sales_rep can only assign to itself", {"field": "user_id"})
    at = now()
    async with db.tx(p.tenant_id) as conn:
        before = await lock_row(conn, "leads", lead_id, NF, "lead")
        if p.own_only and before["assigned_user_id"] not in (None, p.user_id):
            check_owner(p, before, "lead")
        check_version(before, expected_version(if_match, body.version), "lead")
        await require_refs(conn, [("users", body.user_id, "user_id")])
        after = await update_row(conn, "leads", lead_id, {"assigned_user_id": body.user_id})
        act = _activity(
            p,
            lead_id,
            f"assigned to {body.user_id}",
            {"kind": "assigned", "from": before["assigned_user_id"], "to": body.user_id},
            at,
        )
        await record_activity(conn, "lead", act)
        await record_update(
            conn, p, request, table="leads", entity="lead", row_id=lead_id, before=before, after=after, at=at
        )
        answer = await _scored(conn, after)
    return row_response(answer)


@router.post("/{lead_id}/activities", status_code=201, response_model=LeadActivityOut, responses=NOT_FOUND)
async def add_lead_activity(
    lead_id: UUID, body: LeadActivityCreate, p: Writer, db: Db, request: Request, idem: IdempotencyKey = None
):
    """Log an activity; the lead's last_activity_at follows."""
    return await add_activity(
        db, p, request, idem, parent="lead", parent_id=lead_id, code=NF, body=body, touch="last_activity_at"
    )


@router.get("/{lead_id}/activities", response_model=PageOut[LeadActivityOut], responses=NOT_FOUND)
async def list_lead_activities(lead_id: UUID, p: Reader, db: Db, page: Paging):
    async with db.tx(p.tenant_id) as conn:
        lead = await get_row(conn, "leads", lead_id, NF, "lead")
        check_owner(p, lead, "lead")
        found = await activities_page(conn, p, "lead", lead_id, page)
        await record_read(conn, p, "lead_activities", len(found["items"]), lead_id)
        return respond(found)


@router.post("/{lead_id}/convert", response_model=ConvertOut, responses={**NOT_FOUND, **CONFLICT})
async def convert_lead(
    lead_id: UUID, body: LeadConvert, p: Writer, db: Db, request: Request, if_match: IfMatch
) -> Response:
    """Convert to a customer: link `customer_id`, else the customer with the lead's e-mail,
    else a new one; status CONVERTED and converted_at set; the lead and its activities stay."""
    at = now()
    rid = request_id(request)
    async with db.tx(p.tenant_id) as conn:
        before = await _lead_for_write(conn, p, lead_id, expected_version(if_match, body.version))
        if before["status"] == LeadStatus.CONVERTED:
            raise CRMError(
                CRMErrorCode.LEAD_ALREADY_CONVERTED,
                f"lead {lead_id} was converted at {before['converted_at']}",
                {"id": str(lead_id), "customer_id": str(before["customer_id"])},
            )
        created = False
        if body.customer_id is not None:
            customer = await fetchone(conn, "SELECT * FROM crm.customers WHERE id = %s", (body.customer_id,))
            if customer is None:
                raise CRMError(
                    CRMErrorCode.CUSTOMER_NOT_FOUND,
                    f"customer {body.customer_id} not found",
                    {"field": "customer_id"},
                )
        else:
            match, params = email_filter(p.tenant_id, open_value(p.tenant_id, "email", before["email"]))
            customer = await fetchone(
                conn, f"SELECT * FROM crm.customers WHERE {match} ORDER BY created_at LIMIT 1", params
            )
        if customer is None:
            created = True
            customer = _customer_of(p, before) | {
                "id": new_id(),
                "tenant_id": p.tenant_id,
                "company": before["company"],
                "lifecycle_stage": CustomerStage.ONBOARDING.value,
                "became_customer_at": at,
                "custom_fields": {"converted_from_lead": str(lead_id)},
                "tags": list(before["tags"] or []),
                "created_at": at,
                "updated_at": at,
                "version": 1,
            }
            await insert_row(conn, "customers", customer)
            await record_change(
                conn,
                p,
                table="customers",
                entity="customer",
                action="created",
                entity_id=customer["id"],
                before=None,
                after=customer,
                request_id=rid,
                at=at,
            )
        after = await update_row(
            conn,
            "leads",
            lead_id,
            {
                "status": LeadStatus.CONVERTED.value,
                "converted_at": at,
                "customer_id": customer["id"],
                "last_activity_at": at,
            },
        )
        act = _activity(
            p,
            lead_id,
            f"converted to customer {customer['id']}",
            {"kind": "converted", "customer_id": customer["id"], "customer_created": created},
            at,
        )
        await record_activity(conn, "lead", act)
        await record_update(
            conn,
            p,
            request,
            table="leads",
            entity="lead",
            row_id=lead_id,
            before=before,
            after=after,
            at=at,
            action="converted",
        )
        lead = await _scored(conn, after)
    readable = opened(p.tenant_id, "customers", customer)
    return respond({"lead": lead, "customer": readable, "customer_created": created}, version=lead["version"])


def _customer_of(p: Principal, lead: dict[str, Any]) -> dict[str, Any]:
    """The personal values of the customer a lead becomes, sealed: a lead's are copied as they
    are (a lead and a customer seal a field alike), with their index and domain; a value the
    lead holds from before encryption is sealed now."""
    copied = {k: lead[k] for k in (*FIELDS, *DERIVED)}
    if not is_sealed(copied["email"]) or copied["email_bidx"] is None:
        copied["email"] = open_value(p.tenant_id, "email", copied["email"])  # its index is made again
    if copied["phone"] is not None and (not is_sealed(copied["phone"]) or copied["phone_bidx"] is None):
        copied["phone"] = open_value(p.tenant_id, "phone", copied["phone"])
    return sealed(p.tenant_id, "customers", copied)


@router.get("/{lead_id}/history", response_model=HistoryOut, responses=NOT_FOUND)
async def lead_history(lead_id: UUID, p: Reader, db: Db):
    """The audit trail of the lead (who changed what, before and after)."""
    async with db.tx(p.tenant_id) as conn:
        lead = await get_row(conn, "leads", lead_id, NF, "lead")
        check_owner(p, lead, "lead")
        rows = await fetchall(
            conn,
            "SELECT id, actor_id, actor_type, action, before, after, occurred_at"
            " FROM crm.audit_log WHERE entity = 'leads' AND entity_id = %s ORDER BY id",
            (lead_id,),
        )
        await record_read(conn, p, "lead_history", len(rows), lead_id)
    for r in rows:
        r["before"], r["after"] = answer(p.tenant_id, r["before"]), answer(p.tenant_id, r["after"])
    return respond({"items": rows})
