"""Writing records: each new or changed record is one audited change (its row, an audit_log row
and its contract event in the outbox, `crm.changes`), committed with its `crm.external_ids`
link; an unchanged record (same content hash as its link) writes nothing.

Ids: a record the CRM has seen keeps the row its link names; a new one gets a deterministic id
(uuid5 of tenant, system, object and external id), so a run interrupted and run again writes
the same rows. A customer the CRM already has under the same e-mail (created through the API)
is linked to that row, and the import only fills its empty fields. Later changes from the same
system update the row (last import wins).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import psycopg
from psycopg.types.json import Jsonb

from crm.changes import activity_rows, change_rows, jsonable, outbox_row
from crm.db import url_of
from crm.enums import DealActivityType, LeadActivityType
from crm.events import build_event
from crm.keys import blind_index, personal
from crm.keys.blind_index import normalise_email
from crm.keys.keyring import Keyring, keyring
from crm.schema.pipelines import StageDefinition
from integrations.imports.formats.base import Located
from integrations.imports.records import (
    ActivityRecord,
    BadRow,
    CampaignRecord,
    CustomerRecord,
    DealRecord,
    LeadRecord,
    Record,
    StageChangeRecord,
    TicketRecord,
    TransactionRecord,
)

SOURCE = "crm-import"
"""The envelope `source` of changes an import makes."""
NAMESPACE = UUID("6f1c1a52-2b7e-4d0e-9a43-0c1d6a3f8e21")
ORDERS_PIPELINE = "Orders"
ORDER_STAGES: list[StageDefinition] = [
    {"name": "Paid", "order": 1, "probability": 100, "is_won": True, "is_lost": False},
    {"name": "Refunded", "order": 2, "probability": 0, "is_won": False, "is_lost": True},
]
"""The pipeline orders of a transactions file are won deals of."""

Key = tuple[str, str]
"""(object, external_id) of a record in its system."""


@dataclass(frozen=True)
class ImportActor:
    """The system as the actor of an import's changes (audit_log.actor_type `system`)."""

    tenant_id: UUID
    actor_id: UUID | None = None
    actor_type: str = "system"


def stable_id(tenant_id: UUID, system: str, obj: str, external_id: str) -> UUID:
    return uuid.uuid5(NAMESPACE, f"{tenant_id}/{system}/{obj}/{external_id}")


RECORD_DIGEST = "import-record"
"""Purpose of a link's `content_hash`: a digest of the mapped record keyed by the tenant's index
key, so the links table never lets anyone confirm a guess of a person's record."""


def record_bytes(record: Record) -> bytes:
    return orjson.dumps(record.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)


@dataclass
class Link:
    entity_id: UUID
    content_hash: str | None  # None: bound this run to a row the CRM had (by e-mail)


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


@dataclass
class Plan:
    """Ids for every record of a run, the links the CRM already holds, and the bad rows found
    resolving references (before anything is written)."""

    tenant_id: UUID
    system: str
    ring: Keyring
    """The keys of the database written to (people's values are sealed under them)."""
    links: dict[Key, Link] = field(default_factory=dict)
    ids: dict[Key, UUID] = field(default_factory=dict)
    bad: list[BadRow] = field(default_factory=list)
    warnings: list[BadRow] = field(default_factory=list)
    pipelines: dict[str, tuple[UUID, list[StageDefinition]]] = field(default_factory=dict)

    def id_of(self, obj: str | None, ref: str | None) -> UUID | None:
        if obj is None or ref is None:
            return None
        return self.ids.get((obj, ref)) or (link.entity_id if (link := self.links.get((obj, ref))) else None)


def load_links(conn: psycopg.Connection[Any], tenant_id: UUID, system: str) -> dict[Key, Link]:
    rows = conn.execute(
        "SELECT object, external_id, entity_id, content_hash FROM crm.external_ids WHERE tenant_id = %s AND system = %s",
        (tenant_id, system),
    ).fetchall()
    return {(o, e): Link(i, h) for o, e, i, h in rows}


REFS: dict[type[Record], tuple[tuple[str, str, bool], ...]] = {
    LeadRecord: (("customer_object", "customer_ref", False),),
    DealRecord: (("customer_object", "customer_ref", False), ("lead_object", "lead_ref", False)),
    TransactionRecord: (("customer_object", "customer_ref", True),),
    StageChangeRecord: (("deal_object", "deal_ref", True),),
    ActivityRecord: (("parent_object", "parent_ref", True),),
    TicketRecord: (("customer_object", "customer_ref", False),),
}
"""Per record class: (object field, reference field, required) of each reference it makes."""


def plan(conn: psycopg.Connection[Any], tenant_id: UUID, system: str, records: Sequence[Located]) -> Plan:
    """Assign ids, bind customers to existing rows by e-mail, and check every reference."""
    p = Plan(tenant_id, system, keyring(url_of(conn)), load_links(conn, tenant_id, system))
    emails = [
        loc.record.email
        for loc in records
        if isinstance(loc.record, CustomerRecord)
        and loc.record.email
        and (loc.record.object, loc.record.external_id) not in p.links
    ]
    by_email = customers_by_email(conn, tenant_id, emails, p.ring) if emails else {}
    for loc in records:
        r = loc.record
        key = (r.object, r.external_id)
        if key in p.links:
            continue
        if isinstance(r, CustomerRecord) and r.email and normalise_email(r.email) in by_email:
            p.links[key] = Link(by_email[normalise_email(r.email)], None)
            continue
        p.ids[key] = stable_id(tenant_id, system, r.object, r.external_id)
    for loc in records:
        for obj_field, ref_field, required in REFS.get(type(loc.record), ()):
            obj, ref = getattr(loc.record, obj_field), getattr(loc.record, ref_field)
            if ref is None:
                if required:
                    p.bad.append(BadRow(file=loc.file, line=loc.line, reason=f"{ref_field}: missing"))
                continue
            if p.id_of(obj, ref) is None:
                reason = f"{ref_field}: no {obj} {ref!r} in this import or an earlier one"
                if required:
                    p.bad.append(BadRow(file=loc.file, line=loc.line, reason=reason))
                else:  # an optional reference to what is not there (a deleted account): left empty
                    p.warnings.append(BadRow(file=loc.file, line=loc.line, reason=f"{reason}; left empty"))
    return p


BY_EMAIL = (
    "SELECT id, email_bidx, email FROM crm.customers WHERE tenant_id = %s AND (email_bidx = ANY(%s)"
    " OR (email_bidx IS NULL AND email NOT LIKE 'v2:%%' AND lower(email) = ANY(%s)))"
)
"""The tenant's customers under any of the addresses: by index, or by text where a row was
written before encryption (as `personal.email_match`, for many addresses at once)."""


def customers_by_email(
    conn: psycopg.Connection[Any], tenant_id: UUID, emails: Iterable[str], ring: Keyring
) -> dict[str, UUID]:
    """The normalised address -> id of the tenant's customers among `emails`."""
    plain = {normalise_email(e) for e in emails}
    exists = conn.execute("SELECT EXISTS (SELECT 1 FROM crm.customers WHERE tenant_id = %s)", (tenant_id,))
    found = exists.fetchone()
    if not plain or not (found and found[0]):  # none to match (a tenant still to create has no keys)
        return {}
    by_index = {v: e for e in plain for v in personal.email_lookup(tenant_id, e, ring)}
    out: dict[str, UUID] = {}
    for cid, bidx, email in conn.execute(BY_EMAIL, (tenant_id, list(by_index), list(plain))).fetchall():
        address = by_index.get(bidx) if bidx is not None else normalise_email(email)
        if address is not None:
            out.setdefault(address, cid)
    return out


# --- rows of each record -----------------------------------------------------------------


def _when(t: datetime | None, now: datetime) -> datetime:
    return t or now


def customer_row(r: CustomerRecord, p: Plan, now: datetime) -> dict[str, Any]:
    return {
        "email": r.email,
        "first_name": r.first_name,
        "last_name": r.last_name,
        "company": r.company,
        "phone": r.phone,
        "industry": r.industry,
        "company_size": r.company_size,
        "country": r.country,
        "lifecycle_stage": r.lifecycle_stage.value,
        "became_customer_at": r.became_customer_at,
        "churned_at": r.churned_at,
        "mrr": r.mrr,
        "custom_fields": r.custom,
        "created_at": _when(r.created_at, now),
    }


def lead_row(r: LeadRecord, p: Plan, now: datetime) -> dict[str, Any]:
    return {
        "customer_id": p.id_of(r.customer_object, r.customer_ref),
        "email": r.email,
        "first_name": r.first_name,
        "last_name": r.last_name,
        "company": r.company,
        "phone": r.phone,
        "source": r.source,
        "status": r.status.value,
        "custom_fields": r.custom,
        "last_activity_at": r.last_activity_at,
        "converted_at": r.converted_at,
        "created_at": _when(r.created_at, now),
    }


def _stage(p: Plan, pipeline: str, stage: str) -> tuple[UUID, StageDefinition]:
    pid, stages = p.pipelines[pipeline]
    for s in stages:
        if s["name"] == stage:
            return pid, s
    raise KeyError(stage)


def deal_row(r: DealRecord, p: Plan, now: datetime) -> dict[str, Any]:
    pid, stage = _stage(p, r.pipeline, r.stage)
    closed = stage["is_won"] or stage["is_lost"]
    return {
        "lead_id": p.id_of(r.lead_object, r.lead_ref),
        "customer_id": p.id_of(r.customer_object, r.customer_ref),
        "name": r.name,
        "description": r.description,
        "value": r.value,
        "currency": r.currency,
        "probability": r.probability if r.probability is not None else stage["probability"],
        "stage": r.stage,
        "pipeline_id": pid,
        "expected_close_date": r.expected_close_date,
        "actual_close_date": r.actual_close_date or (r.expected_close_date if closed else None),
        "lost_reason": r.lost_reason,
        "custom_fields": r.custom,
        "created_at": _when(r.created_at, now),
    }


def order_row(r: TransactionRecord, p: Plan, now: datetime) -> dict[str, Any]:
    pid, _ = p.pipelines[ORDERS_PIPELINE]
    custom = dict(r.custom)
    if r.product is not None:
        custom["product"] = r.product
    if r.quantity is not None:
        custom["quantity"] = r.quantity
    return {
        "lead_id": None,
        "customer_id": p.id_of(r.customer_object, r.customer_ref),
        "name": f"Order {r.external_id[:12]}" + (f": {r.product}" if r.product else ""),
        "description": None,
        "value": r.amount,
        "currency": "USD",
        "probability": 100,
        "stage": ORDER_STAGES[0]["name"],
        "pipeline_id": pid,
        "expected_close_date": r.at,
        "actual_close_date": r.at,
        "lost_reason": None,
        "custom_fields": custom,
        "created_at": r.at,
    }


def campaign_row(r: CampaignRecord, p: Plan, now: datetime) -> dict[str, Any]:
    return {
        "name": r.name,
        "type": r.type,
        "status": r.status,
        "budget": r.budget,
        "start_date": r.start_date,
        "end_date": r.end_date,
        "created_at": _when(r.created_at, now),
    }


ENTITY_ROWS: dict[type[Record], tuple[str, str, Callable[[Any, Plan, datetime], dict[str, Any]]]] = {
    CustomerRecord: ("customers", "customer", customer_row),
    LeadRecord: ("leads", "lead", lead_row),
    DealRecord: ("deals", "deal", deal_row),
    TransactionRecord: ("deals", "deal", order_row),
    CampaignRecord: ("marketing_campaigns", "campaign", campaign_row),
}
"""Record classes that become a row of a crm table: (table, change entity, row builder)."""

IMMUTABLE = ("created_at",)
"""Columns an update from a later import leaves as they are."""


# --- writing -----------------------------------------------------------------------------


def _param(value: Any) -> Any:
    if isinstance(value, dict | list):
        return Jsonb(jsonable(value))
    return value


def _copy(cur: psycopg.Cursor[Any], table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    with cur.copy(f"COPY crm.{table} ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([_param(row[c]) for c in cols])


def write_changes(cur: psycopg.Cursor[Any], pairs: list[tuple[str, dict[str, Any]]]) -> None:
    """COPY the audit_log and outbox rows of a batch of changes (imports and the sync alike)."""
    by_table: dict[str, list[dict[str, Any]]] = {}
    for table, row in pairs:
        by_table.setdefault(table, []).append(row)
    for table in ("audit_log", "outbox"):
        _copy(cur, table, by_table.get(table, []))


def _empty(v: Any) -> bool:
    return v is None or v == "" or v == {} or v == []


def _comparable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return v.normalize()
    if isinstance(v, datetime):
        return v.astimezone(UTC)
    return v


class Writer:
    """Writes one run's records, a batch per transaction, for one tenant and system."""

    def __init__(self, conn: psycopg.Connection[Any], p: Plan, run_id: UUID, now: datetime) -> None:
        self.conn, self.plan, self.run_id, self.now = conn, p, run_id, now
        self.actor = ImportActor(p.tenant_id)

    # links --------------------------------------------------------------------------------
    def _link_rows(self, cur: psycopg.Cursor[Any], rows: list[tuple[Key, str, UUID, str]]) -> None:
        if not rows:
            return
        cur.executemany(
            "INSERT INTO crm.external_ids (tenant_id, system, object, external_id, entity, entity_id, content_hash,"
            " run_id, first_seen_at, last_changed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (tenant_id, system, object, external_id) DO UPDATE SET entity_id = excluded.entity_id,"
            " content_hash = excluded.content_hash, run_id = excluded.run_id, last_changed_at = excluded.last_changed_at",
            [
                (
                    self.plan.tenant_id,
                    self.plan.system,
                    k[0],
                    k[1],
                    entity,
                    eid,
                    h,
                    self.run_id,
                    self.now,
                    self.now,
                )
                for k, entity, eid, h in rows
            ],
        )

    def _changes(self, entity: str, table: str, action: str, eid: UUID, before: Any, after: Any) -> list:
        return change_rows(
            self.actor,
            table=table,
            entity=entity,
            action=action,
            entity_id=eid,
            before=before,
            after=after,
            request_id=f"import:{self.run_id}",
            at=self.now,
            source=SOURCE,
        )

    def _sealed(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        """The row to store: people's values sealed (other tables' rows as they are)."""
        if table not in personal.PERSONAL:
            return row
        return personal.seal_row(self.plan.tenant_id, table, row, self.plan.ring)

    def _opened(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        """A stored row with people's values readable, to compare with a record's."""
        if table not in personal.PERSONAL:
            return row
        return personal.open_row(self.plan.tenant_id, table, row, self.plan.ring)

    # batches ------------------------------------------------------------------------------
    def write(self, batch: Sequence[Located]) -> Counts:
        """One transaction: every record of `batch` (all of one class)."""
        counts = Counts()
        if not batch:
            return counts
        kind = type(batch[0].record)
        with self.conn.transaction(), self.conn.cursor() as cur:
            if kind in ENTITY_ROWS:
                self._write_entities(cur, batch, counts)
            elif kind in (StageChangeRecord, ActivityRecord):
                self._write_activities(cur, batch, counts)
            elif kind is TicketRecord:
                self._write_tickets(cur, batch, counts)
            else:
                raise TypeError(f"no writer for {kind.__name__}")
        return counts

    def _fresh(
        self, batch: Iterable[Located]
    ) -> tuple[list[tuple[Located, str]], list[tuple[Located, str]], int]:
        """(new, changed, unchanged count): new has no link with a hash, changed a different hash."""
        new: list[tuple[Located, str]] = []
        changed: list[tuple[Located, str]] = []
        same = 0
        p = self.plan
        for loc in batch:
            data = record_bytes(loc.record)
            link = p.links.get((loc.record.object, loc.record.external_id))
            if (
                link is not None
                and link.content_hash is not None
                and blind_index.digest_matches(p.tenant_id, RECORD_DIGEST, data, link.content_hash, p.ring)
            ):
                same += 1
                continue
            h = blind_index.keyed_digest(p.tenant_id, RECORD_DIGEST, data, p.ring)
            (new if link is None else changed).append((loc, h))
        return new, changed, same

    def _write_entities(self, cur: psycopg.Cursor[Any], batch: Sequence[Located], counts: Counts) -> None:
        table, entity, build = ENTITY_ROWS[type(batch[0].record)]
        new, changed, counts.unchanged = self._fresh(batch)
        inserts: list[dict[str, Any]] = []
        changes: list[tuple[str, dict[str, Any]]] = []
        links: list[tuple[Key, str, UUID, str]] = []
        for loc, h in new:
            r = loc.record
            eid = self.plan.ids[(r.object, r.external_id)]
            row = self._sealed(
                table, {"id": eid, "tenant_id": self.plan.tenant_id} | build(r, self.plan, self.now)
            )
            inserts.append(row)
            changes += self._changes(entity, table, "created", eid, None, row)
            links.append(((r.object, r.external_id), table, eid, h))
        if changed:
            ids = [
                self.plan.links[(loc.record.object, loc.record.external_id)].entity_id for loc, _ in changed
            ]
            cur.execute(
                f"SELECT * FROM crm.{table} WHERE tenant_id = %s AND id = ANY(%s)", (self.plan.tenant_id, ids)
            )
            names = [d.name for d in cur.description or ()]
            current = {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}
            for (loc, h), eid in zip(changed, ids, strict=True):
                r = loc.record
                before = current.get(eid)
                wanted = build(r, self.plan, self.now)
                if before is None:  # linked row deleted in the CRM since: create it again
                    row = self._sealed(table, {"id": eid, "tenant_id": self.plan.tenant_id} | wanted)
                    inserts.append(row)
                    changes += self._changes(entity, table, "created", eid, None, row)
                    counts.created += 1
                else:
                    readable = self._opened(table, before)
                    filling = self.plan.links[(r.object, r.external_id)].content_hash is None
                    if filling:  # a row the CRM had: fill what it lacks, keep what it has
                        wanted = {
                            c: (
                                {**v, **before[c]}
                                if isinstance(v, dict) and isinstance(before.get(c), dict)
                                else v
                            )
                            for c, v in wanted.items()
                            if _empty(before.get(c)) or isinstance(v, dict)
                        }
                    sets = {
                        c: v
                        for c, v in wanted.items()
                        if c not in IMMUTABLE and _comparable(readable.get(c)) != _comparable(v)
                    }
                    if sets:
                        sets = self._sealed(table, sets)
                        assignments = ", ".join(f"{c} = %s" for c in sets)
                        cur.execute(
                            f"UPDATE crm.{table} SET {assignments}, version = version + 1 WHERE id = %s RETURNING *",
                            [*(_param(v) for v in sets.values()), eid],
                        )
                        after_row = cur.fetchone()
                        after = dict(zip(names, after_row or (), strict=True))
                        changes += self._changes(entity, table, "updated", eid, before, after)
                        counts.updated += 1
                    else:
                        counts.unchanged += 1
                links.append(((r.object, r.external_id), table, eid, h))
        _copy(cur, table, inserts)
        counts.created += len(new)
        write_changes(cur, changes)
        self._link_rows(cur, links)
        for key, _, eid, h in links:
            self.plan.links[key] = Link(eid, h)

    def _write_activities(self, cur: psycopg.Cursor[Any], batch: Sequence[Located], counts: Counts) -> None:
        """Activities and stage changes: immutable facts, written once (a changed one is left
        as it was first imported and counted unchanged)."""
        new, changed, counts.unchanged = self._fresh(batch)
        counts.unchanged += len(changed)
        rows: dict[str, list[dict[str, Any]]] = {"lead_activities": [], "deal_activities": []}
        outbox: list[dict[str, Any]] = []
        links: list[tuple[Key, str, UUID, str]] = []
        stage_probability = self._stage_probabilities(cur, [loc.record for loc, _ in new])
        for loc, h in new:
            r = loc.record
            eid = self.plan.ids[(r.object, r.external_id)]
            if isinstance(r, StageChangeRecord):
                parent = "deal"
                parent_id = self.plan.id_of(r.deal_object, r.deal_ref)
                act_type: str = DealActivityType.STAGE_CHANGED.value
                description = f"Stage: {r.from_stage or '-'} -> {r.to_stage}"
                metadata: dict[str, Any] = {"from_stage": r.from_stage, "to_stage": r.to_stage}
                typed: dict[str, Any] | None = {
                    "from_stage": r.from_stage,
                    "to_stage": r.to_stage,
                    "probability": stage_probability.get((parent_id, r.to_stage), 0),
                }
                at = r.at
            else:
                assert isinstance(r, ActivityRecord)
                parent = r.parent
                parent_id = self.plan.id_of(r.parent_object, r.parent_ref)
                allowed = DealActivityType if parent == "deal" else LeadActivityType
                act_type = r.type.value if r.type.value in allowed.__members__ else "NOTE_ADDED"
                description, metadata, typed, at = r.description, dict(r.metadata), None, r.at
            act = {
                "id": eid,
                "tenant_id": self.plan.tenant_id,
                f"{parent}_id": parent_id,
                "user_id": None,
                "type": act_type,
                "description": description,
                "metadata": metadata | ({"custom": r.custom} if r.custom else {}),
                "created_at": at,
            }
            pairs = activity_rows(parent, act, typed, SOURCE, self.plan.ring)  # type: ignore[arg-type]
            for table, row in pairs:
                rows.get(table, outbox).append(row)
            links.append(((r.object, r.external_id), f"{parent}_activities", eid, h))
        for table, batch_rows in rows.items():
            _copy(cur, table, batch_rows)
        _copy(cur, "outbox", outbox)
        counts.created += len(new)
        self._link_rows(cur, links)

    def _stage_probabilities(
        self, cur: psycopg.Cursor[Any], records: list[Record]
    ) -> dict[tuple[Any, str], int]:
        """(deal id, stage) -> the stage's probability in the deal's pipeline, for the stage
        changes among `records` (their deals are written before them)."""
        deals = {
            self.plan.id_of(r.deal_object, r.deal_ref) for r in records if isinstance(r, StageChangeRecord)
        }
        if not deals:
            return {}
        cur.execute(
            "SELECT d.id, s->>'name', (s->>'probability')::int FROM crm.deals d"
            " JOIN crm.sales_pipelines p ON p.id = d.pipeline_id, jsonb_array_elements(p.stages) s"
            " WHERE d.tenant_id = %s AND d.id = ANY(%s)",
            (self.plan.tenant_id, list(deals)),
        )
        return {(d, name): prob for d, name, prob in cur.fetchall()}

    def _write_tickets(self, cur: psycopg.Cursor[Any], batch: Sequence[Located], counts: Counts) -> None:
        """Tickets are the ticketing system's: the CRM holds them as `tickets` events. A new
        ticket sends `ticket.created` (and `ticket.resolved` when it is), a changed one
        `ticket.updated` (or `ticket.resolved`) with its current state."""
        new, changed, counts.unchanged = self._fresh(batch)
        outbox: list[dict[str, Any]] = []
        links: list[tuple[Key, str, UUID, str]] = []
        for loc, h, is_new in [(lo, hh, True) for lo, hh in new] + [(lo, hh, False) for lo, hh in changed]:
            r = loc.record
            assert isinstance(r, TicketRecord)
            key = (r.object, r.external_id)
            tid = self.plan.ids.get(key) or self.plan.links[key].entity_id
            snapshot: dict[str, Any] = {
                "ticket_id": tid,
                "customer_id": self.plan.id_of(r.customer_object, r.customer_ref),
                "channel": r.channel.value,
                "priority": r.priority.value,
                "status": r.status.value,
                "category": r.category,
                "subject": r.subject or "(no subject)",
            }
            resolved = r.status.value in ("RESOLVED", "CLOSED")
            events: list[tuple[str, dict[str, Any], datetime]] = []
            if is_new:
                events.append(("ticket.created", snapshot | {"status": "OPEN"}, r.created_at))
            if resolved:
                minutes = (r.resolved_at - r.created_at).total_seconds() / 60 if r.resolved_at else None
                extra = {"resolution_minutes": max(minutes, 0.0)} if minutes is not None else {}
                events.append(("ticket.resolved", snapshot | extra, r.resolved_at or r.created_at))
            elif not is_new:
                events.append(("ticket.updated", snapshot, self.now))
            for event_type, payload, at in events:
                event = build_event(
                    event_type,
                    self.plan.tenant_id,
                    payload,
                    occurred_at=at,
                    source=SOURCE,
                    event_id=uuid.uuid5(NAMESPACE, f"{tid}/{event_type}/{h}"),
                )
                outbox.append(outbox_row(event, self.now))
            links.append((key, "tickets", tid, h))
        _copy(cur, "outbox", outbox)
        counts.created += len(new)
        counts.updated += len(changed)
        self._link_rows(cur, links)
