"""Sales conversation analysis: signals, and the deal updates they propose.

`POST /conversations/analyze` analyses a text in-process (optionally storing its signals against
a conversation), `GET /conversations/{id}/signals` lists a conversation's stored signals, and
`POST /conversations/{id}/deal-updates` proposes deal changes from them and, with `apply`,
applies those that reach the tenant's threshold through the audited write path (never over an
edit made since the conversation; the deal locked and its version checked)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid5

from fastapi import APIRouter, Request

from api.core.access import record_read
from api.core.auth import Principal
from api.core.db import fetchall, fetchone
from api.core.writes import record_activity, record_change, update_row
from api.deps import Db, IfMatch, Requires, expected_version
from api.routes._owned import activity_row, locked_for_write
from api.schemas.common import CONFLICT, ERRORS, NOT_FOUND
from api.schemas.conversations import (
    AnalysisOut,
    AnalyzeIn,
    DealUpdatesIn,
    DealUpdatesOut,
    StoredSignalOut,
)
from crm.enums import DealActivityType
from crm.errors import CRMError, CRMErrorCode
from integrations.conversations.analyzer import ANALYZER_VERSION, extract_sales_signals
from integrations.conversations.deal_updates import (
    CONVERSATION_REQUEST_PREFIX,
    Proposal,
    close_date,
    field_edit_times,
    propose_deal_updates,
    threshold_of,
)
from integrations.conversations.store import INSERT, MessageRef, competitors_of, opened, signal_rows

router = APIRouter(prefix="/conversations", tags=["conversations"], responses=ERRORS)
Reader = Annotated[Principal, Requires("conversations:read")]
Writer = Annotated[Principal, Requires("conversations:write")]
NAMESPACE = UUID("5b0c3f7e-2f64-4c55-9d0b-6e1f3c2a9a41")
"""Message ids of texts stored through the API: uuid5 of the conversation and the sender's id."""


async def _settings(conn: Any) -> dict[str, Any]:
    row = await fetchone(conn, "SELECT settings FROM crm.tenants WHERE id = crm.current_tenant()")
    return (row or {}).get("settings") or {}


@router.post("/analyze", response_model=AnalysisOut)
async def analyze(body: AnalyzeIn, p: Writer, db: Db) -> AnalysisOut:
    """Sentiment, intent and every sales signal of a text, with confidence and evidence."""
    if body.store and body.conversation_id is None:
        raise CRMError(
            CRMErrorCode.VALIDATION_ERROR, "store needs a conversation_id", {"field": "conversation_id"}
        )
    at = body.occurred_at or datetime.now(UTC)
    async with db.tx(p.tenant_id) as conn:
        settings = await _settings(conn)
        analysis = extract_sales_signals(
            body.text, competitors=competitors_of(settings), reference_date=at.astimezone(UTC).date()
        )
        stored, message_event_id = 0, None
        if body.store and body.conversation_id is not None:
            key = body.message_id or f"{at.isoformat()}|{body.text}"
            message_event_id = uuid5(NAMESPACE, f"{body.conversation_id}|{key}")
            ref = MessageRef(
                p.tenant_id,
                body.conversation_id,
                message_event_id,
                at,
                body.customer_id,
                body.lead_id,
                body.deal_id,
            )
            async with conn.cursor() as cur:
                await cur.executemany(INSERT + " RETURNING id", signal_rows(ref, analysis), returning=True)
                while True:
                    stored += len(await cur.fetchall())
                    if not cur.nextset():
                        break
    return AnalysisOut(
        analyzer_version=ANALYZER_VERSION,
        sentiment=analysis.sentiment,
        sentiment_label=analysis.first("sentiment") or "neutral",
        intent=analysis.first("intent") or "other",
        signals=analysis.signals,
        stored=stored,
        message_event_id=message_event_id,
    )


@router.get("/{conversation_id}/signals", response_model=list[StoredSignalOut])
async def signals(conversation_id: UUID, p: Reader, db: Db) -> list[dict[str, Any]]:
    """The stored signals of a conversation, in the order they were said."""
    async with db.tx(p.tenant_id) as conn:
        rows = await fetchall(
            conn,
            "SELECT * FROM crm.conversation_signals WHERE conversation_id = %s ORDER BY occurred_at, span_start",
            (conversation_id,),
        )
        await record_read(conn, p, "conversation_signals", len(rows), conversation_id)
        return opened(p.tenant_id, rows)


async def _apply(
    conn: Any, p: Principal, deal: dict[str, Any], pipeline: dict[str, Any], applying: list[Proposal]
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for prop in applying:
        if prop.field == "stage":
            stage = next(s for s in pipeline["stages"] if s.get("name") == prop.proposed)
            changes |= {"stage": prop.proposed, "probability": stage.get("probability", deal["probability"])}
        elif prop.field == "expected_close_date":
            changes["expected_close_date"] = close_date(prop.proposed)
        elif prop.field == "value":
            changes["value"] = prop.proposed
        elif prop.field == "next_step":
            changes["custom_fields"] = {**(deal.get("custom_fields") or {}), "next_step": prop.proposed}
    after = await update_row(conn, "deals", deal["id"], changes)
    at = datetime.now(UTC)
    for prop in applying:
        # the message it rests on, not its quoted words: those stay sealed with the signal
        evidence = {
            "message_event_id": prop.message_event_id,
            "confidence": prop.confidence,
            "source": "conversation",
        }
        if prop.field == "stage":
            typed = {
                "from_stage": deal["stage"],
                "to_stage": after["stage"],
                "probability": after["probability"],
            }
            type_, desc = DealActivityType.STAGE_CHANGED, f"{deal['stage']} -> {after['stage']}"
        elif prop.field == "value":
            typed = {"old_value": deal["value"], "new_value": after["value"], "currency": after["currency"]}
            type_, desc = DealActivityType.VALUE_UPDATED, f"value {deal['value']} -> {after['value']}"
        else:
            continue
        act = activity_row(p, "deal", deal["id"], type_, desc, evidence, at)
        await record_activity(conn, "deal", act, typed)
    return after


@router.post(
    "/{conversation_id}/deal-updates", response_model=DealUpdatesOut, responses={**NOT_FOUND, **CONFLICT}
)
async def deal_updates(
    conversation_id: UUID, body: DealUpdatesIn, p: Writer, db: Db, request: Request, if_match: IfMatch
) -> DealUpdatesOut:
    """Proposed changes of the deal (stage, close date, amount, next step) with confidence and
    evidence; with `apply`, those reaching the threshold are applied and audited. A field
    changed by anyone after the message a proposal rests on is never overwritten."""
    if body.apply and "deals:write" not in p.permissions:
        raise CRMError(CRMErrorCode.FORBIDDEN, "applying deal updates needs deals:write", {"field": "apply"})
    async with db.tx(p.tenant_id) as conn:
        found = opened(
            p.tenant_id,
            await fetchall(
                conn,
                "SELECT * FROM crm.conversation_signals WHERE conversation_id = %s ORDER BY occurred_at",
                (conversation_id,),
            ),
        )
        if not found:
            raise CRMError(
                CRMErrorCode.NOT_FOUND,
                f"conversation {conversation_id} has no analysed messages",
                {"id": str(conversation_id)},
            )
        deal_id = body.deal_id or next((s["deal_id"] for s in reversed(found) if s["deal_id"]), None)
        if deal_id is None:
            raise CRMError(
                CRMErrorCode.VALIDATION_ERROR,
                "the conversation names no deal: pass deal_id",
                {"field": "deal_id"},
            )
        expected = expected_version(if_match, body.version)
        deal = await locked_for_write(
            conn, p, "deals", deal_id, CRMErrorCode.DEAL_NOT_FOUND, "deal", expected
        )
        pipeline = await fetchone(
            conn, "SELECT * FROM crm.sales_pipelines WHERE id = %s", (deal["pipeline_id"],)
        )
        audit = await fetchall(
            conn,
            "SELECT before, after, request_id, occurred_at FROM crm.audit_log"
            " WHERE entity = 'deals' AND entity_id = %s",
            (deal_id,),
        )
        threshold = threshold_of(await _settings(conn))
        proposals = propose_deal_updates(
            deal, (pipeline or {}).get("stages") or [], found, field_edit_times(audit), threshold
        )
        applying = [x for x in proposals if x.apply] if body.apply else []
        version = deal["version"]
        if applying:
            after = await _apply(conn, p, deal, pipeline or {}, applying)
            version = after["version"]
            await record_change(
                conn,
                p,
                table="deals",
                entity="deal",
                action="updated",
                entity_id=deal_id,
                before=deal,
                after=after,
                request_id=f"{CONVERSATION_REQUEST_PREFIX}{conversation_id}",
            )
    return DealUpdatesOut(
        conversation_id=conversation_id,
        deal_id=deal_id,
        deal_version=version,
        threshold=threshold,
        proposals=[replace(x, applied=x in applying) for x in proposals],
    )
