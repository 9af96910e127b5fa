"""Webhook subscriptions (out), deliveries and replay; verified receivers (in).

Admins (`webhooks:manage`) manage subscriptions and inbound secrets; the deliverer
(`crm webhooks deliver`) sends. `POST /webhooks/in/{source}` takes no credentials: the
signature is the credential, checked against the tenant's inbound secret for that source.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from api.core.auth import Principal
from api.core.db import Conn, fetchall, fetchone
from api.core.writes import check_version, record_audit_only
from api.deps import Db, IfMatch, Paging, Requires, expected_version
from api.routes._common import page_of, respond, row_response
from api.schemas.common import CONFLICT, ERRORS, NOT_FOUND, PageOut
from api.schemas.webhooks import (
    CampaignDeliveryOut,
    DeliveryDetail,
    DeliveryOut,
    InboundSecretOut,
    InboundSecretSet,
    ReceivedAck,
    ReceivedOut,
    Replayed,
    ReplayRange,
    RotateSecret,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)
from crm.errors import CRMError, CRMErrorCode
from crm.keys import personal, received
from crm.keys.columns import WEBHOOK_INBOUND
from integrations.webhooks import inbound
from integrations.webhooks.crypto import decrypt, encrypt, new_secret
from integrations.webhooks.outbound import SECRET_PURPOSE, readable
from integrations.webhooks.targets import TargetRefused, check_url

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=ERRORS)
Admin = Annotated[Principal, Requires("webhooks:manage")]
CampaignReader = Annotated[Principal, Requires("campaigns:read")]
INBOUND_PURPOSE = WEBHOOK_INBOUND
SOURCE = r"^[a-z][a-z0-9_-]{1,39}$"
HIDDEN = ("secret_enc", "previous_secret_enc")
SUBS = "webhook_subscriptions"


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in HIDDEN}


def _check_target(url: str) -> None:
    try:
        check_url(url)
    except TargetRefused as exc:
        raise CRMError(CRMErrorCode.VALIDATION_ERROR, f"url refused: {exc}", {"field": "url"}) from None


def _not_found(label: str, row_id: Any) -> CRMError:
    return CRMError(CRMErrorCode.NOT_FOUND, f"{label} {row_id} not found", {"id": str(row_id)})


async def _subscription(conn: Conn, sub_id: UUID, lock: bool = False) -> dict[str, Any]:
    row = await fetchone(
        conn, f"SELECT * FROM crm.{SUBS} WHERE id = %s{' FOR UPDATE' if lock else ''}", (sub_id,)
    )
    if row is None:
        raise _not_found("webhook subscription", sub_id)
    return row


# --- subscriptions ----------------------------------------------------------------------------


@router.post("/subscriptions", status_code=201, response_model=SubscriptionWithSecret)
async def create_subscription(body: SubscriptionCreate, p: Admin, db: Db):
    """A subscription and its signing secret (returned this once, stored encrypted). It
    receives the events written after it is made."""
    _check_target(body.url)
    secret = new_secret()
    async with db.tx(p.tenant_id) as conn:
        row = await fetchone(
            conn,
            f"INSERT INTO crm.{SUBS} (tenant_id, url, event_types, description, secret_enc)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING *",
            (
                p.tenant_id,
                body.url,
                body.event_types,
                body.description,
                encrypt(secret, p.tenant_id, SECRET_PURPOSE),
            ),
        )
        assert row is not None
        await conn.execute(
            "INSERT INTO crm.webhook_cursors (tenant_id, consumer, settled_id)"
            " SELECT %s, %s, coalesce(max(id), 0) FROM crm.outbox WHERE tenant_id = %s",
            (p.tenant_id, str(row["id"]), p.tenant_id),
        )
        await record_audit_only(
            conn, p, table=SUBS, action="create", entity_id=row["id"], before=None, after=_public(row)
        )
    return respond(_public(row) | {"secret": secret}, 201, version=row["version"])


@router.get("/subscriptions", response_model=PageOut[SubscriptionOut])
async def list_subscriptions(p: Admin, db: Db, page: Paging):
    async with db.tx(p.tenant_id) as conn:
        result = await page_of(conn, SUBS, [], page)
    result["items"] = [_public(r) for r in result["items"]]
    return respond(result)


@router.get("/subscriptions/{sub_id}", response_model=SubscriptionOut, responses=NOT_FOUND)
async def get_subscription(sub_id: UUID, p: Admin, db: Db):
    async with db.tx(p.tenant_id) as conn:
        return row_response(_public(await _subscription(conn, sub_id)))


@router.patch("/subscriptions/{sub_id}", response_model=SubscriptionOut, responses={**NOT_FOUND, **CONFLICT})
async def update_subscription(sub_id: UUID, body: SubscriptionUpdate, p: Admin, db: Db, if_match: IfMatch):
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    if changes.get("url") is not None:
        _check_target(changes["url"])
    changes = {k: v for k, v in changes.items() if v is not None or k == "description"}
    async with db.tx(p.tenant_id) as conn:
        before = await _subscription(conn, sub_id, lock=True)
        check_version(before, expected_version(if_match, body.version), "webhook subscription")
        sets = ", ".join(f"{k} = %s" for k in changes)
        after = await fetchone(
            conn,
            f"UPDATE crm.{SUBS} SET {sets + ', ' if sets else ''}version = version + 1 WHERE id = %s RETURNING *",
            (*changes.values(), sub_id),
        )
        assert after is not None
        await record_audit_only(
            conn,
            p,
            table=SUBS,
            action="update",
            entity_id=sub_id,
            before=_public(before),
            after=_public(after),
        )
    return row_response(_public(after))


@router.delete("/subscriptions/{sub_id}", status_code=204, responses=NOT_FOUND)
async def delete_subscription(sub_id: UUID, p: Admin, db: Db):
    """Removes the subscription, its deliveries and their log."""
    async with db.tx(p.tenant_id) as conn:
        before = await _subscription(conn, sub_id, lock=True)
        await conn.execute(f"DELETE FROM crm.{SUBS} WHERE id = %s", (sub_id,))
        await conn.execute("DELETE FROM crm.webhook_cursors WHERE consumer = %s", (str(sub_id),))
        await record_audit_only(
            conn, p, table=SUBS, action="delete", entity_id=sub_id, before=_public(before), after=None
        )
    return respond(None, 204)


@router.post(
    "/subscriptions/{sub_id}/rotate-secret", response_model=SubscriptionWithSecret, responses=NOT_FOUND
)
async def rotate_secret(sub_id: UUID, body: RotateSecret, p: Admin, db: Db):
    """A new secret (returned this once); the old one keeps signing next to it for
    `overlap_seconds`, so receivers can switch without refusing a request."""
    secret = new_secret()
    async with db.tx(p.tenant_id) as conn:
        before = await _subscription(conn, sub_id, lock=True)
        after = await fetchone(
            conn,
            f"UPDATE crm.{SUBS} SET previous_secret_enc = secret_enc, secret_enc = %s,"
            " previous_secret_expires_at = now() + make_interval(secs => %s), version = version + 1"
            " WHERE id = %s RETURNING *",
            (encrypt(secret, p.tenant_id, SECRET_PURPOSE), body.overlap_seconds, sub_id),
        )
        assert after is not None
        await record_audit_only(
            conn,
            p,
            table=SUBS,
            action="rotate_secret",
            entity_id=sub_id,
            before=_public(before),
            after=_public(after),
        )
    return respond(_public(after) | {"secret": secret}, version=after["version"])


# --- deliveries and replay --------------------------------------------------------------------


@router.get("/deliveries", response_model=PageOut[DeliveryOut])
async def list_deliveries(
    p: Admin,
    db: Db,
    page: Paging,
    subscription_id: UUID | None = None,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|dead)$")] = None,
):
    where = [
        (w, v)
        for w, v in (("subscription_id = %s", subscription_id), ("status = %s", status))
        if v is not None
    ]
    async with db.tx(p.tenant_id) as conn:
        result = await page_of(conn, "webhook_deliveries", where, page)
    for r in result["items"]:
        r.pop("payload", None)
    return respond(result)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail, responses=NOT_FOUND)
async def get_delivery(delivery_id: UUID, p: Admin, db: Db):
    """A delivery with its request body and every attempt (status code, latency, error)."""
    async with db.tx(p.tenant_id) as conn:
        row = await fetchone(conn, "SELECT * FROM crm.webhook_deliveries WHERE id = %s", (delivery_id,))
        if row is None:
            raise _not_found("webhook delivery", delivery_id)
        log = await fetchall(
            conn,
            "SELECT attempt, attempted_at, status_code, latency_ms, error FROM crm.webhook_delivery_attempts"
            " WHERE delivery_id = %s ORDER BY id",
            (delivery_id,),
        )
    # the stored event keeps a lead's or customer's values sealed: shown as it was sent
    return respond(row | {"payload": readable(row["payload"]), "attempt_log": log})


REPLAY = (
    "UPDATE crm.webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),"
    " dead_at = NULL, replays = replays + 1"
)


@router.post(
    "/deliveries/{delivery_id}/replay", status_code=202, response_model=DeliveryOut, responses=NOT_FOUND
)
async def replay_delivery(delivery_id: UUID, p: Admin, db: Db):
    """Send a delivery again (delivered or dead-lettered alike), with a fresh set of attempts
    and the same webhook-id."""
    async with db.tx(p.tenant_id) as conn:
        row = await fetchone(conn, f"{REPLAY} WHERE id = %s RETURNING *", (delivery_id,))
    if row is None:
        raise _not_found("webhook delivery", delivery_id)
    row.pop("payload", None)
    return respond(row, 202)


@router.post("/subscriptions/{sub_id}/replay", status_code=202, response_model=Replayed, responses=NOT_FOUND)
async def replay_range(sub_id: UUID, body: ReplayRange, p: Admin, db: Db):
    """Send again every finished delivery of the subscription whose event occurred in the range."""
    if body.occurred_to < body.occurred_from:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR, "occurred_to is before occurred_from", {"field": "occurred_to"}
        )
    statuses = [body.status] if body.status else ["delivered", "dead"]
    async with db.tx(p.tenant_id) as conn:
        await _subscription(conn, sub_id)
        rows = await fetchall(
            conn,
            f"{REPLAY} WHERE subscription_id = %s AND occurred_at >= %s AND occurred_at <= %s"
            " AND status = ANY(%s) RETURNING id",
            (sub_id, body.occurred_from, body.occurred_to, statuses),
        )
    return respond({"replayed": len(rows)}, 202)


# --- inbound ----------------------------------------------------------------------------------


@router.put("/inbound/{source}", response_model=InboundSecretOut)
async def set_inbound_secret(source: str, body: InboundSecretSet, p: Admin, db: Db):
    """The secret a sender signs with: HubSpot's app client secret for `hubspot`, a Standard
    Webhooks `whsec_` secret for any other source (generated when omitted)."""
    _source_ok(source)
    secret = body.secret or (None if source == inbound.HUBSPOT else new_secret())
    if secret is None:
        raise CRMError(CRMErrorCode.VALIDATION_ERROR, "give HubSpot's app client secret", {"field": "secret"})
    async with db.tx(p.tenant_id) as conn:
        await conn.execute(
            "INSERT INTO crm.webhook_inbound_secrets (tenant_id, source, secret_enc) VALUES (%s, %s, %s)"
            " ON CONFLICT (tenant_id, source) DO UPDATE SET secret_enc = EXCLUDED.secret_enc",
            (p.tenant_id, source, encrypt(secret, p.tenant_id, INBOUND_PURPOSE)),
        )
        await record_audit_only(
            conn,
            p,
            table="webhook_inbound_secrets",
            action="set_secret",
            entity_id=p.tenant_id,
            before=None,
            after={"source": source},
        )
    endpoint = f"/webhooks/in/{source}?tenant={p.tenant_id}"
    return respond({"source": source, "endpoint": endpoint, "secret": None if body.secret else secret})


def _source_ok(source: str) -> None:
    if not re.match(SOURCE, source):
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR, "source must be 2-40 of a-z 0-9 _ -", {"field": "source"}
        )


def _refused(source: str, exc: inbound.Rejected) -> CRMError:
    if exc.reason == "too_large":
        return CRMError(
            CRMErrorCode.PAYLOAD_TOO_LARGE, str(exc), {"source": source, "max_bytes": inbound.MAX_BODY}
        )
    if exc.reason == "payload":
        return CRMError(CRMErrorCode.VALIDATION_ERROR, str(exc), {"source": source, "field": "body"})
    return CRMError(CRMErrorCode.UNAUTHENTICATED, str(exc), {"source": source, "reason": exc.reason})


def _signed_uri(request: Request) -> str:
    """The URI the sender signed: WEBHOOK_PUBLIC_BASE_URL (behind a proxy) + path and query."""
    base = os.environ.get("WEBHOOK_PUBLIC_BASE_URL")
    if not base:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return base.rstrip("/") + request.url.path + query


@router.post("/in/{source}", response_model=ReceivedAck)
async def receive(source: str, request: Request, db: Db, tenant: Annotated[UUID, Query()]):
    """A signed webhook from `source` for `tenant`: verified (HubSpot v3 for `hubspot`,
    Standard Webhooks otherwise; 5-minute window), sanitised, stored once per sender id (a
    replay is answered 200 and not stored again). 401 when it does not verify."""
    _source_ok(source)
    body = await request.body()
    if len(body) > inbound.MAX_BODY:
        raise _refused(
            source, inbound.Rejected("too_large", f"the body is larger than {inbound.MAX_BODY} bytes")
        )
    headers = dict(request.headers)
    async with db.tx(tenant) as conn:
        row = await fetchone(
            conn, "SELECT secret_enc FROM crm.webhook_inbound_secrets WHERE source = %s", (source,)
        )
    if row is None:
        raise CRMError(
            CRMErrorCode.UNAUTHENTICATED,
            "no inbound secret for this source",
            {"source": source, "reason": "unknown"},
        )
    secret = decrypt(row["secret_enc"], tenant, INBOUND_PURPOSE)
    try:
        if source == inbound.HUBSPOT:
            inbound.verify_hubspot(secret, request.method, _signed_uri(request), body, headers)
            events = inbound.hubspot_events(inbound.parse(body))
        else:
            events = [
                inbound.standard_event(inbound.verify_standard(secret, body, headers), inbound.parse(body))
            ]
    except inbound.Rejected as exc:
        raise _refused(source, exc) from None
    new = 0
    seal = received.sealer(tenant)
    async with db.tx(tenant) as conn:
        for e in events:
            stored = await fetchone(
                conn,
                "INSERT INTO crm.webhooks_received (tenant_id, source, sender_id, event_type, object_type, object_id,"
                " payload) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, source, sender_id) DO NOTHING"
                " RETURNING id",
                (
                    tenant,
                    source,
                    e.sender_id[:200],
                    e.event_type,
                    e.object_type,
                    e.object_id,
                    seal(e.payload),
                ),
            )
            new += stored is not None
    return respond({"received": new, "duplicates": len(events) - new})


@router.get("/received", response_model=PageOut[ReceivedOut])
async def list_received(p: Admin, db: Db, page: Paging, source: str | None = None):
    """Received webhooks, newest first, each request as it was stored (opened)."""
    where = [("source = %s", source)] if source else []
    async with db.tx(p.tenant_id) as conn:
        found = await page_of(conn, "webhooks_received", where, page, order="received_at DESC, id")
    for r in found["items"]:
        r["payload"] = received.open_payload(p.tenant_id, r["payload"])
    return respond(found)


# --- campaign deliveries ----------------------------------------------------------------------


@router.get("/campaign-deliveries", response_model=PageOut[CampaignDeliveryOut])
async def list_campaign_deliveries(p: CampaignReader, db: Db, page: Paging, campaign_id: UUID | None = None):
    """Each send of a triggered campaign (e-mail or webhook) with its state and last error."""
    where = [("campaign_id = %s", campaign_id)] if campaign_id else []
    async with db.tx(p.tenant_id) as conn:
        found = await page_of(conn, "campaign_deliveries", where, page)
    for r in found["items"]:  # a recipient's address is stored sealed
        r["recipient"] = personal.open_value(p.tenant_id, "email", r["recipient"])
    return respond(found)
