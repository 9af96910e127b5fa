"""Erase one person's personal data in one tenant, keeping the records the marts count.

The person is found by e-mail among the tenant's leads and customers, through the e-mail's
blind index (`crm.keys.personal`: their values are sealed). Their rows stay (ids, amounts,
stages, dates: counts and revenue still reconcile) with personal values replaced by `MARKER`
and the indexes and domain beside them cleared (a customer's e-mail becomes NULL); JSON documents that mention
them (event payloads, outbox rows, webhook deliveries and receipts, import bad-row reports,
audit before/after) go through `crm.redact_pii` (migration 2002). Rows that are only a copy or
a key of their personal data (refused raw events, external ids equal to the e-mail, cached
API responses) are deleted. A landed ticket names its requester sealed (deterministically, by
the lander: `crm.keys.personal.REQUESTER`), so it is found by the e-mail's sealed text under
each of the tenant's data key versions (`personal.equal_forms`, for the address as given and
normalised: a ticket that spelled it in other letter case is found by the person's record ids
only), and its requester's e-mail, phone and name all become the marker. The free text the
lander seals (`crm.keys.event_text`: a ticket's subject and body, a message's text, an activity's
description...) cannot be searched for the person's e-mail: a landed event is found by their
record ids (and a ticket by its requester's e-mail), and every sealed text field of it becomes
the marker. Their leads' activities' notes (`crm.keys.notes`) become the marker, and so does
each copy of those notes' sealed text in the documents above (outbox events, webhook
deliveries), found as the text it is; the audit log keeps its images' notes sealed
(`crm.erase_audit_pii` erases personal keys only). Received webhook requests are stored sealed
(`crm.keys.received`): each is opened to be searched. The audit log is rewritten only through
`crm.erase_audit_pii`,
which records the erasure itself (counts, never values). One transaction: all or nothing.
Idempotent: a second run finds no one and touches nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from crm.db import libpq_url
from crm.keys import event_text, personal, received, undelivered
from crm.keys.blind_index import normalise_email
from crm.keys.keyring import Keyring, keyring
from crm.privacy import policies
from crm.schema.landing import DEAD_LETTERS_TABLE, LANDING_TABLES, PARKED_EVENTS_TABLE

MARKER: Final = "[erased]"
PERSONAL_COLUMNS: Final = (
    "email",
    "first_name",
    "last_name",
    "full_name",
    "phone",
    "evidence",
    "requester",
    "recipient",
    "email_key",
    "email_domain",
)
"""Columns of the warehouse (analytics.*, ml.*) that hold personal values or find them."""
CLEARED_KEYS: Final = ("email_key", "email_domain")
"""Of those, the ones set to NULL rather than to `MARKER` (a key to a person, not a value)."""

CLEARED: Final = (
    f"{personal.EMAIL_INDEX} = NULL, {personal.EMAIL_DOMAIN} = NULL, {personal.PHONE_INDEX} = NULL"
)
"""What finds a person again (their indexes) and the domain, cleared with their values."""

MENTIONS = (
    "(strpos(lower({col}::text), lower(%(email)s)) > 0"
    " OR EXISTS (SELECT 1 FROM unnest(%(ids)s::text[]) i WHERE strpos({col}::text, i) > 0))"
)
"""A document that names the person: their e-mail or one of their record ids."""
RAW_TICKETS: Final = f"raw.{LANDING_TABLES['tickets']}"
SEALED_MENTION = "EXISTS (SELECT 1 FROM unnest(%(sealed)s::text[]) s WHERE strpos({col}::text, s) > 0)"
"""A landed ticket naming the person's e-mail sealed (`personal.equal_forms`)."""
REQUESTER_ERASED = (
    "CASE WHEN {col} ->> 'requester_email' = ANY(%(sealed)s::text[]) THEN jsonb_strip_nulls(jsonb_build_object("
    + ", ".join(
        f"'{f}', CASE WHEN {{col}} ->> '{f}' IS NOT NULL THEN %(m)s::text END" for f in personal.REQUESTER
    )
    + ")) ELSE jsonb_build_object() END"
)
"""A landed ticket whose requester is the person: each requester value present becomes the marker."""


def text_erased(topic: str) -> str:
    """SQL of a landed payload's sealed free text (`event_text.FIELDS`, the requester aside:
    `REQUESTER_ERASED`), each field present as the marker, to merge over the document."""
    fields = [f for f in event_text.FIELDS[topic] if f not in personal.REQUESTER]
    return (
        "jsonb_strip_nulls(jsonb_build_object("
        + ", ".join(f"'{f}', CASE WHEN {{col}} ->> '{f}' IS NOT NULL THEN %(m)s::text END" for f in fields)
        + "))"
    )


SEALED_TEXT: Final = {f"raw.{LANDING_TABLES[t]}": text_erased(t) for t in event_text.FIELDS}
"""Landed tables whose payloads carry sealed free text -> the SQL erasing it (`text_erased`)."""

JSON_DOCUMENTS: Final = (
    *((f"raw.{t}", "payload") for t in LANDING_TABLES.values()),
    ("crm.outbox", "payload"),
    ("crm.webhook_deliveries", "payload"),
    ("crm.import_runs", "bad_rows"),
)

KEPT_ROWS: Final = (
    (
        "crm.leads",
        "email = %(m)s, first_name = CASE WHEN first_name IS NULL THEN NULL ELSE %(m)s END, last_name = CASE WHEN last_name IS NULL THEN NULL ELSE %(m)s END,"
        " phone = CASE WHEN phone IS NULL THEN NULL ELSE %(m)s END, custom_fields = crm.redact_pii(custom_fields, %(terms)s),"
        f" {CLEARED}",
        "id = ANY(%(leads)s)",
    ),
    (
        "crm.customers",
        "email = NULL, first_name = CASE WHEN first_name IS NULL THEN NULL ELSE %(m)s END, last_name = CASE WHEN last_name IS NULL THEN NULL ELSE %(m)s END,"
        " phone = CASE WHEN phone IS NULL THEN NULL ELSE %(m)s END, custom_fields = crm.redact_pii(custom_fields, %(terms)s),"
        f" {CLEARED}",
        "id = ANY(%(customers)s)",
    ),
    (
        "crm.lead_activities",
        "description = %(m)s, metadata = crm.redact_pii(metadata, %(terms)s)",
        "lead_id = ANY(%(leads)s) AND description IS DISTINCT FROM %(m)s",
    ),
    (
        "crm.ticket_leads",
        "requester_email = %(m)s",
        "(lead_id = ANY(%(leads)s) OR customer_id = ANY(%(customers)s) OR lower(requester_email) = lower(%(email)s))"
        " AND requester_email IS NOT NULL AND requester_email <> %(m)s",
    ),
    (
        "crm.ticket_enrichments",
        "requester = %(m)s",
        "(lead_id = ANY(%(leads)s) OR customer_id = ANY(%(customers)s) OR lower(requester) = lower(%(email)s))"
        " AND requester IS NOT NULL AND requester <> %(m)s",
    ),
    (
        "crm.conversation_signals",
        "evidence = %(m)s, detail = crm.redact_pii(detail, %(terms)s)",
        "(lead_id = ANY(%(leads)s) OR customer_id = ANY(%(customers)s)) AND evidence IS DISTINCT FROM %(m)s",
    ),
    (
        "crm.campaign_deliveries",
        "recipient = %(m)s",
        "(customer_id = ANY(%(customers)s) OR lower(recipient) = lower(%(email)s)) AND recipient <> %(m)s",
    ),
)
"""(table, SET, WHERE): rows kept with their personal values replaced."""

UNDELIVERED: Final = (f"raw.{DEAD_LETTERS_TABLE}", f"raw.{PARKED_EVENTS_TABLE}")
"""Events not landed, kept as the bytes sent (sealed, `crm.keys.undelivered`): one that names
the person is deleted whole."""

DELETED_ROWS: Final = (
    ("crm.external_ids", "lower(external_id) = lower(%(email)s)"),
    ("crm.idempotency_keys", MENTIONS.format(col="response_body")),
)
"""(table, WHERE): rows that are only a copy or a key of the person's data."""


@dataclass(frozen=True)
class Touched:
    table: str
    action: str  # pseudonymised | redacted | deleted
    rows: int


@dataclass
class Report:
    tenant: str
    leads: int = 0
    customers: int = 0
    rows: list[Touched] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(t.rows for t in self.rows)

    def counts(self) -> dict[str, int]:
        return {t.table: t.rows for t in self.rows if t.rows}

    def summary(self) -> str:
        if not self.total:
            return f"{self.tenant}: nothing to erase (no personal data of this person left)"
        return (
            f"{self.tenant}: {self.leads} leads and {self.customers} customers; {self.total} rows in"
            f" {len(self.counts())} tables touched in {self.seconds:.2f} s"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "leads": self.leads,
            "customers": self.customers,
            "tables": [t.__dict__ for t in self.rows],
            "total": self.total,
            "seconds": round(self.seconds, 3),
        }


def _count(conn: psycopg.Connection[Any], statement: sql.Composed, params: dict[str, Any]) -> int:
    row = conn.execute(statement, params).fetchone()
    return int(row[0]) if row else 0


def _update(table: str, set_: str, where: str) -> sql.Composed:
    schema, name = table.split(".")
    return sql.SQL(
        "WITH u AS (UPDATE {}.{} SET " + set_ + " WHERE tenant_id = %(tenant)s AND " + where + " RETURNING 1)"
        " SELECT count(*) FROM u"
    ).format(sql.Identifier(schema), sql.Identifier(name))


def _delete(table: str, where: str) -> sql.Composed:
    schema, name = table.split(".")
    return sql.SQL(
        "WITH d AS (DELETE FROM {}.{} WHERE tenant_id = %(tenant)s AND " + where + " RETURNING 1)"
        " SELECT count(*) FROM d"
    ).format(sql.Identifier(schema), sql.Identifier(name))


def _received(conn: psycopg.Connection[Any], p: dict[str, Any], ring: Keyring) -> Touched:
    """Inbound webhook requests are stored sealed (`crm.keys.received`): each of the tenant's
    is opened to be searched, and one naming the person is redacted as the documents above are
    and sealed again."""
    tenant, n = UUID(p["tenant"]), 0
    seal = received.sealer(tenant, ring)
    rows = conn.execute("SELECT id, payload FROM crm.webhooks_received WHERE tenant_id = %s", (tenant,))
    for rid, stored in rows.fetchall():
        doc = received.open_payload(tenant, stored, ring)
        text = json.dumps(doc)
        if p["email"].lower() not in text.lower() and not any(i in text for i in p["ids"]):
            continue
        row = conn.execute("SELECT crm.redact_pii(%s, %s)", (Jsonb(doc), p["terms"])).fetchone()
        if row is not None and row[0] != doc:
            conn.execute("UPDATE crm.webhooks_received SET payload = %s WHERE id = %s", (seal(row[0]), rid))
            n += 1
    return Touched("crm.webhooks_received", "redacted", n)


def _undelivered(conn: psycopg.Connection[Any], p: dict[str, Any], ring: Keyring) -> list[Touched]:
    """The tenant's dead letters and parked events whose bytes, opened, name the e-mail (in any
    case), deleted."""
    needle = p["email"].lower().encode()
    out = []
    for table in UNDELIVERED:
        rows = conn.execute(
            f"SELECT id, topic, raw_bytes, raw_key_id FROM {table} WHERE tenant_id = %s", (p["tenant"],)
        ).fetchall()
        ids = [
            rid
            for rid, topic, stored, key_id in rows
            if needle in undelivered.unseal(bytes(stored or b""), key_id, topic, ring).lower()
        ]
        row = conn.execute(
            f"WITH d AS (DELETE FROM {table} WHERE id = ANY(%s) RETURNING 1) SELECT count(*) FROM d", (ids,)
        ).fetchone()
        out.append(Touched(table, "deleted", int(row[0]) if row else 0))
    return out


def _warehouse(conn: psycopg.Connection[Any], p: dict[str, Any]) -> list[Touched]:
    """analytics.* and ml.* tables with personal columns, keyed by lead or customer id."""
    rows = conn.execute(
        """SELECT c.table_schema, c.table_name, array_agg(c.column_name::text ORDER BY c.column_name),
                  bool_or(c.column_name = 'lead_id'), bool_or(c.column_name = 'customer_id')
           FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
           WHERE c.table_schema IN ('analytics', 'ml') AND t.table_type = 'BASE TABLE'
             AND (c.column_name = ANY(%s) OR c.column_name IN ('lead_id', 'customer_id', 'tenant_id'))
           GROUP BY 1, 2 ORDER BY 1, 2""",
        (list(PERSONAL_COLUMNS),),
    ).fetchall()
    out = []
    for schema, table, columns, has_lead, has_customer in rows:
        personal = [c for c in columns if c in PERSONAL_COLUMNS]
        if not personal or not (has_lead or has_customer) or "tenant_id" not in columns:
            continue
        keys = [k for k, has in (("lead_id", has_lead), ("customer_id", has_customer)) if has]
        # a customer's e-mail is NULL in crm.customers (unique per tenant): the same here
        null_email = not has_lead
        values = {
            c: (None if (c == "email" and null_email) or c in CLEARED_KEYS else MARKER) for c in personal
        }
        sets = sql.SQL(", ").join(
            sql.SQL("{} = CASE WHEN {} IS NULL THEN NULL ELSE {} END").format(
                sql.Identifier(c), sql.Identifier(c), sql.Literal(v)
            )
            for c, v in values.items()
        )
        who = sql.SQL(" OR ").join(sql.SQL("{}::text = ANY(%(ids)s)").format(sql.Identifier(k)) for k in keys)
        changed = sql.SQL(" OR ").join(
            sql.SQL("{} IS DISTINCT FROM CASE WHEN {} IS NULL THEN NULL ELSE {} END").format(
                sql.Identifier(c), sql.Identifier(c), sql.Literal(v)
            )
            for c, v in values.items()
        )
        statement = sql.SQL(
            "WITH u AS (UPDATE {}.{} SET {} WHERE tenant_id = %(tenant)s AND ({}) AND ({}) RETURNING 1)"
            " SELECT count(*) FROM u"
        ).format(sql.Identifier(schema), sql.Identifier(table), sets, who, changed)
        out.append(Touched(f"{schema}.{table}", "pseudonymised", _count(conn, statement, p)))
    return out


def erase_person(email: str, tenant: str, url: str | None = None) -> Report:
    """Erase `email`'s personal data in `tenant` (slug or id); what was touched, per table."""
    started = time.perf_counter()
    with psycopg.connect(libpq_url(url)) as conn, conn.transaction():
        tid = policies.tenant_id(conn, tenant)
        ring = keyring(libpq_url(url))
        match = personal.email_params(UUID(tid), email, ring) | {"tenant": tid}
        leads, customers = (
            [
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM crm.{table} WHERE tenant_id = %(tenant)s AND {personal.email_match()}",
                    match,
                )
            ]
            for table in ("leads", "customers")
        )
        ids = [str(i) for i in (*leads, *customers)]
        sealed = sorted(
            {
                form
                for spelling in {email, email.strip(), normalise_email(email)}
                for form in personal.equal_forms(UUID(tid), "email", spelling, ring)
            }
        )
        noted = [
            r[0]
            for r in conn.execute(
                "SELECT description FROM crm.lead_activities WHERE tenant_id = %s AND lead_id = ANY(%s)"
                " AND description LIKE 'v2:%%'",
                (tid, leads),
            )
        ]
        p = {
            "sealed": sealed,
            "tenant": tid,
            "email": email,
            "terms": [email, *sealed, *noted],
            "ids": ids,
            "leads": leads,
            "customers": customers,
            "m": MARKER,
        }
        report = Report(tenant, len(leads), len(customers))
        for table, set_, where in KEPT_ROWS:
            report.rows.append(Touched(table, "pseudonymised", _count(conn, _update(table, set_, where), p)))
        for table, column in JSON_DOCUMENTS:
            redacted = f"crm.redact_pii({column}, %(terms)s)"
            mentions = MENTIONS.format(col=column)
            if table in SEALED_TEXT:
                redacted = f"({redacted} || {SEALED_TEXT[table].format(col=column)})"
            if table == RAW_TICKETS:
                redacted = f"({redacted} || {REQUESTER_ERASED.format(col=column)})"
                mentions = f"({mentions} OR {SEALED_MENTION.format(col=column)})"
            where = mentions + f" AND {column} IS DISTINCT FROM {redacted}"
            report.rows.append(
                Touched(table, "redacted", _count(conn, _update(table, f"{column} = {redacted}", where), p))
            )
        report.rows.append(_received(conn, p, ring))
        report.rows += _undelivered(conn, p, ring)
        for table, where in DELETED_ROWS:
            report.rows.append(Touched(table, "deleted", _count(conn, _delete(table, where), p)))
        report.rows += _warehouse(conn, p)
        audit_ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM crm.audit_log WHERE tenant_id = %(tenant)s AND (entity_id::text = ANY(%(ids)s) OR "
                + MENTIONS.format(col="before")
                + " OR "
                + MENTIONS.format(col="after")
                + ")",
                p,
            )
        ]
        done = conn.execute(
            "SELECT crm.erase_audit_pii(%s, %s, %s)",
            (tid, audit_ids, Jsonb({"leads": len(leads), "customers": len(customers), **report.counts()})),
        ).fetchone()
        report.rows.append(Touched("crm.audit_log", "redacted", int(done[0]) if done else 0))
    report.seconds = time.perf_counter() - started
    return report
