"""HubSpot through `hubspot-api-client`: CRM v3 objects search (by `hs_lastmodifieddate`,
paged by `after`), v4 batch association reads, object create / update / archive.

Properties are read under their internal names, which `integrations.imports.formats.hubspot`
maps as it maps an export's columns; a deal's `hs_date_entered_<stage>` values are its stage
history. Deals live in HubSpot's default pipeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

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

from crm.enums import CustomerStage, LeadStatus
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
}
DEAL_LINKS = {"companies": "Associated Company IDs", "contacts": "Associated Contact IDs"}
"""A deal's associations, as the export columns the deal mapping reads."""
ASSOCIATION_TYPE = {("contacts", "companies"): 1, ("deals", "companies"): 5, ("deals", "contacts"): 3}
"""HubSpot-defined (primary) association type ids."""

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
    objects: tuple[str, ...] = ("companies", "contacts", "deals")
    tables: ClassVar[dict[str, str]] = {"customers": "companies", "leads": "contacts", "deals": "deals"}

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

    # inbound ------------------------------------------------------------------------------
    def export_name(self, obj: str) -> str:
        return f"{obj}.csv"

    def _records(self, obj: str, results: list[Any]) -> list[VendorRecord]:
        out = []
        for r in results:
            props = dict(r.properties or {})
            updated = _time(props.pop(MODIFIED, None)) or _time(r.updated_at)
            assert updated is not None
            row: dict[str, str | None] = {"hs_object_id": str(r.id)}
            row |= {k: props.get(k) or None for k in PROPERTIES[obj]}
            out.append(VendorRecord(obj, str(r.id), row, updated, _time(getattr(r, "archived_at", None))))
        if obj == "deals" and out:
            self._deal_links(out)
        return out

    def _deal_links(self, deals: list[VendorRecord]) -> None:
        for to, column in DEAL_LINKS.items():
            body = BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": d.id} for d in deals])
            answer = self.client.crm.associations.v4.batch_api.get_page("deals", to, body)
            found = {str(a._from.id): [str(t.to_object_id) for t in a.to or []] for a in answer.results or []}
            for d in deals:
                d.row[column] = ";".join(found.get(d.id, [])) or None

    def changed(self, obj: str, since: datetime | None) -> Iterator[list[VendorRecord]]:
        """Pages of the records modified at or after `since` (all when None), oldest first."""
        after: str | None = None
        start = since
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
            answer = self.client.crm.objects.search_api.do_search(obj, public_object_search_request=request)
            page = self._records(obj, answer.results or [])
            if page:
                yield page
            nxt = answer.paging.next.after if answer.paging and answer.paging.next else None
            if nxt is None:
                return
            if int(nxt) + self.page > SEARCH_WINDOW:  # the window is spent: search again from here
                start, after = page[-1].updated_at, None
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
            answer = self.client.crm.objects.search_api.do_search(obj, public_object_search_request=request)
            out += self._records(obj, answer.results or [])
        return out

    def archived(self, obj: str) -> list[VendorRecord]:
        out: list[VendorRecord] = []
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
    def outbound(self, table: str, row: dict[str, Any], refs: dict[str, str | None]) -> Outbound:
        """A CRM row as HubSpot properties; `refs`: the vendor ids of the rows it names."""
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
        props = made.properties or {}
        at = _time(props.get(MODIFIED)) or _time(made.updated_at)
        assert at is not None
        return Pushed(str(made.id), at)

    def archive(self, obj: str, external_id: str) -> None:
        self.client.crm.objects.basic_api.archive(obj, external_id)
