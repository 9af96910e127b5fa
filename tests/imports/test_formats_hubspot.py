"""The HubSpot format on hand-written exports (labels and internal names): every object into its
records with HubSpot's values mapped, stage history from the deals' "Date entered" columns,
the default pipeline declared, unmapped columns as typed custom properties, and bad rows with
their file, line and reason. No database: the format only reads files."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from crm.enums import (
    Channel,
    CustomerStage,
    DealActivityType,
    LeadActivityType,
    LeadStatus,
    TicketPriority,
    TicketStatus,
)
from integrations.imports.formats import hubspot
from integrations.imports.formats.base import Parsed
from integrations.imports.records import (
    ActivityRecord,
    CustomerRecord,
    DealRecord,
    LeadRecord,
    Record,
    StageChangeRecord,
    TicketRecord,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _read(folder: str) -> Parsed:
    return hubspot.read(sorted((FIXTURES / folder).glob("*.csv")))


@pytest.fixture(scope="module")
def good() -> Parsed:
    return _read("hubspot")


def _by_id(parsed: Parsed, cls: type[Record]) -> dict[str, Record]:
    return {loc.record.external_id: loc.record for loc in parsed.records if isinstance(loc.record, cls)}


def _at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def test_every_file_is_read_without_a_bad_row(good: Parsed) -> None:
    assert good.bad == []
    counts = {
        cls.__name__: len(_by_id(good, cls)) for cls in (CustomerRecord, LeadRecord, DealRecord, TicketRecord)
    }
    assert counts == {"CustomerRecord": 10, "LeadRecord": 12, "DealRecord": 12, "TicketRecord": 10}
    activities = [loc.record for loc in good.records if isinstance(loc.record, ActivityRecord)]
    assert len(activities) == 14 + 10
    assert {f["object"] for f in good.files} == {
        "companies",
        "contacts",
        "deals",
        "tickets",
        "engagements",
        "calls",
    }
    assert hubspot.SYSTEM == "hubspot"


def test_companies_are_customers_with_lifecycle(good: Parsed) -> None:
    companies = _by_id(good, CustomerRecord)
    northwind = companies["18234567001"]
    assert isinstance(northwind, CustomerRecord)
    assert northwind.object == "companies"
    assert (northwind.company, northwind.industry, northwind.company_size, northwind.country) == (
        "Northwind Traders",
        "Retail",
        250,
        "United States",
    )
    assert northwind.lifecycle_stage is CustomerStage.ACTIVE
    assert northwind.became_customer_at == _at("2023-04-18 10:02")
    assert northwind.created_at == _at("2022-11-03 08:15")
    stages = {k: v.lifecycle_stage for k, v in companies.items()}  # type: ignore[attr-defined]
    assert stages["18234567006"] is CustomerStage.ACTIVE  # evangelist
    assert stages["18234567003"] is CustomerStage.PROSPECT  # opportunity
    assert stages["18234567010"] is CustomerStage.PROSPECT  # other


def test_contacts_are_leads_of_their_primary_company(good: Parsed) -> None:
    contacts = _by_id(good, LeadRecord)
    chloe = contacts["51003"]
    assert isinstance(chloe, LeadRecord)
    assert chloe.email == "chloe.martin@contoso-health.example"
    assert (chloe.customer_ref, chloe.customer_object) == ("18234567002", "companies")
    assert chloe.status is LeadStatus.CONVERTED  # lifecycle customer
    assert chloe.source == "Paid Search"
    assert chloe.converted_at == _at("2023-07-01 14:30")
    emma = contacts["51005"]
    assert isinstance(emma, LeadRecord)
    # no primary company: the first associated one
    assert emma.customer_ref == "18234567004"
    assert emma.status is LeadStatus.CONTACTED  # Attempted to Contact
    status = {k: v.status for k, v in contacts.items()}  # type: ignore[attr-defined]
    assert status["51002"] is LeadStatus.PROPOSAL  # Open Deal
    assert status["51009"] is LeadStatus.LOST  # Unqualified
    assert status["51008"] is LeadStatus.NEW  # subscriber, no lead status
    assert status["51011"] is LeadStatus.LOST  # Bad Timing wins over MQL
    ivan = contacts["51009"]
    assert isinstance(ivan, LeadRecord) and ivan.customer_ref is None and ivan.customer_object is None


def test_deals_map_stage_amount_and_associations(good: Parsed) -> None:
    deals = _by_id(good, DealRecord)
    won = deals["9001001"]
    assert isinstance(won, DealRecord)
    assert (won.name, won.value, won.pipeline, won.stage, won.probability) == (
        "Northwind - Annual platform",
        Decimal("48000.00"),
        "Sales Pipeline",
        "Closed Won",
        100,
    )
    assert (won.customer_ref, won.customer_object) == ("18234567001", "companies")
    assert (won.lead_ref, won.lead_object) == ("51001", "contacts")  # first of 51001;51002
    assert won.expected_close_date == won.actual_close_date == _at("2023-04-18 00:00")
    open_deal = deals["9001002"]
    assert isinstance(open_deal, DealRecord)
    assert open_deal.value == Decimal("15500.50") and open_deal.probability == 90
    assert open_deal.actual_close_date is None
    lost = deals["9001008"]
    assert isinstance(lost, DealRecord) and lost.lost_reason == "Chose a competitor"
    no_amount = deals["9001006"]
    assert isinstance(no_amount, DealRecord) and no_amount.value == Decimal(0)
    internal_pipeline = deals["9001012"]  # Pipeline given as its internal id `default`
    assert isinstance(internal_pipeline, DealRecord)
    assert internal_pipeline.pipeline == "Sales Pipeline" and internal_pipeline.probability is None


def test_stage_history_from_date_entered_columns(good: Parsed) -> None:
    changes = sorted(
        (loc.record for loc in good.records if isinstance(loc.record, StageChangeRecord)),
        key=lambda r: (r.deal_ref, r.at),
    )
    fabrikam = [(r.from_stage, r.to_stage, r.at) for r in changes if r.deal_ref == "9001004"]
    assert fabrikam == [
        (None, "Appointment Scheduled", _at("2023-06-01 09:30")),
        ("Appointment Scheduled", "Qualified To Buy", _at("2023-06-20 10:00")),
        ("Qualified To Buy", "Contract Sent", _at("2024-03-15 11:00")),
        ("Contract Sent", "Verbal Commit", _at("2024-04-25 17:45")),
    ]
    first = next(r for r in changes if r.deal_ref == "9001004")
    assert (first.object, first.external_id, first.deal_object) == (
        "deal_stage_history",
        "9001004:Appointment Scheduled",
        "deals",
    )
    assert len(changes) == 35
    assert len({(r.object, r.external_id) for r in changes}) == 35


def test_default_pipeline_declared_with_stages_the_data_adds(good: Parsed) -> None:
    stages = good.pipelines[hubspot.PIPELINE]
    assert [(s["name"], s["probability"], s["is_won"], s["is_lost"]) for s in stages] == [
        ("Appointment Scheduled", 20, False, False),
        ("Qualified To Buy", 40, False, False),
        ("Presentation Scheduled", 60, False, False),
        ("Decision Maker Bought-In", 80, False, False),
        ("Contract Sent", 90, False, False),
        ("Verbal Commit", 95, False, False),  # not a default stage: before the closed ones
        ("Closed Won", 100, True, False),
        ("Closed Lost", 0, False, True),
    ]
    assert [s["order"] for s in stages] == list(range(1, 9))


def test_tickets(good: Parsed) -> None:
    tickets = _by_id(good, TicketRecord)
    first = tickets["7701"]
    assert isinstance(first, TicketRecord)
    assert (first.subject, first.status, first.priority, first.channel, first.category) == (
        "Cannot export monthly report",
        TicketStatus.CLOSED,
        TicketPriority.HIGH,
        Channel.EMAIL,
        "PRODUCT_ISSUE",
    )
    assert first.resolved_at == _at("2024-03-03 09:00") and first.customer_ref == "18234567001"
    waiting = tickets["7702"]
    assert isinstance(waiting, TicketRecord)
    assert (waiting.status, waiting.priority) == (TicketStatus.PENDING, TicketPriority.NORMAL)
    form = tickets["7703"]
    assert isinstance(form, TicketRecord) and form.channel is Channel.WEB
    epoch = tickets["7705"]  # createdate in milliseconds, as HubSpot's API gives it
    assert isinstance(epoch, TicketRecord) and epoch.created_at == _at("2024-04-03 08:00")
    untitled = tickets["7708"]
    assert isinstance(untitled, TicketRecord)
    assert untitled.subject == "Question about API limits" and untitled.customer_ref is None


def test_activities_on_deals_and_contacts(good: Parsed) -> None:
    acts = {(loc.record.object, loc.record.external_id): loc.record for loc in good.records}

    def act(obj: str, id_: str) -> ActivityRecord:
        r = acts[(obj, id_)]
        assert isinstance(r, ActivityRecord)
        return r

    on_deal = act("calls", "3300001")
    assert (on_deal.parent, on_deal.parent_ref, on_deal.parent_object) == ("deal", "9001002", "deals")
    assert on_deal.type is DealActivityType.CALL_MADE
    assert on_deal.description == "Expansion scoping: Needs 40 more seats"
    assert on_deal.at == _at("2024-04-02 09:30")
    assert on_deal.metadata == {"hubspot_type": "calls", "status": "COMPLETED", "direction": "OUTBOUND"}
    answered = act("calls", "3300002")
    assert (answered.parent, answered.parent_object, answered.type) == (
        "lead",
        "contacts",
        LeadActivityType.CALL_ANSWERED,
    )
    assert act("calls", "3300003").type is LeadActivityType.CALL_MADE  # voicemail
    assert act("emails", "3300005").type is LeadActivityType.EMAIL_SENT
    assert act("meetings", "3300007").type is LeadActivityType.MEETING_COMPLETED
    assert act("meetings", "3300008").type is LeadActivityType.MEETING_SCHEDULED
    assert act("meetings", "3300006").type is DealActivityType.MEETING_SCHEDULED
    assert act("notes", "3300009").type is DealActivityType.NOTE_ADDED
    assert act("tasks", "3300011").type is LeadActivityType.CALL_MADE  # a call task
    assert act("tasks", "3300012").type is DealActivityType.EMAIL_SENT
    assert act("tasks", "3300013").type is LeadActivityType.NOTE_ADDED  # a to-do
    assert act("emails", "3300014").description == "Renewal signed"
    # the internal-name calls file: the answered outcome by its id
    assert act("calls", "4400001").type is DealActivityType.CALL_MADE
    assert act("calls", "4400002").type is LeadActivityType.CALL_ANSWERED
    assert act("calls", "4400005").description == "call (no text)"


def test_unmapped_columns_are_typed_custom_properties(good: Parsed) -> None:
    props = {(p.entity, p.key): p for p in good.properties}
    assert props[("customers", "annual_revenue")].type == "integer"
    assert props[("customers", "annual_revenue")].label == "Annual Revenue"
    assert props[("customers", "customer_tier")].type == "text"
    assert props[("leads", "nps_score")].type == "integer"
    assert props[("deals", "seats")].type == "integer"
    assert props[("deals", "multi_year")].type == "boolean"
    # mapped columns, stage history and ticket/activity columns are not custom properties
    keys = {k for _, k in props}
    assert not keys & {"email", "amount", "deal_stage", "lifecycle_stage", "record_id", "call_notes"}
    assert not any(k.startswith("date_entered") or k.startswith("date_exited") for k in keys)
    deal = _by_id(good, DealRecord)["9001001"]
    assert deal.custom == {
        "deal_owner": "Dana Reyes",
        "deal_type": "New Business",
        "seats": 120,
        "multi_year": True,
    }
    company = _by_id(good, CustomerRecord)["18234567002"]
    assert company.custom["annual_revenue"] == 98000000 and "type" not in company.custom  # blank


def test_bad_rows_name_file_line_and_reason() -> None:
    parsed = _read("hubspot_bad")
    bad = {(Path(b.file).name, b.line): b.reason for b in parsed.bad}
    assert bad == {
        ("contacts.csv", 3): "email: Field required",
        ("contacts.csv", 4): "Create Date: not a date or time: 'yesterday'",
        ("deals.csv", 3): "Amount: not a number: 'ten thousand'",
        ("deals.csv", 4): 'Date entered "Appointment Scheduled (Sales Pipeline)": not a date or time: '
        "'first of March'",
        ("deals.csv", 5): "name: Field required",
        ("calls.csv", 3): "Associated Deal IDs, Associated Contact IDs: no associated deal or contact",
        ("export-2024-05-02.csv", 1): "not a HubSpot export this import reads: neither the file name nor the "
        "columns tell which of contacts, companies, deals, tickets or activities it holds",
    }
    good_ids = sorted(loc.record.external_id for loc in parsed.records)
    assert good_ids == [
        "4500001",
        "61001",
        "61004",
        "9101",
        "9101:Appointment Scheduled",
        "9101:Closed Won",
        "9103",
    ]


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_internal_names_and_identification_by_columns(tmp_path: Path) -> None:
    """An API dump: internal property names, `hs_date_entered_<stage id>` history, and a file
    name that says nothing (told apart by its columns)."""
    f = _write(
        tmp_path / "dump-1.csv",
        [
            ["hs_object_id", "dealname", "dealstage", "pipeline", "amount", "closedate", "hs_deal_stage_probability",
             "hs_date_entered_appointmentscheduled", "hs_v2_date_entered_closedwon", "hs_v2_date_entered_current_stage",
             "hs_date_exited_appointmentscheduled", "hs_is_closed", "hs_is_closed_won", "hs_time_in_closedwon"],
            ["77", "API deal", "closedwon", "default", "1200.5", "1714000000000", "1.0",
             "1711000000000", "1714000000000", "1714000000000", "1714000000000", "true", "true", "86400"],
            ["78", "Other pipeline", "1234567", "98765", "10", "", "0.5",
             "", "", "", "", "false", "false", ""],
        ],
    )  # fmt: skip
    parsed = hubspot.read([f])
    assert parsed.bad == []
    deals = _by_id(parsed, DealRecord)
    d = deals["77"]
    assert isinstance(d, DealRecord)
    assert (d.stage, d.pipeline, d.value, d.probability) == (
        "Closed Won",
        "Sales Pipeline",
        Decimal("1200.50"),
        100,
    )
    assert d.actual_close_date == datetime.fromtimestamp(1714000000, tz=UTC)
    changes = [
        (r.from_stage, r.to_stage)
        for r in (loc.record for loc in parsed.records)
        if isinstance(r, StageChangeRecord)
    ]
    assert changes == [(None, "Appointment Scheduled"), ("Appointment Scheduled", "Closed Won")]
    assert [p.key for p in parsed.properties] == ["hs_time_in_closedwon"]
    other = parsed.pipelines["98765"]  # a pipeline HubSpot has beyond the default one
    assert [(s["name"], s["probability"], s["is_won"], s["is_lost"]) for s in other] == [
        ("1234567", 50, False, False)
    ]


def test_label_helpers() -> None:
    assert (
        hubspot.entered_stage('Date entered "Decision Maker Bought-In (Sales Pipeline)"')
        == "Decision Maker Bought-In"
    )
    assert hubspot.entered_stage("hs_date_entered_contractsent") == "Contract Sent"
    assert hubspot.entered_stage("hs_v2_date_entered_123456") == "123456"
    assert hubspot.entered_stage("hs_v2_date_entered_current_stage") is None
    assert hubspot.entered_stage("Date entered current stage") is None
    assert hubspot.lead_status("OPEN_DEAL", "customer") is LeadStatus.CONVERTED
    assert hubspot.lead_status(None, "salesqualifiedlead") is LeadStatus.QUALIFIED
    assert hubspot.lead_status("a custom status", None) is None
    assert hubspot.deal_stage("qualified to buy") == "Qualified To Buy"
