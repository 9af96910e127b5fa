"""The Salesforce format on a hand-written Data Export (API field names): every object into its
records with Salesforce's picklists mapped, OpportunityHistory into stage changes, the
`Salesforce` pipeline with the stages the data adds, unmapped columns as typed custom
properties, and bad rows with their file, line and reason. No database: it only reads files."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

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
from integrations.imports.formats import salesforce
from integrations.imports.formats.base import Parsed
from integrations.imports.records import (
    ActivityRecord,
    CampaignRecord,
    CustomerRecord,
    DealRecord,
    LeadRecord,
    Record,
    StageChangeRecord,
    TicketRecord,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _read(folder: str) -> Parsed:
    return salesforce.read(sorted((FIXTURES / folder).glob("*.csv")))


@pytest.fixture(scope="module")
def good() -> Parsed:
    return _read("salesforce")


def _get(parsed: Parsed, obj: str, id_: str) -> Record:
    return next(
        loc.record for loc in parsed.records if (loc.record.object, loc.record.external_id) == (obj, id_)
    )


def _at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def test_every_object_is_read(good: Parsed) -> None:
    assert good.bad == []
    counts: dict[str, int] = {}
    for loc in good.records:
        counts[loc.record.object] = counts.get(loc.record.object, 0) + 1
    assert counts == {
        "Account": 10,  # the 11th is deleted (IsDeleted)
        "Lead": 10,
        "Contact": 10,
        "Opportunity": 12,
        "OpportunityHistory": 17,  # 18 rows, one changes only the amount
        "Task": 10,
        "Event": 10,
        "Case": 10,
        "Campaign": 10,
        "CampaignMember": 10,
    }
    assert salesforce.SYSTEM == "salesforce"


def test_accounts(good: Parsed) -> None:
    edge = _get(good, "Account", "0015g00000LmQzAAAV")
    assert isinstance(edge, CustomerRecord)
    assert (edge.company, edge.industry, edge.company_size, edge.country, edge.phone) == (
        "Edge Communications",
        "Electronics",
        1000,
        "USA",
        "(512) 757-6000",
    )
    assert edge.lifecycle_stage is CustomerStage.ACTIVE and edge.created_at == _at("2022-03-14 16:02:11")
    assert edge.custom["type"] == "Customer - Direct"  # kept: the stage folds it
    assert edge.custom["annualrevenue"] == 139000000 and edge.custom["active_c"] is True
    fifteen = _get(good, "Account", "0015g00000LmQzG")  # a 15-character id, as given
    assert isinstance(fifteen, CustomerRecord) and fifteen.lifecycle_stage is CustomerStage.PROSPECT
    partner = _get(good, "Account", "0015g00000LmQzHAAV")
    assert isinstance(partner, CustomerRecord) and partner.lifecycle_stage is CustomerStage.PROSPECT


def test_leads_and_contacts(good: Parsed) -> None:
    converted = _get(good, "Lead", "00Q5g00000B1aAAEAZ")
    assert isinstance(converted, LeadRecord)
    assert converted.status is LeadStatus.CONVERTED and converted.converted_at == _at("2022-06-07 00:00")
    assert (converted.customer_ref, converted.customer_object) == ("0015g00000LmQzDAAV", "Account")
    assert (converted.source, converted.company, converted.last_activity_at) == (
        "Purchased List",
        "Dickenson plc",
        _at("2022-06-05 00:00"),
    )
    statuses = {
        loc.record.external_id: loc.record.status  # type: ignore[attr-defined]
        for loc in good.records
        if loc.record.object == "Lead"
    }
    assert statuses["00Q5g00000B1aABEAZ"] is LeadStatus.CONTACTED
    assert statuses["00Q5g00000B1aACEAZ"] is LeadStatus.NEW
    assert statuses["00Q5g00000B1aAFEAZ"] is LeadStatus.LOST
    assert statuses["00Q5g00000B1aAIEAZ"] is LeadStatus.QUALIFIED
    working = _get(good, "Lead", "00Q5g00000B1aABEAZ")
    assert working.custom["status"] == "Working - Contacted" and working.customer_ref is None  # type: ignore[attr-defined]
    contact = _get(good, "Contact", "0035g00000Cc1ABAAZ")
    assert isinstance(contact, LeadRecord)
    assert (contact.email, contact.customer_ref, contact.customer_object, contact.source) == (
        "rose@edge.example",
        "0015g00000LmQzAAAV",
        "Account",
        "Trade Show",
    )
    assert contact.status is LeadStatus.NEW and contact.custom["title"] == "SVP Procurement"


def test_opportunities(good: Parsed) -> None:
    won = _get(good, "Opportunity", "0065g00000D1aABAAZ")
    assert isinstance(won, DealRecord)
    assert (won.name, won.value, won.stage, won.pipeline, won.probability) == (
        "Edge Emergency Generator",
        Decimal("75000.00"),
        "Closed Won",
        "Salesforce",
        100,
    )
    assert (won.customer_ref, won.customer_object, won.lead_ref, won.lead_object) == (
        "0015g00000LmQzAAAV",
        "Account",
        "0035g00000Cc1ABAAZ",
        "Contact",
    )
    assert won.expected_close_date == won.actual_close_date == _at("2023-05-15 00:00")
    assert won.currency == "USD"
    assert won.custom["forecastcategory"] == "Closed" and "iswon" not in won.custom
    open_ = _get(good, "Opportunity", "0065g00000D1aACAAZ")
    assert isinstance(open_, DealRecord) and open_.actual_close_date is None
    assert open_.custom["nextstep"] == "Legal review of MSA"
    no_amount = _get(good, "Opportunity", "0065g00000D1aALAAZ")
    assert isinstance(no_amount, DealRecord) and no_amount.value == Decimal(0)


def test_pipeline_has_standard_stages_and_the_datas(good: Parsed) -> None:
    stages = good.pipelines[salesforce.PIPELINE]
    assert [(s["order"], s["name"], s["probability"], s["is_won"], s["is_lost"]) for s in stages] == [
        (1, "Prospecting", 10, False, False),
        (2, "Qualification", 10, False, False),
        (3, "Needs Analysis", 20, False, False),
        (4, "Value Proposition", 50, False, False),
        (5, "Id. Decision Makers", 60, False, False),
        (6, "Perception Analysis", 70, False, False),
        (7, "Proposal/Price Quote", 75, False, False),
        (8, "Negotiation/Review", 90, False, False),
        (9, "Discovery", 15, False, False),  # open, not standard: before the closed ones
        (10, "Closed Won", 100, True, False),
        (11, "Closed Lost", 0, False, True),
        (12, "Closed - No Decision", 0, False, True),  # IsClosed, not IsWon
    ]


def test_opportunity_history_is_stage_changes(good: Parsed) -> None:
    changes = [loc.record for loc in good.records if isinstance(loc.record, StageChangeRecord)]
    edge = sorted((r for r in changes if r.deal_ref == "0065g00000D1aABAAZ"), key=lambda r: r.at)
    assert [(r.from_stage, r.to_stage, r.at) for r in edge] == [
        (None, "Prospecting", _at("2023-01-20 09:00")),
        ("Prospecting", "Qualification", _at("2023-02-14 10:00")),
        # 2023-03-01 changed only the amount: no stage change
        ("Qualification", "Proposal/Price Quote", _at("2023-03-22 10:00")),
        ("Proposal/Price Quote", "Closed Won", _at("2023-05-15 16:30")),
    ]
    assert {r.deal_object for r in changes} == {"Opportunity"}
    # rows out of time order in the file: ordered by CreatedDate
    sla = sorted((r for r in changes if r.deal_ref == "0065g00000D1aACAAZ"), key=lambda r: r.at)
    assert [(r.from_stage, r.to_stage) for r in sla] == [
        (None, "Qualification"),
        ("Qualification", "Needs Analysis"),
        ("Needs Analysis", "Negotiation/Review"),
    ]
    assert edge[1].external_id == "0085g00000F1002AAZ"


def test_tasks_and_events(good: Parsed) -> None:
    def act(obj: str, id_: str) -> ActivityRecord:
        r = _get(good, obj, id_)
        assert isinstance(r, ActivityRecord)
        return r

    call = act("Task", "00T5g00000G1aAAEAZ")
    assert (call.parent, call.parent_ref, call.parent_object, call.type) == (
        "deal",
        "0065g00000D1aACAAZ",
        "Opportunity",
        DealActivityType.CALL_MADE,
    )
    assert call.description == "Call about SLA terms: Walked through uptime credits"
    assert call.at == _at("2024-04-16 15:20") and call.metadata == {"subtype": "Call", "status": "Completed"}
    lead_call = act("Task", "00T5g00000G1aABEAZ")
    assert (lead_call.parent, lead_call.parent_object, lead_call.type) == (
        "lead",
        "Lead",
        LeadActivityType.CALL_MADE,
    )
    assert act("Task", "00T5g00000G1aACEAZ").type is LeadActivityType.EMAIL_SENT
    assert act("Task", "00T5g00000G1aADEAZ").type is LeadActivityType.EMAIL_SENT  # Task of Type Email
    todo = act("Task", "00T5g00000G1aAEEAZ")
    assert todo.type is DealActivityType.NOTE_ADDED and todo.at == _at("2024-07-01 00:00")  # due date
    assert act("Task", "00T5g00000G1aAGEAZ").type is LeadActivityType.EMAIL_SENT  # ListEmail
    on_account = act("Task", "00T5g00000G1aAIEAZ")  # WhatId an Account: the contact's
    assert (on_account.parent, on_account.parent_ref, on_account.parent_object) == (
        "lead",
        "0035g00000Cc1ABAAZ",
        "Contact",
    )
    fifteen = act("Task", "00T5g00000G1aAJEAZ")
    assert (fifteen.parent, fifteen.parent_ref) == ("deal", "0065g00000D1aAK")
    meeting = act("Event", "00U5g00000H1aAAEAZ")
    assert (meeting.parent, meeting.type, meeting.at) == (
        "deal",
        DealActivityType.MEETING_SCHEDULED,
        _at("2024-04-24 15:00"),
    )
    lead_meeting = act("Event", "00U5g00000H1aABEAZ")
    assert (lead_meeting.parent_object, lead_meeting.type) == ("Lead", LeadActivityType.MEETING_SCHEDULED)
    all_day = act("Event", "00U5g00000H1aAFEAZ")
    assert all_day.at == _at("2024-03-25 00:00")


def test_cases_are_tickets(good: Parsed) -> None:
    closed = _get(good, "Case", "5005g00000J1aAAAAZ")
    assert isinstance(closed, TicketRecord)
    assert (closed.status, closed.priority, closed.channel, closed.category) == (
        TicketStatus.CLOSED,
        TicketPriority.HIGH,
        Channel.PHONE,
        "Electrical",
    )
    assert (closed.created_at, closed.resolved_at) == (_at("2024-03-01 08:00"), _at("2024-03-02 12:00"))
    assert (closed.customer_ref, closed.customer_object) == ("0015g00000LmQzAAAV", "Account")
    escalated = _get(good, "Case", "5005g00000J1aACAAZ")
    assert isinstance(escalated, TicketRecord)
    assert (escalated.status, escalated.priority, escalated.channel) == (
        TicketStatus.OPEN,
        TicketPriority.URGENT,
        Channel.WEB,
    )
    on_hold = _get(good, "Case", "5005g00000J1aAEAAZ")
    assert isinstance(on_hold, TicketRecord) and on_hold.status is TicketStatus.PENDING
    chat = _get(good, "Case", "5005g00000J1aAFAAZ")
    assert isinstance(chat, TicketRecord) and (chat.channel, chat.category) == (Channel.CHAT, "Other")
    anonymous = _get(good, "Case", "5005g00000J1aAJAAZ")
    assert isinstance(anonymous, TicketRecord)
    assert anonymous.customer_ref is None and anonymous.priority is TicketPriority.NORMAL


def test_campaigns_and_members(good: Parsed) -> None:
    webinar = _get(good, "Campaign", "7015g00000E1aABAAZ")
    assert isinstance(webinar, CampaignRecord)
    assert (webinar.name, webinar.type, webinar.status, webinar.budget) == (
        "Spring Webinar Series",
        CampaignType.WEBINAR,
        CampaignStatus.ACTIVE,
        Decimal("15000.00"),
    )
    assert (webinar.start_date, webinar.end_date) == (_at("2024-03-01 00:00"), _at("2024-05-31 00:00"))
    kinds = {
        loc.record.external_id[-6:]: (loc.record.type, loc.record.status, loc.record.budget)  # type: ignore[attr-defined]
        for loc in good.records
        if loc.record.object == "Campaign"
    }
    assert kinds["aAAAAZ"] == (
        CampaignType.EMAIL,
        CampaignStatus.COMPLETED,
        Decimal("25000.00"),
    )  # Direct Mail
    assert kinds["aACAAZ"][:2] == (CampaignType.WEBINAR, CampaignStatus.SCHEDULED)  # Trade Show, Planned
    assert kinds["aAEAAZ"][0] == CampaignType.PAID_ADS
    assert kinds["aAGAAZ"][1] == CampaignStatus.CANCELLED
    assert kinds["aAHAAZ"] == (CampaignType.SOCIAL, CampaignStatus.ACTIVE, None)  # no budget
    assert kinds["aAJAAZ"][0] == CampaignType.CONTENT  # Other
    responded = _get(good, "CampaignMember", "00v5g00000K1aAAAAZ")
    assert isinstance(responded, ActivityRecord)
    assert (responded.parent, responded.parent_ref, responded.parent_object, responded.type) == (
        "lead",
        "0035g00000Cc1AAAAZ",
        "Contact",
        LeadActivityType.FORM_SUBMITTED,
    )
    assert responded.at == _at("2023-11-20 00:00")
    assert responded.metadata == {"campaign_external_id": "7015g00000E1aAAAAZ", "status": "Responded"}
    sent = _get(good, "CampaignMember", "00v5g00000K1aAEAAZ")
    assert isinstance(sent, ActivityRecord)
    assert (sent.parent_ref, sent.parent_object, sent.type, sent.at) == (
        "00Q5g00000B1aACEAZ",
        "Lead",
        LeadActivityType.EMAIL_SENT,
        _at("2024-03-01 08:00"),
    )


def test_custom_properties_are_typed_and_system_columns_left_out(good: Parsed) -> None:
    props = {(p.entity, p.key): p.type for p in good.properties}
    assert props[("customers", "annualrevenue")] == "integer"
    assert props[("customers", "sla_expiration_date_c")] == "date"
    assert props[("customers", "active_c")] == "boolean"
    assert props[("leads", "birthdate")] == "date"
    assert props[("deals", "ordernumber_c")] == "integer"
    assert props[("deals", "forecastcategory")] == "text"
    keys = {k for _, k in props}
    assert not keys & {
        "systemmodstamp",
        "createdbyid",
        "isdeleted",
        "lastmodifieddate",
        "id",
        "stagename",
        "email",
    }
    # tickets, activities and campaigns have no custom properties in the CRM
    assert {e for e, _ in props} == {"customers", "leads", "deals"}


def test_bad_rows_name_file_line_and_reason() -> None:
    parsed = _read("salesforce_bad")
    bad = {(Path(b.file).name, b.line): b.reason for b in parsed.bad}
    assert bad == {
        ("Lead.csv", 3): "email: Field required",
        ("Opportunity.csv", 3): "CloseDate: not a date or time: '31/06/2024'",
        ("Opportunity.csv", 4): "name: Field required",
        ("Opportunity.csv", 5): "Amount: not a number: 'twelve grand'",
        ("OpportunityHistory.csv", 3): "CreatedDate: not a date or time: 'Jan 5th'",
        ("OpportunityHistory.csv", 4): "StageName: missing",
        ("Notes.csv", 1): "not a Salesforce export this import reads: neither the file name nor the columns "
        "tell which of Account, Lead, Contact, Opportunity, Task, Event, Case, Campaign, CampaignMember, "
        "OpportunityHistory it holds",
    }
    assert sorted(loc.record.external_id for loc in parsed.records) == [
        "0065g00000Z9aAAAAZ",
        "0085g00000Z9001AAZ",
        "00Q5g00000Z9aAAEAZ",
    ]


def test_files_told_apart_by_columns(tmp_path: Path) -> None:
    f = tmp_path / "export_0042.csv"
    f.write_text(
        "Id,OpportunityId,CreatedDate,StageName\n0085g00000X1,0065g00000X1,2024-01-01T00:00:00Z,Prospecting\n"
    )
    g = tmp_path / "Account_2.csv"
    g.write_text("Id,Name\n0015g00000X1,Split Export Ltd\n")
    parsed = salesforce.read([f, g])
    assert parsed.bad == []
    assert [(loc.record.object, loc.record.external_id) for loc in parsed.records] == [
        ("OpportunityHistory", "0085g00000X1"),
        ("Account", "0015g00000X1"),
    ]
    assert salesforce.PIPELINE in parsed.pipelines
