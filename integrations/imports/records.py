"""Canonical records: what every import format produces, whatever the source's columns.

Each record names the other system's id of what it stands for (`external_id`) and refers to
other records by theirs (`customer_ref`, `deal_ref`...): the writer resolves references through
`crm.external_ids`, so a deal may come in a later file, or a later import, than its account.
Validation is pydantic's: a value that does not fit is a bad row with the field's reason.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from crm.enums import (
    Channel,
    CustomerStage,
    DealActivityType,
    LeadActivityType,
    LeadStatus,
    TicketPriority,
    TicketStatus,
)
from crm.keys.blind_index import normalise_email

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    """Naive times are UTC; anything outside 1900-2200 is a bad row (as in the API)."""
    v = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not EARLIEST <= v < LATEST:
        raise ValueError("must be between 1900 and 2200")
    return v.astimezone(UTC)


Timestamp = Annotated[datetime, AfterValidator(_utc)]
Text = Annotated[str, Field(max_length=10_000)]
Name = Annotated[str, Field(min_length=1, max_length=500)]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e15"), decimal_places=2)]
Ref = Annotated[str, Field(min_length=1, max_length=255)]


class Record(BaseModel):
    """One record of another system. `entity`: the crm table it becomes (None: events only)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    entity: ClassVar[str | None]
    object: str = Field(min_length=1, max_length=100, description="the other system's object name")
    external_id: Ref
    custom: dict[str, Any] = Field(default_factory=dict, description="typed custom properties")


class CustomerRecord(Record):
    """An account or a buying customer -> crm.customers (matched to an existing row by e-mail)."""

    entity: ClassVar[str | None] = "customers"
    email: str | None = Field(None, max_length=320)
    first_name: str | None = Field(None, max_length=500)
    last_name: str | None = Field(None, max_length=500)
    company: str | None = Field(None, max_length=500)
    phone: str | None = Field(None, max_length=100)
    industry: str | None = Field(None, max_length=200)
    company_size: int | None = Field(None, ge=0, le=10_000_000)
    country: str | None = Field(None, max_length=100)
    lifecycle_stage: CustomerStage = CustomerStage.ACTIVE
    became_customer_at: Timestamp | None = None
    churned_at: Timestamp | None = None
    mrr: Money = Decimal(0)
    created_at: Timestamp | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return _email(v) if v else None


class LeadRecord(Record):
    """A person who may buy -> crm.leads."""

    entity: ClassVar[str | None] = "leads"
    email: str = Field(max_length=320)
    first_name: str | None = Field(None, max_length=500)
    last_name: str | None = Field(None, max_length=500)
    company: str | None = Field(None, max_length=500)
    phone: str | None = Field(None, max_length=100)
    source: str = Field("import", min_length=1, max_length=100)
    status: LeadStatus = LeadStatus.NEW
    customer_ref: Ref | None = Field(None, description="external id of the customer (account) record")
    customer_object: str | None = None
    created_at: Timestamp | None = None
    converted_at: Timestamp | None = None
    last_activity_at: Timestamp | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        return _email(v)


class DealRecord(Record):
    """An opportunity -> crm.deals, in the pipeline named (created from `stages` if missing)."""

    entity: ClassVar[str | None] = "deals"
    name: Name
    value: Money
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    pipeline: Name
    stage: Name
    probability: int | None = Field(None, ge=0, le=100)
    customer_ref: Ref | None = None
    customer_object: str | None = None
    lead_ref: Ref | None = None
    lead_object: str | None = None
    expected_close_date: Timestamp | None = None
    actual_close_date: Timestamp | None = None
    lost_reason: str | None = Field(None, max_length=2_000)
    description: Text | None = None
    created_at: Timestamp | None = None


class StageChangeRecord(Record):
    """A deal's move between stages (stage history) -> a STAGE_CHANGED deal activity."""

    entity: ClassVar[str | None] = "deal_activities"
    deal_ref: Ref
    deal_object: str
    from_stage: str | None = Field(None, max_length=500)
    to_stage: Name
    at: Timestamp


class ActivityRecord(Record):
    """A call, e-mail, meeting, task or note on a lead or a deal -> a lead or deal activity."""

    entity: ClassVar[str | None] = "activities"
    parent: Literal["lead", "deal"]
    parent_ref: Ref
    parent_object: str
    type: LeadActivityType | DealActivityType
    description: Text = Field(min_length=1)
    at: Timestamp
    metadata: dict[str, Any] = Field(default_factory=dict)


class TicketRecord(Record):
    """A support ticket or case -> `tickets` contract events (created, resolved)."""

    entity: ClassVar[str | None] = None
    customer_ref: Ref | None = None
    customer_object: str | None = None
    subject: str = Field("(no subject)", max_length=500)
    status: TicketStatus = TicketStatus.OPEN
    priority: TicketPriority = TicketPriority.NORMAL
    channel: Channel = Channel.EMAIL
    category: str | None = Field(None, max_length=100)
    created_at: Timestamp
    resolved_at: Timestamp | None = None


class CampaignRecord(Record):
    """A marketing campaign -> crm.marketing_campaigns."""

    entity: ClassVar[str | None] = "marketing_campaigns"
    name: Name
    type: str = "EMAIL"
    status: str = "COMPLETED"
    budget: Money | None = None
    start_date: Timestamp | None = None
    end_date: Timestamp | None = None
    created_at: Timestamp | None = None


class TransactionRecord(Record):
    """One order of a customer -> a won deal of the `Orders` pipeline for that customer
    (created from the transaction's customer id when the CRM does not know it yet)."""

    entity: ClassVar[str | None] = "deals"
    customer_ref: Ref
    customer_object: str = "customer"
    at: Timestamp
    amount: Money
    product: str | None = Field(None, max_length=500)
    quantity: int | None = Field(None, ge=0)


ANY_RECORD = (
    CustomerRecord
    | LeadRecord
    | DealRecord
    | StageChangeRecord
    | ActivityRecord
    | TicketRecord
    | CampaignRecord
    | TransactionRecord
)

ORDER: tuple[type[Record], ...] = (
    CustomerRecord,
    LeadRecord,
    CampaignRecord,
    DealRecord,
    TransactionRecord,
    StageChangeRecord,
    ActivityRecord,
    TicketRecord,
)
"""The order records are written in, so that a reference names a row already written."""


def _email(v: str) -> str:
    """The address as the CRM compares addresses (`normalise_email`, as its blind index does).
    A bad one's reason leaves the value out: import runs and the sync's retry queue keep the
    reasons, and an address with a typo still names a person."""
    v = normalise_email(v)
    if v.count("@") != 1 or not v.split("@")[1] or " " in v:
        raise ValueError("not an e-mail address (one @, a domain after it, no spaces)")
    return v


class BadRow(BaseModel):
    """A row that cannot be imported: where it is and why."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int = Field(description="1-based line of the file (the header is line 1)")
    reason: str


def day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)
