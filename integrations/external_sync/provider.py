"""What the sync needs from a vendor, whatever the vendor: changed records since a cursor, a
set of records by id, the archived ones, and pushing a CRM row (create, update, archive). A
provider may name the CRM tables it pushes (`tables`: table -> vendor object); without, the
engine pushes customers, leads and deals; `outbound` answers None for a row with nothing to push.

A vendor record carries its properties as an export row under the vendor's internal property
names (plus association columns), so the import formats (`integrations.imports.formats`) map it
into canonical records exactly as they map an export file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from urllib3.util.retry import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class VendorRecord:
    """One record as the vendor returned it."""

    object: str
    id: str
    row: dict[str, str | None]
    updated_at: datetime
    archived_at: datetime | None = None


@dataclass
class Pushed:
    """The vendor's answer to a push: the record's id and its new modification time."""

    id: str
    updated_at: datetime
    made: list[tuple[str, str, datetime]] = field(default_factory=list)
    """Other records the push made the vendor write (object, id, modification time), such as
    Salesforce's OpportunityHistory row of a stage change: their echoes are skipped too."""


@dataclass(frozen=True)
class Outbound:
    """A CRM row to push: its vendor object, properties and references by vendor id."""

    object: str
    properties: dict[str, str | None]
    associations: dict[str, str] = field(default_factory=dict)  # vendor object -> vendor id


class Provider(Protocol):
    system: str
    """The name in `crm.external_ids` (shared with `crm import` of the same vendor)."""
    objects: tuple[str, ...]
    """The vendor objects synced, in the order references need."""

    def changed(self, obj: str, since: datetime | None) -> Iterator[list[VendorRecord]]: ...
    def fetch(self, obj: str, ids: list[str]) -> list[VendorRecord]: ...
    def archived(self, obj: str) -> list[VendorRecord]: ...
    def export_name(self, obj: str) -> str: ...
    def outbound(self, table: str, row: dict[str, Any], refs: dict[str, str | None]) -> Outbound | None: ...
    def push(self, out: Outbound, external_id: str | None) -> Pushed: ...
    def archive(self, obj: str, external_id: str) -> None: ...


def http_retry(attempts: int, backoff: float, backoff_max: float) -> Retry:
    """The SDKs' HTTP retry: exponential backoff on 429 and 5xx, any method (the stand-ins and
    the vendors refuse before applying a change), honouring Retry-After."""
    return Retry(
        total=attempts,
        connect=attempts,
        read=attempts,
        status=attempts,
        backoff_factor=backoff,
        backoff_max=backoff_max,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
