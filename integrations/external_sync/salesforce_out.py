"""CRM activities and tickets as Salesforce sobjects: a lead's or deal's activity a Task
(calls, e-mails, notes, to-dos) or an Event (meetings) on its Contact or Lead (`WhoId`) or
Opportunity (`WhatId`); a ticket a Case on its Account. The inverse of what
`integrations.imports.formats.salesforce` reads, so a record read back maps to the same kind.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crm.enums import DealActivityType, LeadActivityType
from integrations.imports.formats import salesforce as fmt

SYSTEM_ACTIVITIES = {t for t in DealActivityType if t.value not in LeadActivityType.__members__}
"""Deal activities Salesforce records itself (stage, value, owner changes): not pushed."""
_CALLS = (LeadActivityType.CALL_MADE, LeadActivityType.CALL_ANSWERED)
_MEETINGS = (LeadActivityType.MEETING_SCHEDULED, LeadActivityType.MEETING_COMPLETED)
_EMAILS = (LeadActivityType.EMAIL_SENT, LeadActivityType.EMAIL_OPENED, LeadActivityType.EMAIL_CLICKED)
MEETING_MINUTES = 30
"""An Event needs an end: a meeting lasts this long unless its metadata says otherwise."""
CREATE_ONLY = ("TaskSubtype", "EventSubtype")
"""Salesforce takes an activity's subtype on create only."""

CASE_STATUS = {"OPEN": "New", "PENDING": "On Hold", "RESOLVED": "Closed", "CLOSED": "Closed"}
CASE_PRIORITY = {"LOW": "Low", "NORMAL": "Medium", "HIGH": "High", "URGENT": "High"}
CASE_ORIGIN = {
    "EMAIL": "Email",
    "PHONE": "Phone",
    "WEB": "Web",
    "CHAT": "Chat",
    "SOCIAL": "Social",
    "SMS": "SMS",
}
"""A ticket's status, priority and channel as Case picklist values (standard ones)."""


def _stamp(v: Any) -> str:
    t = v if isinstance(v, datetime) else datetime.fromisoformat(str(v))
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def activity(
    table: str, row: dict[str, Any], refs: dict[str, str | None]
) -> tuple[str, dict[str, Any]] | None:
    """(sobject, fields) of a lead or deal activity; None for one Salesforce records itself.
    Raises when its parent is not in Salesforce yet (the push is retried)."""
    kind = row["type"]
    if table == "deal_activities" and kind in SYSTEM_ACTIVITIES:
        return None
    ref = refs.get("deal_id") if table == "deal_activities" else refs.get("lead_id")
    if not ref:
        raise ValueError(f"its {'deal' if table == 'deal_activities' else 'lead'} is not in Salesforce yet")
    parent = {"WhatId": ref} if table == "deal_activities" else {"WhoId": ref}
    text = str(row["description"])
    meta = row.get("metadata") or {}
    label = str(kind).replace("_", " ").capitalize()
    at = _stamp(row["created_at"])
    if kind in _MEETINGS:
        start = datetime.fromisoformat(str(meta.get("start_at") or at))
        minutes = int(meta.get("duration_minutes") or MEETING_MINUTES)
        return "Event", parent | {
            "Subject": text[:255],
            "Description": text,
            "EventSubtype": "Event",
            "Type": "Meeting",
            "StartDateTime": _stamp(start),
            "EndDateTime": _stamp(start + timedelta(minutes=minutes)),
        }
    due = meta.get("due_at")
    subtype = "Call" if kind in _CALLS else "Email" if kind in _EMAILS else "Task"
    subject = text[:255] if due or kind == LeadActivityType.NOTE_ADDED else f"{label}: {text}"[:255]
    return "Task", parent | {
        "Subject": subject,
        "Description": text,
        "TaskSubtype": subtype,
        "Type": {"Call": "Call", "Email": "Email"}.get(subtype, "Other"),
        "Status": "Not Started" if due else "Completed",
        "Priority": "Normal",
        "ActivityDate": _stamp(due or at)[:10],
    }


def case(ticket: dict[str, Any], account: str | None, contact: str | None) -> dict[str, Any]:
    """Case fields of a ticket's latest state (a `tickets` event payload)."""
    return {
        "Subject": ticket.get("subject"),
        "Status": CASE_STATUS.get(str(ticket.get("status")), "New"),
        "Priority": CASE_PRIORITY.get(str(ticket.get("priority")), "Medium"),
        "Origin": CASE_ORIGIN.get(str(ticket.get("channel")), "Web"),
        "AccountId": account,
        "ContactId": contact if contact and fmt._object(contact) == "Contact" else None,
    }
