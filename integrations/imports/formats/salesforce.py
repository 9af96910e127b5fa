"""Salesforce exports by API field name, as Data Export (Setup > Data Export) writes them: one
file per object, `Account.csv`, `Lead.csv`, `Contact.csv`, `Opportunity.csv`,
`OpportunityHistory.csv`, `Task.csv`, `Event.csv`, `Case.csv`, `Campaign.csv`,
`CampaignMember.csv`.

Records keep Salesforce's ids as given (15 or 18 characters) and objects' API names, so a
deal's `AccountId` finds the Account however the files are split. Opportunities are deals of the
`Salesforce` pipeline: Salesforce's standard stages, plus the stages the data uses that are not
among them. Columns no table below names become custom properties of the customer (Account),
lead (Lead, Contact) or deal (Opportunity); Salesforce's system columns are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crm.enums import (
    CampaignStatus,
    CampaignType,
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
from integrations.imports.formats.base import Parsed, read_file, read_rows, reason, sha256
from integrations.imports.formats.columns import field
from integrations.imports.records import (
    ActivityRecord,
    BadRow,
    CampaignRecord,
    CustomerRecord,
    DealRecord,
    LeadRecord,
    StageChangeRecord,
    TicketRecord,
)

SYSTEM = "salesforce"
PIPELINE = "Salesforce"

STANDARD_STAGES: dict[str, int] = {
    "Prospecting": 10,
    "Qualification": 10,
    "Needs Analysis": 20,
    "Value Proposition": 50,
    "Id. Decision Makers": 60,
    "Perception Analysis": 70,
    "Proposal/Price Quote": 75,
    "Negotiation/Review": 90,
    "Closed Won": 100,
    "Closed Lost": 0,
}
"""Salesforce's standard opportunity stages and their default probabilities (%)."""
SALES_PIPELINE: list[StageDefinition] = [
    c.stage(i + 1, name, p, won=name == "Closed Won", lost=name == "Closed Lost")
    for i, (name, p) in enumerate(STANDARD_STAGES.items())
]

SYSTEM_COLUMNS = (
    "IsDeleted",
    "SystemModstamp",
    "CreatedById",
    "LastModifiedById",
    "LastModifiedDate",
    "LastViewedDate",
    "LastReferencedDate",
    "MasterRecordId",
    "PhotoUrl",
    "Jigsaw",
    "JigsawCompanyId",
    "JigsawContactId",
    "CleanStatus",
    "ConnectionReceivedId",
    "ConnectionSentId",
)
"""Audit and platform columns: not the record's data, never custom properties."""

KEY_PREFIX = {"001": "Account", "003": "Contact", "006": "Opportunity", "00Q": "Lead"}
"""An id's first three characters name its object."""

# --- value tables: Salesforce's picklist value -> the CRM's ---------------------------------

ACCOUNT_STAGE = {
    "Customer - Direct": CustomerStage.ACTIVE,
    "Customer - Channel": CustomerStage.ACTIVE,
    "Customer": CustomerStage.ACTIVE,
    "Prospect": CustomerStage.PROSPECT,
}
"""Account Type -> lifecycle stage; any other type (partners, Other, none) is a prospect."""
LEAD_STATUS = {
    "Open - Not Contacted": LeadStatus.NEW,
    "Working - Contacted": LeadStatus.CONTACTED,
    "Closed - Converted": LeadStatus.CONVERTED,
    "Closed - Not Converted": LeadStatus.LOST,
    "Open": LeadStatus.NEW,
    "New": LeadStatus.NEW,
    "Contacted": LeadStatus.CONTACTED,
    "Working": LeadStatus.CONTACTED,
    "Nurturing": LeadStatus.CONTACTED,
    "Qualified": LeadStatus.QUALIFIED,
    "Unqualified": LeadStatus.LOST,
}
CASE_STATUS = {
    "New": TicketStatus.OPEN,
    "Working": TicketStatus.OPEN,
    "Escalated": TicketStatus.OPEN,
    "On Hold": TicketStatus.PENDING,
    "Waiting on Customer": TicketStatus.PENDING,
    "Resolved": TicketStatus.RESOLVED,
    "Closed": TicketStatus.CLOSED,
}
CASE_PRIORITY = {
    "Low": TicketPriority.LOW,
    "Medium": TicketPriority.NORMAL,
    "High": TicketPriority.HIGH,
    "Critical": TicketPriority.URGENT,
    "Urgent": TicketPriority.URGENT,
}
CASE_ORIGIN = {
    "Email": Channel.EMAIL,
    "Phone": Channel.PHONE,
    "Web": Channel.WEB,
    "Chat": Channel.CHAT,
    "Social": Channel.SOCIAL,
    "Facebook": Channel.SOCIAL,
    "Twitter": Channel.SOCIAL,
    "SMS": Channel.SMS,
    "WhatsApp": Channel.WHATSAPP,
}
CAMPAIGN_TYPE = {
    "Email": CampaignType.EMAIL,
    "Direct Mail": CampaignType.EMAIL,
    "Webinar": CampaignType.WEBINAR,
    "Conference": CampaignType.WEBINAR,
    "Trade Show": CampaignType.WEBINAR,
    "Advertisement": CampaignType.PAID_ADS,
    "Banner Ads": CampaignType.PAID_ADS,
    "Partners": CampaignType.SOCIAL,
    "Referral Program": CampaignType.SOCIAL,
    "Public Relations": CampaignType.CONTENT,
    "Telemarketing": CampaignType.SMS,
}
"""Campaign Type -> the CRM's type (events count as webinars); any other type is CONTENT."""
CAMPAIGN_STATUS = {
    "Planned": CampaignStatus.SCHEDULED,
    "In Progress": CampaignStatus.ACTIVE,
    "Completed": CampaignStatus.COMPLETED,
    "Aborted": CampaignStatus.CANCELLED,
}
ACTIVITY_KIND = {"Call": "call", "Email": "email", "ListEmail": "email", "Meeting": "meeting"}
"""TaskSubtype, else Type -> kind of activity; any other (a to-do) is a note."""

_lead_status = c.lookup(LEAD_STATUS)
_case_status = c.lookup(CASE_STATUS)
_campaign_type = c.lookup(CAMPAIGN_TYPE)
_activity_kind = c.lookup(ACTIVITY_KIND)


def _object(prefix_of: str | None) -> str | None:
    return KEY_PREFIX.get(prefix_of[:3]) if prefix_of else None


def _ref(obj: str) -> Any:
    return lambda v: obj if v else None


def lead_status(status: str | None, converted: str | None) -> LeadStatus | None:
    return LeadStatus.CONVERTED if c.boolean(converted) else _lead_status(status)


def case_status(status: str | None, closed: str | None) -> TicketStatus:
    return _case_status(status) or (TicketStatus.CLOSED if c.boolean(closed) else TicketStatus.OPEN)


def campaign_type(v: str | None) -> CampaignType | None:
    return (_campaign_type(v) or CampaignType.CONTENT) if v else None


ACCOUNT_FIELDS: c.Fields = {
    "external_id": field("Id", required=True),
    "company": field("Name"),
    "phone": field("Phone"),
    "industry": field("Industry"),
    "company_size": field("NumberOfEmployees", get=c.integer),
    "country": field("BillingCountry"),
    "lifecycle_stage": field(
        "Type", get=lambda t: c.lookup(ACCOUNT_STAGE)(t) or CustomerStage.PROSPECT, keep=True
    ),
    "created_at": field("CreatedDate", get=c.time),
}
"""Account -> CustomerRecord (its Type also stays a custom property)."""

LEAD_FIELDS: c.Fields = {
    "external_id": field("Id", required=True),
    "email": field("Email", required=True),
    "first_name": field("FirstName"),
    "last_name": field("LastName"),
    "company": field("Company"),
    "phone": field("Phone"),
    "source": field("LeadSource"),
    "status": field("Status", "IsConverted", get=lead_status, keep=True),
    "customer_ref": field("ConvertedAccountId"),
    "customer_object": field("ConvertedAccountId", get=_ref("Account")),
    "created_at": field("CreatedDate", get=c.time),
    "converted_at": field("ConvertedDate", get=c.time),
    "last_activity_at": field("LastActivityDate", get=c.time),
}
"""Lead -> LeadRecord (a converted lead is of the Account it became; Status stays custom too)."""

CONTACT_FIELDS: c.Fields = {
    "external_id": field("Id", required=True),
    "email": field("Email", required=True),
    "first_name": field("FirstName"),
    "last_name": field("LastName"),
    "phone": field("Phone"),
    "source": field("LeadSource"),
    "customer_ref": field("AccountId"),
    "customer_object": field("AccountId", get=_ref("Account")),
    "created_at": field("CreatedDate", get=c.time),
    "last_activity_at": field("LastActivityDate", get=c.time),
}
"""Contact -> LeadRecord of its Account."""

OPPORTUNITY_FIELDS: c.Fields = {
    "external_id": field("Id", required=True),
    "name": field("Name", required=True),
    "value": field("Amount", get=c.money, required=True),
    "currency": field("CurrencyIsoCode"),
    "stage": field("StageName", required=True),
    "probability": field("Probability", get=c.percent),
    "customer_ref": field("AccountId"),
    "customer_object": field("AccountId", get=_ref("Account")),
    "lead_ref": field("ContactId"),
    "lead_object": field("ContactId", get=_ref("Contact")),
    "expected_close_date": field("CloseDate", get=c.time),
    "actual_close_date": field(
        "CloseDate", "IsClosed", get=lambda at, closed: c.time(at) if c.boolean(closed) else None
    ),
    "description": field("Description"),
    "created_at": field("CreatedDate", get=c.time),
}
"""Opportunity -> DealRecord in the `Salesforce` pipeline (CloseDate is also the actual close
date of a closed one)."""

CASE_FIELDS: c.Fields = {
    "external_id": field("Id", required=True),
    "subject": field("Subject"),
    "status": field("Status", "IsClosed", get=case_status),
    "priority": field("Priority", get=c.lookup(CASE_PRIORITY)),
    "channel": field("Origin", get=c.lookup(CASE_ORIGIN)),
    "category": field("Type", "Reason", get=lambda t, r: t or r),
    "customer_ref": field("AccountId"),
    "customer_object": field("AccountId", get=_ref("Account")),
    "created_at": field("CreatedDate", get=c.time, required=True),
    "resolved_at": field("ClosedDate", get=c.time),
}
"""Case -> TicketRecord."""

CAMPAIGN_FIELDS: c.Fields = {
    "external_id": field("Id", required=True),
    "name": field("Name", required=True),
    "type": field("Type", get=campaign_type),
    "status": field("Status", get=c.lookup(CAMPAIGN_STATUS)),
    "budget": field("BudgetedCost", get=c.amount),
    "start_date": field("StartDate", get=c.time),
    "end_date": field("EndDate", get=c.time),
    "created_at": field("CreatedDate", get=c.time),
}
"""Campaign -> CampaignRecord."""


def _parent(what: str | None, who: str | None) -> tuple[str, str, str]:
    """(parent, ref, object): the opportunity a task is on (WhatId), else its lead or contact."""
    if _object(what) == "Opportunity" and what:
        return "deal", what, "Opportunity"
    obj = _object(who)
    if who and obj in ("Lead", "Contact"):
        return "lead", who, obj
    raise ValueError("not on an opportunity, lead or contact")


def activity_type(
    on_deal: bool, subtype: str | None, type_: str | None
) -> LeadActivityType | DealActivityType:
    """A Task's or Event's TaskSubtype, else its Type, as the CRM's lead or deal activity type."""
    kind = "meeting" if subtype == "Event" else _activity_kind(subtype) or _activity_kind(type_) or "note"
    return c.activity_type(kind, on_deal)


def activity_fields(subtype: str, when: tuple[str, ...]) -> c.Fields:
    """Task or Event -> ActivityRecord: `subtype` the subtype column, `when` its time columns in
    order of preference."""
    parent = ("WhatId", "WhoId")
    return {
        "external_id": field("Id", required=True),
        "parent": field(*parent, get=lambda a, b: _parent(a, b)[0]),
        "parent_ref": field(*parent, get=lambda a, b: _parent(a, b)[1]),
        "parent_object": field(*parent, get=lambda a, b: _parent(a, b)[2]),
        "type": field(
            *parent, subtype, "Type", get=lambda a, b, s, t: activity_type(_parent(a, b)[0] == "deal", s, t)
        ),
        "description": field("Subject", "Description", get=lambda s, d: c.text(s, d) or "(no subject)"),
        "at": field(*when, get=c.first_time, required=True),
        "metadata": field(
            subtype,
            "Type",
            "Status",
            get=lambda s, t, st: {k: v for k, v in (("subtype", s or t), ("status", st)) if v},
        ),
    }


TASK_FIELDS = activity_fields("TaskSubtype", ("CompletedDateTime", "ActivityDate", "CreatedDate"))
EVENT_FIELDS = activity_fields(
    "EventSubtype", ("StartDateTime", "ActivityDateTime", "ActivityDate", "CreatedDate")
)


def _responded(has_responded: str | None, status: str | None) -> bool:
    return c.boolean(has_responded) or (status or "").strip().lower() == "responded"


def _member(lead: str | None, contact: str | None) -> tuple[str, str]:
    if lead:
        return lead, "Lead"
    if contact:
        return contact, "Contact"
    raise ValueError("neither a lead nor a contact")


CAMPAIGN_MEMBER_FIELDS: c.Fields = {
    "external_id": field("Id", required=True),
    "parent_ref": field("LeadId", "ContactId", get=lambda lead, contact: _member(lead, contact)[0]),
    "parent_object": field("LeadId", "ContactId", get=lambda lead, contact: _member(lead, contact)[1]),
    "type": field(
        "HasResponded",
        "Status",
        get=lambda r, s: LeadActivityType.FORM_SUBMITTED if _responded(r, s) else LeadActivityType.EMAIL_SENT,
    ),
    "description": field("Status", get=lambda s: f"campaign member: {s or 'Sent'}"),
    "at": field(
        "HasResponded",
        "Status",
        "FirstRespondedDate",
        "CreatedDate",
        get=lambda r, s, first, created: (
            c.first_time(first, created) if _responded(r, s) else c.time(created)
        ),
        required=True,
    ),
    "metadata": field(
        "CampaignId",
        "Status",
        get=lambda campaign, s: {k: v for k, v in (("campaign_external_id", campaign), ("status", s)) if v},
    ),
}
"""CampaignMember -> ActivityRecord on its lead or contact: FORM_SUBMITTED once it responded,
else EMAIL_SENT (the campaign's id in the metadata)."""


# --- files -------------------------------------------------------------------------------------

MAPS: dict[str, tuple[type[Any], c.Fields, str | None]] = {
    "Account": (CustomerRecord, ACCOUNT_FIELDS, "customers"),
    "Lead": (LeadRecord, LEAD_FIELDS, "leads"),
    "Contact": (LeadRecord, CONTACT_FIELDS, "leads"),
    "Opportunity": (DealRecord, OPPORTUNITY_FIELDS, "deals"),
    "Task": (ActivityRecord, TASK_FIELDS, None),
    "Event": (ActivityRecord, EVENT_FIELDS, None),
    "Case": (TicketRecord, CASE_FIELDS, None),
    "Campaign": (CampaignRecord, CAMPAIGN_FIELDS, None),
    "CampaignMember": (ActivityRecord, CAMPAIGN_MEMBER_FIELDS, None),
}
"""Object -> (record, field table, crm table of its custom properties)."""
CONSTANTS: dict[str, dict[str, Any]] = {
    "Lead": {"source": SYSTEM},
    "Contact": {"source": SYSTEM},
    "Opportunity": {"pipeline": PIPELINE},
    "CampaignMember": {"parent": "lead"},
}
OBJECTS = (*MAPS, "OpportunityHistory")
_BY_NAME = {o.lower(): o for o in OBJECTS}
IDENTIFYING: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("OpportunityHistory", ("OpportunityId", "StageName")),
    ("Opportunity", ("StageName", "CloseDate")),
    ("CampaignMember", ("CampaignId", "HasResponded")),
    ("Campaign", ("BudgetedCost",)),
    ("Case", ("CaseNumber",)),
    ("Event", ("EventSubtype",)),
    ("Event", ("StartDateTime",)),
    ("Task", ("TaskSubtype",)),
    ("Task", ("WhoId",)),
    ("Lead", ("IsConverted",)),
    ("Contact", ("AccountId", "LastName")),
    ("Account", ("Name", "BillingCountry")),
    ("Account", ("Name", "NumberOfEmployees")),
)
"""Columns that only one object's file has (together), checked in this order."""


def object_of(path: Path, header: list[str]) -> str | None:
    """The object a file holds: by its name (`Account.csv`, `Account_2.csv`), else its columns."""
    key = "".join(ch for ch in path.stem.lower() if ch.isalpha())
    if key in _BY_NAME:
        return _BY_NAME[key]
    names = {h.lower() for h in header}
    return next((o for o, cols in IDENTIFYING if all(x.lower() in names for x in cols)), None)


def _opportunity_stages(path: Path, parsed: Parsed) -> list[StageDefinition]:
    """The stages of the opportunities read, in order of first appearance, each closed or not
    as its first opportunity (IsWon, IsClosed) says."""
    deals = {loc.line: loc.record for loc in parsed.records if isinstance(loc.record, DealRecord)}
    stages: dict[str, StageDefinition] = {}
    for line, row in read_rows(path)[1]:
        deal = deals.get(line)
        if deal is None or deal.stage in stages:
            continue
        won, closed = c.boolean(row.get("IsWon")), c.boolean(row.get("IsClosed"))
        p = 100 if won else 0 if closed else deal.probability or 0
        stages[deal.stage] = c.stage(0, deal.stage, p, won=won, lost=closed and not won)
    return list(stages.values())


def _history(path: Path) -> Parsed:
    """OpportunityHistory: each row whose StageName differs from the row before it (of the same
    opportunity, by CreatedDate) is a stage change from that stage; an opportunity's first row
    is the stage it started in. Rows that change only the amount or the close date are none."""
    out = Parsed()
    header, rows = read_rows(path)
    out.files.append(
        {"path": str(path), "sha256": sha256(path), "rows": len(rows), "object": "OpportunityHistory"}
    )
    need = ("Id", "OpportunityId", "StageName", "CreatedDate")
    missing = [n for n in need if n not in header]
    if missing:
        out.bad.append(BadRow(file=str(path), line=1, reason=f"missing columns: {', '.join(missing)}"))
        return out
    good = []
    for line, row in rows:
        if "__error__" in row:
            out.bad.append(BadRow(file=str(path), line=line, reason=str(row["__error__"])))
            continue
        if c.boolean(row.get("IsDeleted")):
            continue
        blank = [n for n in need if not row.get(n)]
        try:
            if blank:
                raise ValueError(f"{', '.join(blank)}: missing")
            at = c.time(row["CreatedDate"])
        except ValueError as exc:
            reason_ = str(exc) if blank else f"CreatedDate: {exc}"
            out.bad.append(BadRow(file=str(path), line=line, reason=reason_))
            continue
        good.append((str(row["OpportunityId"]), at, line, row))
    previous: dict[str, str] = {}
    for opportunity, at, line, row in sorted(good, key=lambda g: (g[0], g[1], g[2])):
        stage_name = str(row["StageName"]).strip()
        before = previous.get(opportunity)
        if before == stage_name:
            continue
        previous[opportunity] = stage_name
        try:
            record = StageChangeRecord(
                object="OpportunityHistory",
                external_id=str(row["Id"]),
                deal_ref=opportunity,
                deal_object="Opportunity",
                from_stage=before,
                to_stage=stage_name,
                at=at,
            )
        except ValidationError as exc:
            out.bad.append(BadRow(file=str(path), line=line, reason=reason(exc)))
            continue
        out.records.append(c.located(record, path, line))
    return out


def read_one(path: Path) -> tuple[str | None, Parsed, list[StageDefinition]]:
    """One file's object, its records, and the opportunity stages it shows in order."""
    header = c.header_of(path)
    obj = object_of(path, header)
    if obj is None:
        return None, c.unknown_file(path, "Salesforce", ", ".join(OBJECTS)), []
    if obj == "OpportunityHistory":
        part = _history(path)
        changes = [loc.record for loc in part.records if isinstance(loc.record, StageChangeRecord)]
        return obj, part, [c.stage(0, r.to_stage, 0) for r in sorted(changes, key=lambda r: r.at)]
    record, fields, entity = MAPS[obj]
    deleted = c.present(header, c.col("IsDeleted"))
    fmap = c.file_map(
        header,
        record,
        obj,
        fields,
        constants=CONSTANTS.get(obj),
        custom_entity=entity,
        ignore=(*SYSTEM_COLUMNS, "IsWon") if obj == "Opportunity" else SYSTEM_COLUMNS,
        skip=(lambda row: c.boolean(row.get(deleted))) if deleted else None,
    )
    part = read_file(path, fmap)
    return obj, part, _opportunity_stages(path, part) if obj == "Opportunity" else []


def read(paths: list[Path]) -> Parsed:
    """Every record of a set of Salesforce export files, and the `Salesforce` pipeline when
    opportunities or their history are among them. A stage the data uses that is not standard
    is added in order of first appearance (the stage history's, by time, first): open ones
    before Closed Won, closed ones (IsClosed on an opportunity in it) after Closed Lost."""
    out = Parsed()
    history: list[StageDefinition] = []
    described: dict[str, StageDefinition] = {}  # as the first opportunity in the stage says
    deals = False
    for path in paths:
        obj, part, stages = read_one(path)
        out.extend(part)
        deals |= obj in ("Opportunity", "OpportunityHistory")
        if obj == "OpportunityHistory":
            history += stages
        for s in stages if obj == "Opportunity" else []:
            described.setdefault(s["name"], s)
    if deals:
        names = dict.fromkeys([s["name"] for s in history] + list(described))
        seen = [described.get(n) or c.stage(0, n, 0) for n in names]
        out.pipelines[PIPELINE] = c.with_stages(SALES_PIPELINE, seen)
    return out
