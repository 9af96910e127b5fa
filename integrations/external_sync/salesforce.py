"""Salesforce through `simple-salesforce` (REST API): SOQL `query` by `SystemModstamp`, oldest
first, paged by `nextRecordsUrl`; deletions by `queryAll` (`IsDeleted = true`, the recycle bin);
sobject create / update / delete.

Fields are read under their API names, which `integrations.imports.formats.salesforce` maps as it
maps a Data Export's columns (one export file per object). An opportunity's stage history is its
OpportunityHistory rows; each page of changed history rows is read with the earlier rows of the
same opportunities, so a change's previous stage is known.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

from crm.enums import CustomerStage, LeadStatus
from integrations.external_sync import salesforce_out as out_
from integrations.external_sync.provider import Outbound, Pushed, VendorRecord, http_retry
from integrations.imports.formats import salesforce as fmt

PAGE = 2000
MODIFIED = "SystemModstamp"
FIELDS: dict[str, list[str]] = {
    "Account": ["Name", "Phone", "Industry", "NumberOfEmployees", "BillingCountry", "Type", "CreatedDate"],
    "Contact": ["Email", "FirstName", "LastName", "Phone", "LeadSource", "AccountId", "CreatedDate"],
    "Lead": [
        "Email",
        "FirstName",
        "LastName",
        "Company",
        "Phone",
        "LeadSource",
        "Status",
        "IsConverted",
        "ConvertedAccountId",
        "ConvertedDate",
        "CreatedDate",
    ],
    "Opportunity": [
        "Name",
        "Amount",
        "StageName",
        "Probability",
        "AccountId",
        "ContactId",
        "CloseDate",
        "IsClosed",
        "IsWon",
        "Description",
        "CreatedDate",
    ],
    "OpportunityHistory": ["OpportunityId", "StageName", "Amount", "CloseDate", "CreatedDate"],
    "Task": [
        "WhatId",
        "WhoId",
        "Subject",
        "Description",
        "Status",
        "TaskSubtype",
        "Type",
        "ActivityDate",
        "CompletedDateTime",
        "CreatedDate",
    ],
    "Event": [
        "WhatId",
        "WhoId",
        "Subject",
        "Description",
        "EventSubtype",
        "Type",
        "StartDateTime",
        "ActivityDate",
        "CreatedDate",
    ],
    "Case": [
        "CaseNumber",
        "Subject",
        "Status",
        "IsClosed",
        "Priority",
        "Origin",
        "Type",
        "Reason",
        "AccountId",
        "CreatedDate",
        "ClosedDate",
    ],
}
"""Object -> the fields read (Id and SystemModstamp besides), in the order references need."""
DELETABLE = ("Account", "Contact", "Lead", "Opportunity")
"""Objects whose deletion marks a CRM row (activities and cases are history)."""
WRITABLE: dict[str, tuple[str, ...]] = {
    "Account": ("Name", "Phone", "Industry", "NumberOfEmployees", "BillingCountry", "Type"),
    "Contact": ("Email", "FirstName", "LastName", "Phone", "AccountId"),
    "Lead": ("Email", "FirstName", "LastName", "Company", "Phone", "Status"),
    "Opportunity": (
        "Name",
        "Amount",
        "StageName",
        "Probability",
        "CloseDate",
        "Description",
        "AccountId",
        "ContactId",
    ),
    "Task": (
        "WhoId",
        "WhatId",
        "Subject",
        "Description",
        "TaskSubtype",
        "Type",
        "Status",
        "Priority",
        "ActivityDate",
    ),
    "Event": (
        "WhoId",
        "WhatId",
        "Subject",
        "Description",
        "EventSubtype",
        "Type",
        "StartDateTime",
        "EndDateTime",
    ),
    "Case": ("Subject", "Status", "Priority", "Origin", "Type", "AccountId", "ContactId"),
}
NOT_PROVIDED = "[not provided]"
"""What Salesforce's own web-to-lead puts in a required name it was not given."""

_ACCOUNT_TYPE = {CustomerStage.ACTIVE: "Customer - Direct", CustomerStage.PROSPECT: "Prospect"}
_LEAD_STATUS = {
    LeadStatus.NEW: "Open - Not Contacted",
    LeadStatus.CONTACTED: "Working - Contacted",
    LeadStatus.QUALIFIED: "Qualified",
    LeadStatus.PROPOSAL: "Working - Contacted",
    LeadStatus.NEGOTIATION: "Working - Contacted",
    LeadStatus.CONVERTED: "Closed - Converted",
    LeadStatus.LOST: "Closed - Not Converted",
}
"""A lead's status as a Lead Status: the inverse of the import's table."""


def _time(v: Any) -> datetime | None:
    if v is None or v == "":
        return None
    t = datetime.fromisoformat(str(v))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _soql_time(t: datetime) -> str:
    """A SOQL dateTime literal (whole seconds: SOQL takes no fraction), not quoted."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quoted(values: list[str]) -> str:
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v)


def _day(v: Any) -> str | None:
    if isinstance(v, datetime):
        return v.astimezone(UTC).date().isoformat()
    return v.isoformat() if isinstance(v, date) else None


class SalesforceProvider:
    system = fmt.SYSTEM
    objects: tuple[str, ...] = tuple(FIELDS)
    tables: ClassVar[dict[str, str]] = {
        "customers": "Account",
        "leads": "Contact",
        "deals": "Opportunity",
        "lead_activities": "Task",
        "deal_activities": "Task",
    }
    """CRM table -> the sobject its rows are pushed as (a lead a Lead without an Account, a
    meeting an Event)."""
    ticket_object = "Case"

    def __init__(self, credentials: dict[str, Any], base_url: str | None, settings: dict[str, Any]) -> None:
        session = requests.Session()
        retry = http_retry(
            int(settings.get("http_attempts", 6)),
            float(settings.get("backoff_s", 0.5)),
            float(settings.get("backoff_max_s", 30)),
        )
        session.mount("https://", HTTPAdapter(max_retries=retry))
        if settings.get("ca_bundle"):  # a private CA; requests lets REQUESTS_CA_BUNDLE win unless
            session.verify, session.trust_env = str(settings["ca_bundle"]), False
        self.sf = Salesforce(
            instance_url=base_url or credentials["instance_url"],
            session_id=credentials.get("session_id") or credentials["access_token"],
            session=session,
            version=str(settings.get("api_version", "59.0")),
        )
        self.page = int(settings.get("page_size", PAGE))

    # inbound ------------------------------------------------------------------------------
    def export_name(self, obj: str) -> str:
        return f"{obj}.csv"

    def _pages(self, soql: str, include_deleted: bool = False) -> Iterator[list[dict[str, Any]]]:
        """The query's records a page at a time, following `nextRecordsUrl`."""
        headers = {"Sforce-Query-Options": f"batchSize={self.page}"}
        answer = self.sf.query(soql, include_deleted=include_deleted, headers=headers)
        while True:
            yield answer["records"]
            if answer["done"]:
                return
            answer = self.sf.query_more(answer["nextRecordsUrl"], identifier_is_url=True, headers=headers)

    def _select(self, obj: str, where: str) -> str:
        fields = ", ".join(["Id", MODIFIED, *FIELDS[obj]])
        return f"SELECT {fields} FROM {obj} WHERE {where} ORDER BY {MODIFIED} ASC, Id ASC"

    @staticmethod
    def _record(obj: str, r: dict[str, Any]) -> VendorRecord:
        updated = _time(r[MODIFIED])
        assert updated is not None
        row = {"Id": str(r["Id"])} | {k: _text(r.get(k)) for k in FIELDS[obj]}
        return VendorRecord(obj, str(r["Id"]), row, updated)

    def changed(self, obj: str, since: datetime | None) -> Iterator[list[VendorRecord]]:
        """Pages of the records modified at or after `since` (all when None), oldest first. SOQL
        compares whole seconds, so the query asks from the second and the rest is dropped here."""
        where = f"{MODIFIED} >= {_soql_time(since)}" if since else f"{MODIFIED} != null"
        for records in self._pages(self._select(obj, where)):
            page = [self._record(obj, r) for r in records]
            page = [r for r in page if since is None or r.updated_at >= since]
            if page and since and obj == "OpportunityHistory":
                page = self._with_earlier_history(page, since)
            if page:
                yield page

    def _with_earlier_history(self, page: list[VendorRecord], since: datetime) -> list[VendorRecord]:
        """The page and the rows before `since` of the same opportunities (read before)."""
        opportunities = sorted({str(r.row["OpportunityId"]) for r in page})
        earlier = [
            self._record("OpportunityHistory", r)
            for records in self._pages(
                self._select("OpportunityHistory", f"OpportunityId IN ({_quoted(opportunities)})")
            )
            for r in records
            if (_time(r[MODIFIED]) or since) < since
        ]
        return earlier + page

    def fetch(self, obj: str, ids: list[str]) -> list[VendorRecord]:
        out: list[VendorRecord] = []
        for i in range(0, len(ids), 200):
            where = f"Id IN ({_quoted(ids[i : i + 200])})"
            out += [
                self._record(obj, r) for records in self._pages(self._select(obj, where)) for r in records
            ]
        return out

    def archived(self, obj: str) -> list[VendorRecord]:
        """The records in the recycle bin (queryAll, `IsDeleted = true`)."""
        if obj not in DELETABLE:
            return []
        soql = f"SELECT Id, {MODIFIED} FROM {obj} WHERE IsDeleted = true ORDER BY {MODIFIED} ASC, Id ASC"
        out = []
        for records in self._pages(soql, include_deleted=True):
            for r in records:
                at = _time(r[MODIFIED]) or datetime.now(UTC)
                out.append(VendorRecord(obj, str(r["Id"]), {}, at, at))
        return out

    # outbound -----------------------------------------------------------------------------
    def outbound(self, table: str, row: dict[str, Any], refs: dict[str, str | None]) -> Outbound | None:
        """A CRM row as sobject fields: a customer an Account, a lead a Contact of its
        customer's Account (a Lead when it has none), a deal an Opportunity, an activity a Task or
        an Event (None: one Salesforce records itself)."""
        if table in ("lead_activities", "deal_activities"):
            made = out_.activity(table, row, refs)
            return Outbound(made[0], {k: _text(v) for k, v in made[1].items()}) if made else None
        if table == "customers":
            name = row.get("company") or " ".join(filter(None, [row.get("first_name"), row.get("last_name")]))
            fields: dict[str, Any] = {
                "Name": name or NOT_PROVIDED,
                "Phone": row.get("phone"),
                "Industry": row.get("industry"),
                "NumberOfEmployees": row.get("company_size"),
                "BillingCountry": row.get("country"),
                "Type": _ACCOUNT_TYPE.get(CustomerStage(row["lifecycle_stage"]), "Other"),
            }
            obj = "Account"
        elif table == "leads":
            account = refs.get("customer_id")
            fields = {
                "Email": row.get("email"),
                "FirstName": row.get("first_name"),
                "LastName": row.get("last_name") or NOT_PROVIDED,
                "Phone": row.get("phone"),
                "AccountId": account,
                "Company": row.get("company") or NOT_PROVIDED,
                "Status": _LEAD_STATUS[LeadStatus(row["status"])],
            }
            obj = "Contact" if account else "Lead"
        elif table == "deals":
            contact = refs.get("lead_id")
            fields = {
                "Name": row.get("name"),
                "Amount": row.get("value"),
                "StageName": self._stage(row),
                "Probability": row.get("probability"),
                "CloseDate": _day(row.get("actual_close_date") or row.get("expected_close_date"))
                or (datetime.now(UTC) + timedelta(days=30)).date().isoformat(),
                "Description": row.get("description"),
                "AccountId": refs.get("customer_id"),
                "ContactId": contact if contact and fmt._object(contact) == "Contact" else None,
            }
            obj = "Opportunity"
        else:
            return None
        return Outbound(obj, {k: _text(v) for k, v in fields.items() if v is not None})

    @staticmethod
    def ticket_outbound(ticket: dict[str, Any], refs: dict[str, str | None]) -> Outbound:
        """A ticket's latest state (a `tickets` event payload) as a Case on its Account."""
        fields = out_.case(ticket, refs.get("customer_id"), refs.get("lead_id"))
        return Outbound("Case", {k: _text(v) for k, v in fields.items() if v is not None})

    @staticmethod
    def _stage(row: dict[str, Any]) -> str:
        """The CRM stage as an opportunity stage: the same name when Salesforce has it, else the
        won or lost stage, else the open standard stage nearest in probability."""
        if row["stage"] in fmt.STANDARD_STAGES:
            return str(row["stage"])
        stage = row.get("_stage") or {}
        if stage.get("is_won"):
            return "Closed Won"
        if stage.get("is_lost"):
            return "Closed Lost"
        p = int(row.get("probability") or 0)
        open_ = [(n, q) for n, q in fmt.STANDARD_STAGES.items() if not n.startswith("Closed")]
        return min(open_, key=lambda s: abs(s[1] - p))[0]

    def push(self, out: Outbound, external_id: str | None) -> Pushed:
        """Create or update the sobject, then read its SystemModstamp (Salesforce answers a
        create with the id only and an update with no body)."""
        api = getattr(self.sf, out.object)
        body = {k: v for k, v in out.properties.items() if k in WRITABLE[out.object]}
        if external_id is None:
            external_id = str(api.create(body)["id"])
        else:
            api.update(external_id, {k: v for k, v in body.items() if k not in out_.CREATE_ONLY})
        at = _time(api.get(external_id)[MODIFIED])
        assert at is not None
        return Pushed(
            external_id, at, self._history_of(external_id, at) if out.object == "Opportunity" else []
        )

    def _history_of(self, opportunity: str, at: datetime) -> list[tuple[str, str, datetime]]:
        """The OpportunityHistory rows Salesforce wrote for the push (up to its time)."""
        where = f"OpportunityId = '{opportunity}' AND {MODIFIED} >= {_soql_time(at)}"
        rows = [
            self._record("OpportunityHistory", r)
            for page in self._pages(self._select("OpportunityHistory", where))
            for r in page
        ]
        return [(r.object, r.id, r.updated_at) for r in rows if r.updated_at <= at]

    def archive(self, obj: str, external_id: str) -> None:
        getattr(self.sf, obj).delete(external_id)
