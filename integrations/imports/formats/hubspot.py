"""HubSpot exports: companies, contacts, deals with their stage history, tickets, and activities
(calls, e-mails, meetings, notes, tasks), under HubSpot's column labels ("Record ID", "Deal
Stage") or its internal property names (`hs_object_id`, `dealstage`), as an export from the
HubSpot app or a dump of the CRM API gives them.

A file is told by its name (`...contacts...csv`, `deals.csv`, `calls.csv`) or else by its
columns. Companies become customers, contacts leads (of their primary company), deals deals
(of their company and first contact) in HubSpot's pipeline; each `Date entered "<stage>"` /
`hs_date_entered_<stage id>` value of a deal is one stage change. Columns no table below names
become custom properties of the customer, lead or deal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from crm.enums import (
    Channel,
    CustomerStage,
    DealActivityType,
    LeadActivityType,
    LeadStatus,
    TicketPriority,
    TicketStatus,
)
from crm.schema.pipelines import StageDefinition
from integrations.imports.formats import columns as c
from integrations.imports.formats.base import Parsed, Row, read_file, rows_of
from integrations.imports.formats.columns import col, field
from integrations.imports.records import (
    ActivityRecord,
    BadRow,
    CustomerRecord,
    DealRecord,
    LeadRecord,
    StageChangeRecord,
    TicketRecord,
)

SYSTEM = "hubspot"

# --- HubSpot's default deal pipeline (internal id `default`) --------------------------------

PIPELINE = "Sales Pipeline"
PIPELINE_IDS = {"default": PIPELINE}
DEFAULT_STAGES: dict[str, tuple[str, int]] = {
    "appointmentscheduled": ("Appointment Scheduled", 20),
    "qualifiedtobuy": ("Qualified To Buy", 40),
    "presentationscheduled": ("Presentation Scheduled", 60),
    "decisionmakerboughtin": ("Decision Maker Bought-In", 80),
    "contractsent": ("Contract Sent", 90),
    "closedwon": ("Closed Won", 100),
    "closedlost": ("Closed Lost", 0),
}
"""Stage internal id -> (label, default probability %)."""
WON, LOST = "Closed Won", "Closed Lost"
SALES_PIPELINE: list[StageDefinition] = [
    c.stage(i + 1, label, p, won=label == WON, lost=label == LOST)
    for i, (label, p) in enumerate(DEFAULT_STAGES.values())
]

# --- value tables: HubSpot's option (internal value or label) -> the CRM's --------------------

LIFECYCLE_CUSTOMER_STAGE = {
    "subscriber": CustomerStage.PROSPECT,
    "lead": CustomerStage.PROSPECT,
    "marketingqualifiedlead": CustomerStage.PROSPECT,
    "salesqualifiedlead": CustomerStage.PROSPECT,
    "opportunity": CustomerStage.PROSPECT,
    "customer": CustomerStage.ACTIVE,
    "evangelist": CustomerStage.ACTIVE,
    "other": CustomerStage.PROSPECT,
}
LIFECYCLE_LEAD_STATUS = {
    "subscriber": LeadStatus.NEW,
    "lead": LeadStatus.NEW,
    "marketingqualifiedlead": LeadStatus.QUALIFIED,
    "salesqualifiedlead": LeadStatus.QUALIFIED,
    "opportunity": LeadStatus.PROPOSAL,
    "customer": LeadStatus.CONVERTED,
    "evangelist": LeadStatus.CONVERTED,
    "other": LeadStatus.NEW,
}
LEAD_STATUS = {
    "NEW": LeadStatus.NEW,
    "OPEN": LeadStatus.NEW,
    "IN_PROGRESS": LeadStatus.CONTACTED,
    "ATTEMPTED_TO_CONTACT": LeadStatus.CONTACTED,
    "CONNECTED": LeadStatus.CONTACTED,
    "OPEN_DEAL": LeadStatus.PROPOSAL,
    "UNQUALIFIED": LeadStatus.LOST,
    "BAD_TIMING": LeadStatus.LOST,
}
"""`hs_lead_status` options (their labels match ignoring case and spaces)."""
# the default ticket pipeline's statuses by id and by label
TICKET_STATUS = {
    "1": TicketStatus.OPEN,
    "new": TicketStatus.OPEN,
    "2": TicketStatus.PENDING,
    "waiting on contact": TicketStatus.PENDING,
    "3": TicketStatus.OPEN,
    "waiting on us": TicketStatus.OPEN,
    "4": TicketStatus.CLOSED,
    "closed": TicketStatus.CLOSED,
}
TICKET_PRIORITY = {
    "LOW": TicketPriority.LOW,
    "MEDIUM": TicketPriority.NORMAL,
    "HIGH": TicketPriority.HIGH,
    "URGENT": TicketPriority.URGENT,
}
TICKET_SOURCE = {
    "EMAIL": Channel.EMAIL,
    "CHAT": Channel.CHAT,
    "PHONE": Channel.PHONE,
    "FORM": Channel.WEB,
}

_lifecycle_stage = c.lookup(LIFECYCLE_CUSTOMER_STAGE)
_lifecycle_status = c.lookup(LIFECYCLE_LEAD_STATUS)
_lead_status = c.lookup(LEAD_STATUS)
_stage_by_label = {label.lower(): label for label, _ in DEFAULT_STAGES.values()}


def customer_stage(lifecycle: str | None) -> CustomerStage:
    """A company is a customer from lifecycle stage `customer` on; before, or unknown, a prospect."""
    return _lifecycle_stage(lifecycle) or CustomerStage.PROSPECT


def lead_status(hs_lead_status: str | None, lifecycle: str | None) -> LeadStatus | None:
    """A contact that became a customer is converted whatever its lead status; else the lead
    status, else the lifecycle stage."""
    life = _lifecycle_status(lifecycle)
    if life is LeadStatus.CONVERTED:
        return life
    return _lead_status(hs_lead_status) or life


def deal_stage(v: str | None) -> str | None:
    """A default-pipeline stage id or label as its label; any other stage as given."""
    if v is None:
        return None
    t = v.strip()
    if t in DEFAULT_STAGES:
        return DEFAULT_STAGES[t][0]
    return _stage_by_label.get(t.lower(), t)


def pipeline_name(v: str | None) -> str:
    if v is None or v.strip().lower() in ("default", PIPELINE.lower()):
        return PIPELINE
    return v.strip()


def _closed(stage: str | None, is_closed: str | None) -> bool:
    return deal_stage(stage) in (WON, LOST) or c.boolean(is_closed)


# --- columns ---------------------------------------------------------------------------------

ID = col("Record ID", "hs_object_id")
CREATED = col("Create Date", "createdate")
PRIMARY_COMPANY = col(
    "Associated Company IDs (Primary)", "Primary Associated Company ID", "associatedcompanyid"
)
COMPANY_IDS = col("Associated Company IDs", "Associated Company ID")
CONTACT_IDS = col("Associated Contact IDs", "Associated Contact ID")
DEAL_IDS = col("Associated Deal IDs", "Associated Deal ID")
LIFECYCLE = col("Lifecycle Stage", "lifecyclestage")
BECAME_CUSTOMER = col("Became a Customer Date", "hs_lifecyclestage_customer_date")
EMAIL = col("Email", "email")
FIRST_NAME = col("First Name", "firstname")
COMPANY_NAME = col("Company name", "name")
DOMAIN = col("Company Domain Name", "domain")
DEAL_NAME = col("Deal Name", "dealname")
DEAL_STAGE = col("Deal Stage", "dealstage")
IS_CLOSED = col("Is Deal Closed?", "hs_is_closed")
IS_WON = col("Is Closed Won", "hs_is_closed_won")
TICKET_NAME = col("Ticket name", "subject")
TICKET_STATUS_COL = col("Ticket status", "hs_pipeline_stage")
ACTIVITY_TYPE = col("Activity type", "Engagement type", "engagement.type", "hs_engagement_type", "type")


def _company_object(*ids: str | None) -> str | None:
    return "companies" if c.first_id(*ids) else None


COMPANY_FIELDS: c.Fields = {
    "external_id": field(col("Record ID", "hs_object_id", "Company ID"), required=True),
    "company": field(COMPANY_NAME),
    "phone": field(col("Phone Number", "phone")),
    "industry": field(col("Industry", "industry")),
    "company_size": field(col("Number of Employees", "numberofemployees"), get=c.integer),
    "country": field(col("Country/Region", "country")),
    "lifecycle_stage": field(LIFECYCLE, get=customer_stage),
    "became_customer_at": field(BECAME_CUSTOMER, get=c.time),
    "created_at": field(CREATED, get=c.time),
}
"""companies -> CustomerRecord."""

CONTACT_FIELDS: c.Fields = {
    "external_id": field(col("Record ID", "hs_object_id", "Contact ID"), required=True),
    "email": field(EMAIL, required=True),
    "first_name": field(FIRST_NAME),
    "last_name": field(col("Last Name", "lastname")),
    "company": field(col("Company Name", "company")),
    "phone": field(col("Phone Number", "phone")),
    "source": field(col("Original Source", "hs_analytics_source")),
    "status": field(col("Lead Status", "hs_lead_status"), LIFECYCLE, get=lead_status),
    "customer_ref": field(PRIMARY_COMPANY, COMPANY_IDS, get=c.first_id),
    "customer_object": field(PRIMARY_COMPANY, COMPANY_IDS, get=_company_object),
    "created_at": field(CREATED, get=c.time),
    "converted_at": field(BECAME_CUSTOMER, get=c.time),
    "last_activity_at": field(col("Last Activity Date", "notes_last_updated"), get=c.time),
}
"""contacts -> LeadRecord."""

DEAL_FIELDS: c.Fields = {
    "external_id": field(col("Record ID", "hs_object_id", "Deal ID"), required=True),
    "name": field(DEAL_NAME, required=True),
    "value": field(col("Amount", "amount"), get=c.money, required=True),
    "currency": field(col("Currency", "deal_currency_code")),
    "pipeline": field(col("Pipeline", "pipeline"), get=pipeline_name),
    "stage": field(DEAL_STAGE, get=deal_stage, required=True),
    "probability": field(col("Deal probability", "hs_deal_stage_probability"), get=c.share),
    "customer_ref": field(PRIMARY_COMPANY, COMPANY_IDS, get=c.first_id),
    "customer_object": field(PRIMARY_COMPANY, COMPANY_IDS, get=_company_object),
    "lead_ref": field(CONTACT_IDS, get=c.first_id),
    "lead_object": field(CONTACT_IDS, get=lambda ids: "contacts" if c.first_id(ids) else None),
    "expected_close_date": field(col("Close Date", "closedate"), get=c.time),
    "actual_close_date": field(
        col("Close Date", "closedate"),
        DEAL_STAGE,
        IS_CLOSED,
        get=lambda at, stage, closed: c.time(at) if _closed(stage, closed) else None,
    ),
    "lost_reason": field(col("Closed Lost Reason", "closed_lost_reason")),
    "description": field(col("Deal Description", "description")),
    "created_at": field(CREATED, get=c.time),
}
"""deals -> DealRecord (`closedate` is the expected close, and the actual one once closed)."""


def _ticket_status(stage: str | None, closed_at: str | None) -> TicketStatus:
    known = TICKET_STATUS.get(stage.strip().lower()) if stage else None
    return known or (TicketStatus.CLOSED if closed_at else TicketStatus.OPEN)


TICKET_FIELDS: c.Fields = {
    "external_id": field(col("Ticket ID", "Record ID", "hs_object_id", "hs_ticket_id"), required=True),
    "subject": field(
        TICKET_NAME, col("Ticket description", "content"), get=lambda s, d: s or (d and d[:1000])
    ),
    "status": field(TICKET_STATUS_COL, col("Close date", "closed_date"), get=_ticket_status),
    "priority": field(col("Priority", "hs_ticket_priority"), get=c.lookup(TICKET_PRIORITY)),
    "channel": field(col("Source", "source_type"), get=c.lookup(TICKET_SOURCE)),
    "category": field(col("Category", "hs_ticket_category")),
    "customer_ref": field(PRIMARY_COMPANY, COMPANY_IDS, get=c.first_id),
    "customer_object": field(PRIMARY_COMPANY, COMPANY_IDS, get=_company_object),
    "created_at": field(CREATED, get=c.time, required=True),
    "resolved_at": field(col("Close date", "closed_date"), get=c.time),
}
"""tickets -> TicketRecord (statuses of HubSpot's default support pipeline)."""

# --- activities --------------------------------------------------------------------------------

ACTIVITY_KINDS = ("calls", "emails", "meetings", "notes", "tasks")
_kind = c.lookup(
    {k: k for k in ACTIVITY_KINDS}
    | {k[:-1]: k for k in ACTIVITY_KINDS}
    | {"INCOMING_EMAIL": "emails", "FORWARDED_EMAIL": "emails"}
)
ACTIVITY_TEXT: dict[str, tuple[c.Col, ...]] = {
    "calls": (col("Call title", "hs_call_title"), col("Call notes", "hs_call_body")),
    "emails": (col("Email subject", "Subject", "hs_email_subject"), col("Email body", "hs_email_text")),
    "meetings": (
        col("Meeting name", "Meeting title", "hs_meeting_title"),
        col("Meeting description", "hs_meeting_body"),
    ),
    "notes": (col("Note body", "hs_note_body"),),
    "tasks": (col("Task title", "hs_task_subject"), col("Task notes", "Notes", "hs_task_body")),
}
"""The subject and body columns of each activity kind, joined into the activity's text."""
CALL_OUTCOME = col("Call outcome", "hs_call_disposition")
MEETING_OUTCOME = col("Meeting outcome", "Outcome", "hs_meeting_outcome")
TASK_TYPE = col("Task type", "hs_task_type")
ACTIVITY_STATUS = (col("Call status", "hs_call_status"), col("Task status", "hs_task_status"))
DIRECTION = (col("Call direction", "hs_call_direction"), col("Email direction", "hs_email_direction"))
CONNECTED = {"connected", "f240bbac-87c9-4f6e-bf70-924b57d47db7"}
"""`hs_call_disposition` of an answered call: the label, or the default outcome's id."""


def activity_type(
    kind: str, on_deal: bool, call_outcome: str | None, meeting_outcome: str | None, task_type: str | None
) -> LeadActivityType | DealActivityType:
    """A HubSpot activity as the CRM's lead or deal activity type."""
    if kind == "tasks":  # a task counts as what it was for: a call, an e-mail, else a note
        kind = {"CALL": "calls", "EMAIL": "emails"}.get((task_type or "").strip().upper(), "notes")
    if on_deal or kind not in ("calls", "meetings"):
        return c.activity_type(kind[:-1], on_deal)
    if kind == "calls":
        answered = (call_outcome or "").strip().lower() in CONNECTED
        return LeadActivityType.CALL_ANSWERED if answered else LeadActivityType.CALL_MADE
    done = (meeting_outcome or "").strip().upper() == "COMPLETED"
    return LeadActivityType.MEETING_COMPLETED if done else LeadActivityType.MEETING_SCHEDULED


def activity_fields(fixed: str | None) -> c.Fields:
    """The activity table for a file of one kind (`calls`...), or of any (`fixed` None: each
    row's kind from its type column)."""

    def kind(t: str | None) -> str:
        k = fixed or _kind(t)
        if k is None:
            raise ValueError(f"not a HubSpot activity type: {t!r}")
        return str(k)

    def typ(t: str | None, deals: str | None, *outcomes: str | None) -> Any:
        return activity_type(kind(t), bool(c.first_id(deals)), *outcomes)

    def parent(deals: str | None, contacts: str | None) -> str:
        if c.first_id(deals):
            return "deal"
        if c.first_id(contacts):
            return "lead"
        raise ValueError("no associated deal or contact")

    def describe(t: str | None, *texts: str | None) -> str:
        return c.text(*texts) or f"{kind(t)[:-1]} (no text)"

    def metadata(t: str | None, *values: str | None) -> dict[str, Any]:
        status = next((v for v in values[:2] if v), None)
        direction = next((v for v in values[2:] if v), None)
        meta = {"hubspot_type": kind(t), "status": status, "direction": direction}
        return {k: v for k, v in meta.items() if v}

    texts = [x for k in (ACTIVITY_KINDS if fixed is None else (fixed,)) for x in ACTIVITY_TEXT[k]]
    return {
        "external_id": field(col("Record ID", "hs_object_id", "Activity ID", "Engagement ID"), required=True),
        "object": field(ACTIVITY_TYPE, get=kind),
        "parent": field(DEAL_IDS, CONTACT_IDS, get=parent),
        "parent_ref": field(DEAL_IDS, CONTACT_IDS, get=c.first_id),
        "parent_object": field(
            DEAL_IDS, CONTACT_IDS, get=lambda d, p: "deals" if c.first_id(d) else "contacts"
        ),
        "type": field(ACTIVITY_TYPE, DEAL_IDS, CALL_OUTCOME, MEETING_OUTCOME, TASK_TYPE, get=typ),
        "description": field(ACTIVITY_TYPE, *texts, get=describe),
        "at": field(
            col("Activity date", "hs_timestamp"),
            col("Due date"),
            col("Create date", "hs_createdate", "createdate"),
            get=c.first_time,
            required=True,
        ),
        "metadata": field(ACTIVITY_TYPE, *ACTIVITY_STATUS, *DIRECTION, get=metadata),
    }


ACTIVITY_FIELDS = activity_fields(None)
"""engagements (any kind, by its type column) -> ActivityRecord on the deal, else the contact."""

# --- stage history -------------------------------------------------------------------------------

HISTORY_OBJECT = "deal_stage_history"
_ENTERED_LABEL = re.compile(r'^date entered "(?P<stage>.+)"$', re.IGNORECASE)
_ENTERED_NAME = re.compile(r"^hs_(?:v2_)?date_entered_(?P<id>.+)$", re.IGNORECASE)
_DERIVED = re.compile(
    r'^(date exited "|hs_(v2_)?date_exited_|date entered current stage$|hs_(v2_)?date_entered_current_stage$)',
    re.IGNORECASE,
)
"""Stage-history columns that add nothing to the entry times: not custom properties."""


def entered_stage(column: str) -> str | None:
    """The stage a `Date entered "<stage> (<pipeline>)"` / `hs_date_entered_<id>` column is of."""
    m = _ENTERED_LABEL.match(column)
    if m:
        s = m["stage"]
        cut = s.rfind(" (")
        return s[:cut] if cut > 0 and s.endswith(")") else s
    m = _ENTERED_NAME.match(column)
    if m and m["id"].lower() != "current_stage":
        return deal_stage(m["id"])
    return None


def _history(path: Path, line: int, row: Row, deal: DealRecord, entered: dict[str, str]) -> Parsed:
    """The stage changes of one deal row: its entry times, in time order, each from the last."""
    out = Parsed()
    times: dict[str, Any] = {}
    for column, stage in entered.items():
        if stage in times or not row.get(column):
            continue
        try:
            times[stage] = c.time(row.get(column))
        except ValueError as exc:
            out.bad.append(BadRow(file=str(path), line=line, reason=f"{column}: {exc}"))
    previous: str | None = None
    for stage, at in sorted(times.items(), key=lambda kv: kv[1]):
        out.records.append(
            c.located(
                StageChangeRecord(
                    object=HISTORY_OBJECT,
                    external_id=f"{deal.external_id}:{stage}",
                    deal_ref=deal.external_id,
                    deal_object="deals",
                    from_stage=previous,
                    to_stage=stage,
                    at=at,
                ),
                path,
                line,
            )
        )
        previous = stage
    return out


def _deals(path: Path, header: list[str]) -> Parsed:
    entered = {h: s for h in header if (s := entered_stage(h))}
    derived = [h for h in header if _DERIVED.match(h)] + [h for h in [c.present(header, IS_WON)] if h]
    fmap = c.file_map(
        header,
        DealRecord,
        "deals",
        DEAL_FIELDS,
        constants={"pipeline": PIPELINE},
        custom_entity="deals",
        ignore=[*entered, *derived],
    )
    out = read_file(path, fmap)
    deals = {loc.line: loc.record for loc in out.records if isinstance(loc.record, DealRecord)}
    won, closed = c.present(header, IS_WON), c.present(header, IS_CLOSED)
    seen: dict[str, dict[str, StageDefinition]] = {}
    defined: set[tuple[str, str]] = set()  # (pipeline, stage) a deal in it has described
    for line, row in rows_of(path):
        deal = deals.get(line)
        if deal is None:
            continue
        history = _history(path, line, row, deal, entered)
        out.extend(history)
        stages = seen.setdefault(deal.pipeline, {})
        for loc in history.records:
            assert isinstance(loc.record, StageChangeRecord)
            stages.setdefault(loc.record.to_stage, c.stage(0, loc.record.to_stage, 0))
        if (deal.pipeline, deal.stage) in defined:
            continue
        # a deal in a stage tells whether the stage is closed, and its probability
        defined.add((deal.pipeline, deal.stage))
        is_won = deal.stage == WON or (won is not None and c.boolean(row.get(won)))
        is_closed = deal.stage in (WON, LOST) or (closed is not None and c.boolean(row.get(closed)))
        p = 100 if is_won else deal.probability or 0
        stages[deal.stage] = c.stage(0, deal.stage, p, won=is_won, lost=is_closed and not is_won)
    out.pipelines = {
        name: c.with_stages(SALES_PIPELINE if name == PIPELINE else [], list(stages.values()))
        for name, stages in seen.items()
    }
    if not out.pipelines:
        out.pipelines = {PIPELINE: c.with_stages(SALES_PIPELINE, [])}
    return out


# --- files -------------------------------------------------------------------------------------

FILE_NAMES = {
    "contacts": "contacts",
    "contact": "contacts",
    "companies": "companies",
    "company": "companies",
    "deals": "deals",
    "deal": "deals",
    "tickets": "tickets",
    "ticket": "tickets",
    "engagements": "engagements",
    "engagement": "engagements",
    "activities": "engagements",
} | {k: k for k in ACTIVITY_KINDS}
"""A word of a file's name -> what the file holds."""


def kind_of(path: Path, header: list[str]) -> str | None:
    """What a file holds: by the first word of its name that names an object, else by the
    columns only that object has."""
    for t in c.name_tokens(path):
        if t in FILE_NAMES:
            return FILE_NAMES[t]
    if c.has_any(header, DEAL_NAME, DEAL_STAGE):
        return "deals"
    if c.has_any(header, TICKET_STATUS_COL, col("hs_ticket_priority")):
        return "tickets"
    if c.has_any(header, col(*ACTIVITY_TYPE.names[:-1])):
        return "engagements"
    for k, cols in ACTIVITY_TEXT.items():
        if c.has_any(header, *cols):
            return k
    if c.has_any(header, EMAIL, FIRST_NAME):
        return "contacts"
    if c.has_any(header, DOMAIN) or (c.has_any(header, COMPANY_NAME) and c.has_any(header, ID)):
        return "companies"
    return None


def read_one(path: Path) -> Parsed:
    header = c.header_of(path)
    kind = kind_of(path, header)
    if kind == "companies":
        fmap = c.file_map(
            header,
            CustomerRecord,
            kind,
            COMPANY_FIELDS,
            constants={"lifecycle_stage": CustomerStage.PROSPECT},
            custom_entity="customers",
        )
    elif kind == "contacts":
        fmap = c.file_map(
            header, LeadRecord, kind, CONTACT_FIELDS, constants={"source": SYSTEM}, custom_entity="leads"
        )
    elif kind == "deals":
        return _deals(path, header)
    elif kind == "tickets":
        fmap = c.file_map(header, TicketRecord, kind, TICKET_FIELDS)
    elif kind == "engagements":
        fmap = c.file_map(header, ActivityRecord, kind, ACTIVITY_FIELDS)
    elif kind in ACTIVITY_KINDS:
        fmap = c.file_map(header, ActivityRecord, kind, activity_fields(kind))
    else:
        return c.unknown_file(path, "HubSpot", "contacts, companies, deals, tickets or activities")
    return read_file(path, fmap)


def read(paths: list[Path]) -> Parsed:
    """Every record of a set of HubSpot export files, and the pipelines their deals are in."""
    out = Parsed()
    for path in paths:
        c.merge(out, read_one(path))
    return out
