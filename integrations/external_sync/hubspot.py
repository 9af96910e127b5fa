"""HubSpot through `hubspot-api-client`: CRM v3 objects search (by `hs_lastmodifieddate`,
paged by `after`), v4 batch association reads, object create / update / archive.

Properties are read under their internal names, which `integrations.imports.formats.hubspot`
maps as it maps an export's columns; a deal's `hs_date_entered_<stage>` values are its stage
history. Deals live in HubSpot's default pipeline. Engagements (calls, e-mails, meetings,
notes, tasks) are read with their deal and contact associations, tickets with their company
and contact ones; people's lead and deal activities are pushed as calls, meetings, tasks or
notes. Tickets made or changed in the CRM are pushed as tickets on their company and contact.

Searches and association reads take the SDK's raw answer (`_preload_content=False`, parsed
with orjson): the SDK's model deserialisation costs more than the rest of a page's handling.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import orjson
from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.objects import (
    AssociationSpec,
    Filter,
    FilterGroup,
    PublicAssociationsForObject,
    PublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)

from crm.enums import CustomerStage, DealActivityType, LeadActivityType, LeadStatus
from integrations.external_sync.provider import Outbound, Pushed, VendorRecord, http_retry
from integrations.imports.formats import hubspot as fmt

PAGE = 100
SEARCH_WINDOW = 10_000
"""HubSpot's search returns at most 10,000 results per query: past that, search again from
the last modification time seen."""
MODIFIED = "hs_lastmodifieddate"
STAGE_ENTERED = [f"hs_date_entered_{stage_id}" for stage_id in fmt.DEFAULT_STAGES]
PROPERTIES: dict[str, list[str]] = {
    "companies": [
        "name",
        "domain",
        "phone",
        "industry",
        "numberofemployees",
        "country",
        "lifecyclestage",
        "hs_lifecyclestage_customer_date",
        "createdate",
    ],
    "contacts": [
        "email",
        "firstname",
        "lastname",
        "company",
        "phone",
        "hs_lead_status",
        "lifecyclestage",
        "associatedcompanyid",
        "hs_lifecyclestage_customer_date",
        "createdate",
    ],
    "deals": [
        "dealname",
        "amount",
        "deal_currency_code",
        "pipeline",
        "dealstage",
        "hs_deal_stage_probability",
        "closedate",
        "hs_is_closed",
        "closed_lost_reason",
        "description",
        "createdate",
        *STAGE_ENTERED,
    ],
    "tickets": [
        "subject",
        "content",
        "hs_pipeline",
        "hs_pipeline_stage",
        "hs_ticket_priority",
        "hs_ticket_category",
        "source_type",
        "closed_date",
        "createdate",
    ],
    "calls": [
        "hs_timestamp",
        "hs_call_title",
        "hs_call_body",
        "hs_call_disposition",
        "hs_call_status",
        "hs_call_direction",
        "createdate",
    ],
    "emails": ["hs_timestamp", "hs_email_subject", "hs_email_text", "hs_email_direction", "createdate"],
    "meetings": ["hs_timestamp", "hs_meeting_title", "hs_meeting_body", "hs_meeting_outcome", "createdate"],
    "notes": ["hs_timestamp", "hs_note_body", "createdate"],
    "tasks": [
        "hs_timestamp",
        "hs_task_subject",
        "hs_task_body",
        "hs_task_status",
        "hs_task_type",
        "createdate",
    ],
}
ENGAGEMENTS = fmt.ACTIVITY_KINDS
OBJECTS = ("companies", "contacts", "deals", "tickets", *ENGAGEMENTS)
"""Everything synced, in the order references need (engagements name deals and contacts)."""
COMPANY_IDS, CONTACT_IDS, DEAL_IDS = "Associated Company IDs", "Associated Contact IDs", "Associated Deal IDs"
LINKS: dict[str, dict[str, str]] = {
    "deals": {"companies": COMPANY_IDS, "contacts": CONTACT_IDS},
    "tickets": {"companies": COMPANY_IDS, "contacts": CONTACT_IDS},
} | {e: {"deals": DEAL_IDS, "contacts": CONTACT_IDS} for e in ENGAGEMENTS}
"""Each object's associations read, as the export columns its mapping reads."""
ASSOCIATION_TYPE = {
    ("contacts", "companies"): 1,
    ("deals", "companies"): 5,
    ("deals", "contacts"): 3,
    ("calls", "contacts"): 194,
    ("calls", "deals"): 206,
    ("emails", "contacts"): 198,
    ("emails", "deals"): 210,
    ("meetings", "contacts"): 200,
    ("meetings", "deals"): 212,
    ("notes", "contacts"): 202,
    ("notes", "deals"): 214,
    ("tasks", "contacts"): 204,
    ("tasks", "deals"): 216,
    ("tickets", "contacts"): 16,
    ("tickets", "companies"): 26,
}
"""HubSpot-defined (primary) association type ids."""
TICKET_STAGE = {"OPEN": "1", "PENDING": "2", "RESOLVED": "4", "CLOSED": "4"}
TICKET_PRIORITY = {"LOW": "LOW", "NORMAL": "MEDIUM", "HIGH": "HIGH", "URGENT": "URGENT"}
TICKET_SOURCE = {"EMAIL": "EMAIL", "CHAT": "CHAT", "PHONE": "PHONE", "WEB": "FORM"}
"""A ticket's status (a stage of the default support pipeline), priority and channel as
HubSpot ticket property values: the inverse of the import's tables."""
SYSTEM_ACTIVITIES = {t for t in DealActivityType if t.value not in LeadActivityType.__members__}
"""Deal activities HubSpot records itself from the deal's own pushes: not pushed again."""
ANSWERED = "f240bbac-87c9-4f6e-bf70-924b57d47db7"
"""`hs_call_disposition` of HubSpot's default `Connected` outcome."""

_STAGE_ID = {label: sid for sid, (label, _) in fmt.DEFAULT_STAGES.items()}
_LIFECYCLE = {CustomerStage.ACTIVE: "customer", CustomerStage.PROSPECT: "lead"}
_LEAD_STATUS: dict[str, tuple[str | None, str]] = {
    LeadStatus.NEW: ("NEW", "lead"),
    LeadStatus.CONTACTED: ("IN_PROGRESS", "lead"),
    LeadStatus.QUALIFIED: (None, "salesqualifiedlead"),
    LeadStatus.PROPOSAL: ("OPEN_DEAL", "opportunity"),
    LeadStatus.NEGOTIATION: ("OPEN_DEAL", "opportunity"),
    LeadStatus.CONVERTED: (None, "customer"),
    LeadStatus.LOST: ("UNQUALIFIED", "other"),
}
"""A lead's status as (`hs_lead_status`, `lifecyclestage`): the inverse of the import's table."""


def _time(v: Any) -> datetime | None:
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    return fmt.c.time(str(v))


def _ms_text(t: datetime) -> str:
    return str(int(t.timestamp() * 1000))


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z") if t else None


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v)


class HubSpotProvider:
    system = fmt.SYSTEM
    objects: tuple[str, ...] = OBJECTS
    tables: ClassVar[dict[str, str]] = {
        "customers": "companies",
        "leads": "contacts",
        "deals": "deals",
        "lead_activities": "notes",
        "deal_activities": "notes",
    }
    """CRM table -> the HubSpot object its rows are pushed as (an activity's by its type)."""
    ticket_object = "tickets"

    def __init__(self, credentials: dict[str, Any], base_url: str | None, settings: dict[str, Any]) -> None:
        retry = http_retry(
            int(settings.get("http_attempts", 6)),
            float(settings.get("backoff_s", 0.5)),
            float(settings.get("backoff_max_s", 30)),
        )
        options: dict[str, Any] = {"access_token": credentials["access_token"], "retry": retry}
        if base_url:
            options["host"] = base_url.rstrip("/")
        self.client = HubSpot(**options)
        self.page = int(settings.get("page_size", PAGE))
        if "objects" in settings:
            self.objects = tuple(o for o in OBJECTS if o in settings["objects"])

    # inbound ------------------------------------------------------------------------------
    def export_name(self, obj: str) -> str:
        return f"{obj}.csv"

    def _records(self, obj: str, results: list[dict[str, Any]]) -> list[VendorRecord]:
        """Records of a search's raw results, with their associations as export columns; an
        engagement on neither a deal nor a contact has no place in the CRM and is left out."""
        out = []
        for r in results:
            props = r.get("properties") or {}
            updated = _time(props.get(MODIFIED)) or _time(r.get("updatedAt"))
            assert updated is not None
            row: dict[str, str | None] = {"hs_object_id": str(r["id"])}
            row |= {k: props.get(k) or None for k in PROPERTIES[obj]}
            out.append(VendorRecord(obj, str(r["id"]), row, updated, _time(r.get("archivedAt"))))
        if out and obj in LINKS:
            self._links(obj, out)
            if obj == "tickets":
                self._ticket_companies(out)
            if obj in ENGAGEMENTS:
                out = [r for r in out if r.row[DEAL_IDS] or r.row[CONTACT_IDS]]
        return out

    def _associated(self, frm: str, to: str, ids: list[str]) -> dict[str, list[str]]:
        """id -> the ids of `to` records associated with it (one v4 batch read)."""
        body = BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": i} for i in ids])
        raw = self.client.crm.associations.v4.batch_api.get_page(frm, to, body, _preload_content=False)
        answer = orjson.loads(raw.data)
        return {
            str(a["from"]["id"]): [str(t["toObjectId"]) for t in a.get("to") or []]
            for a in answer.get("results") or []
        }

    def _links(self, obj: str, records: list[VendorRecord]) -> None:
        for to, column in LINKS[obj].items():
            found = self._associated(obj, to, [r.id for r in records])
            for r in records:
                r.row[column] = ";".join(found.get(r.id, [])) or None

    def _ticket_companies(self, tickets: list[VendorRecord]) -> None:
        """A ticket on a contact only is its contact's company's."""
        orphans = [t for t in tickets if not t.row[COMPANY_IDS] and t.row[CONTACT_IDS]]
        contacts = sorted({str(t.row[CONTACT_IDS]).split(";")[0] for t in orphans})
        if not contacts:
            return
        companies = self._associated("contacts", "companies", contacts)
        for t in orphans:
            found = companies.get(str(t.row[CONTACT_IDS]).split(";")[0])
            t.row[COMPANY_IDS] = found[0] if found else None

    def _search(self, obj: str, request: PublicObjectSearchRequest) -> dict[str, Any]:
        raw = self.client.crm.objects.search_api.do_search(
            obj, public_object_search_request=request, _preload_content=False
        )
        answer: dict[str, Any] = orjson.loads(raw.data)
        return answer

    def changed(self, obj: str, since: datetime | None) -> Iterator[list[VendorRecord]]:
        """Pages of the records modified at or after `since` (all when None), oldest first.
        The searches run one page ahead in a thread while a page's associations are read and
        mapped (HubSpot answers while the sync works)."""
        pages: queue.Queue[list[dict[str, Any]] | BaseException | None] = queue.Queue(maxsize=4)
        stop = threading.Event()

        def search_all() -> None:
            try:
                for results in self._search_pages(obj, since):
                    while not stop.is_set():
                        try:
                            pages.put(results, timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                pages.put(None)
            except BaseException as exc:  # handed to the reader, who raises it
                pages.put(exc)

        reader = threading.Thread(target=search_all, name=f"hubspot-search-{obj}", daemon=True)
        reader.start()
        try:
            while (item := pages.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                page = self._records(obj, item)
                if page:
                    yield page
        finally:
            stop.set()
            reader.join(10)

    def _search_pages(self, obj: str, since: datetime | None) -> Iterator[list[dict[str, Any]]]:
        """The raw results of the searches, page by page. Past the search window the search
        starts again at the last time seen, leaving out the records already read at that time."""
        after: str | None = None
        start = since
        last: tuple[datetime | None, set[str]] = (None, set())  # the latest time read, its ids
        while True:
            filters = (
                [FilterGroup(filters=[Filter(property_name=MODIFIED, operator="GTE", value=_ms_text(start))])]
                if start
                else []
            )
            request = PublicObjectSearchRequest(
                filter_groups=filters,
                sorts=[MODIFIED],
                properties=[*PROPERTIES[obj], MODIFIED],
                limit=self.page,
                after=after,
            )
            answer = self._search(obj, request)
            fresh = []
            for r in answer.get("results") or []:
                at, rid = _time(r["properties"].get(MODIFIED)), str(r["id"])
                if at == last[0] and rid in last[1]:
                    continue  # read before the search started again
                fresh.append(r)
                last = (at, last[1] | {rid}) if at == last[0] else (at, {rid})
            if fresh:
                yield fresh
            nxt = (answer.get("paging") or {}).get("next", {}).get("after")
            if nxt is None:
                return
            if int(nxt) + self.page > SEARCH_WINDOW:  # the window is spent: search again from here
                if last[0] == start:
                    raise RuntimeError(f"more {obj} modified at {start} than HubSpot's search window")
                start, after = last[0], None
            else:
                after = nxt

    def fetch(self, obj: str, ids: list[str]) -> list[VendorRecord]:
        out: list[VendorRecord] = []
        for i in range(0, len(ids), self.page):
            chunk = ids[i : i + self.page]
            request = PublicObjectSearchRequest(
                filter_groups=[
                    FilterGroup(filters=[Filter(property_name="hs_object_id", operator="IN", values=chunk)])
                ],
                properties=[*PROPERTIES[obj], MODIFIED],
                limit=self.page,
            )
            out += self._records(obj, self._search(obj, request).get("results") or [])
        return out

    def archived(self, obj: str) -> list[VendorRecord]:
        """Archived companies, contacts and deals; an archived engagement or ticket leaves the
        activity or the ticket's events as they were."""
        out: list[VendorRecord] = []
        if obj == "tickets" or obj in ENGAGEMENTS:
            return out
        after: str | None = None
        while True:
            answer = self.client.crm.objects.basic_api.get_page(
                obj, limit=self.page, after=after, properties=["hs_object_id"], archived=True
            )
            out += [
                VendorRecord(
                    obj, str(r.id), {}, _time(r.updated_at) or datetime.now(UTC), _time(r.archived_at)
                )
                for r in answer.results or []
                if r.archived
            ]
            after = answer.paging.next.after if answer.paging and answer.paging.next else None
            if after is None:
                return out

    # outbound -----------------------------------------------------------------------------
    def outbound(self, table: str, row: dict[str, Any], refs: dict[str, str | None]) -> Outbound | None:
        """A CRM row as HubSpot properties; `refs`: the vendor ids of the rows it names. None:
        nothing to push (a deal activity HubSpot records itself)."""
        if table in ("lead_activities", "deal_activities"):
            return activity_outbound(table, row, refs)
        obj = self.tables[table]
        if table == "customers":
            props = {
                "name": row.get("company")
                or " ".join(filter(None, [row.get("first_name"), row.get("last_name")])),
                "phone": row.get("phone"),
                "industry": row.get("industry"),
                "numberofemployees": _text(row.get("company_size")),
                "country": row.get("country"),
                "lifecyclestage": _LIFECYCLE.get(CustomerStage(row["lifecycle_stage"]), "other"),
            }
            links: dict[str, str] = {}
        elif table == "leads":
            status, lifecycle = _LEAD_STATUS[LeadStatus(row["status"])]
            props = {
                "email": row.get("email"),
                "firstname": row.get("first_name"),
                "lastname": row.get("last_name"),
                "company": row.get("company"),
                "phone": row.get("phone"),
                "hs_lead_status": status,
                "lifecyclestage": lifecycle,
            }
            links = {"companies": v} if (v := refs.get("customer_id")) else {}
        else:
            props = {
                "dealname": row.get("name"),
                "amount": _text(row.get("value")),
                "deal_currency_code": row.get("currency"),
                "pipeline": "default",
                "dealstage": self._stage_id(row),
                "closedate": _iso(row.get("actual_close_date") or row.get("expected_close_date")),
                "closed_lost_reason": row.get("lost_reason"),
                "description": row.get("description"),
            }
            links = {
                k: v
                for k, v in (("companies", refs.get("customer_id")), ("contacts", refs.get("lead_id")))
                if v
            }
        return Outbound(obj, {k: v for k, v in props.items() if v is not None}, links)

    @staticmethod
    def ticket_outbound(ticket: dict[str, Any], refs: dict[str, str | None]) -> Outbound:
        """A ticket's latest state (a `tickets` event payload) as a ticket of the support pipeline
        on its company and contact."""
        props = {
            "subject": ticket.get("subject"),
            "content": ticket.get("body"),
            "hs_pipeline": "0",
            "hs_pipeline_stage": TICKET_STAGE.get(str(ticket.get("status")), "1"),
            "hs_ticket_priority": TICKET_PRIORITY.get(str(ticket.get("priority"))),
            "source_type": TICKET_SOURCE.get(str(ticket.get("channel"))),
        }
        links = {
            k: v for k, v in (("companies", refs.get("customer_id")), ("contacts", refs.get("lead_id"))) if v
        }
        return Outbound("tickets", {k: v for k, v in props.items() if v is not None}, links)

    @staticmethod
    def _stage_id(row: dict[str, Any]) -> str:
        """The CRM stage as a stage of HubSpot's default pipeline: the same label, else the won
        or lost stage, else the open stage nearest in probability."""
        if row["stage"] in _STAGE_ID:
            return _STAGE_ID[row["stage"]]
        stage = row.get("_stage") or {}
        if stage.get("is_won"):
            return "closedwon"
        if stage.get("is_lost"):
            return "closedlost"
        p = int(row.get("probability") or 0)
        open_ = [
            (sid, prob)
            for sid, (label, prob) in fmt.DEFAULT_STAGES.items()
            if label not in (fmt.WON, fmt.LOST)
        ]
        return min(open_, key=lambda s: abs(s[1] - p))[0]

    def push(self, out: Outbound, external_id: str | None) -> Pushed:
        api = self.client.crm.objects.basic_api
        if external_id is None:
            associations = [
                PublicAssociationsForObject(
                    to=PublicObjectId(id=vid),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED",
                            association_type_id=ASSOCIATION_TYPE[(out.object, to)],
                        )
                    ],
                )
                for to, vid in out.associations.items()
            ]
            body = SimplePublicObjectInputForCreate(properties=out.properties, associations=associations)
            made = api.create(out.object, simple_public_object_input_for_create=body)
        else:
            made = api.update(
                out.object,
                external_id,
                simple_public_object_input=SimplePublicObjectInput(properties=out.properties),
            )
            self._relink(out, external_id)
        props = made.properties or {}
        at = _time(props.get(MODIFIED)) or _time(made.updated_at)
        assert at is not None
        return Pushed(str(made.id), at)

    def _relink(self, out: Outbound, external_id: str) -> None:
        """After an update, each association the CRM holds (a contact's or deal's company, a
        deal's contact) is the record's only one of its kind: the CRM's is added when missing,
        the others removed. A reference the CRM does not hold leaves HubSpot's as they are."""
        api = self.client.crm.associations.v4.basic_api
        for to, vid in out.associations.items():
            current = set(self._associated(out.object, to, [external_id]).get(external_id, []))
            if vid not in current:
                api.create_default(out.object, external_id, to, vid, _preload_content=False)
            for old in sorted(current - {vid}):
                api.archive(out.object, external_id, to, old)

    def archive(self, obj: str, external_id: str) -> None:
        self.client.crm.objects.basic_api.archive(obj, external_id)


def activity_outbound(table: str, row: dict[str, Any], refs: dict[str, str | None]) -> Outbound | None:
    """A lead or deal activity as a HubSpot engagement on the contact or deal: calls as calls,
    meetings as meetings, one with a `due_at` as a task, any other as a note."""
    kind = row["type"]
    if table == "deal_activities" and kind in SYSTEM_ACTIVITIES:
        return None
    parent, ref = (
        ("deals", refs.get("deal_id")) if table == "deal_activities" else ("contacts", refs.get("lead_id"))
    )
    if not ref:
        raise ValueError(f"its {parent[:-1]} is not in HubSpot yet")
    at = row["created_at"]
    meta = row.get("metadata") or {}
    text = row["description"]
    label = str(kind).replace("_", " ").capitalize()
    if kind in (LeadActivityType.CALL_MADE, LeadActivityType.CALL_ANSWERED):
        obj, props = (
            "calls",
            {
                "hs_timestamp": _iso(at),
                "hs_call_title": label,
                "hs_call_body": text,
                "hs_call_status": "COMPLETED",
                "hs_call_direction": "OUTBOUND",
                "hs_call_disposition": ANSWERED if kind == LeadActivityType.CALL_ANSWERED else None,
            },
        )
    elif kind in (LeadActivityType.MEETING_SCHEDULED, LeadActivityType.MEETING_COMPLETED):
        done = kind == LeadActivityType.MEETING_COMPLETED
        obj, props = (
            "meetings",
            {
                "hs_timestamp": _iso(at),
                "hs_meeting_title": text[:255],
                "hs_meeting_body": text,
                "hs_meeting_outcome": "COMPLETED" if done else "SCHEDULED",
            },
        )
    elif meta.get("due_at"):
        obj, props = (
            "tasks",
            {
                "hs_timestamp": str(meta["due_at"]),
                "hs_task_subject": text[:255],
                "hs_task_body": text,
                "hs_task_status": "NOT_STARTED",
                "hs_task_type": "TODO",
            },
        )
    else:
        body = text if kind == LeadActivityType.NOTE_ADDED else f"{label}: {text}"
        obj, props = "notes", {"hs_timestamp": _iso(at), "hs_note_body": body}
    return Outbound(obj, {k: v for k, v in props.items() if v is not None}, {parent: ref})
