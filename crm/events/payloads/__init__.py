"""Payload models, one module per topic. Importing this package registers every event type."""

from crm.events.payloads import (  # noqa: F401  (imported for their registrations)
    conversations,
    crm_changes,
    deal_activities,
    lead_activities,
    tickets,
    tickets_enriched,
    usage,
    web,
)
from crm.events.payloads.base import Payload

__all__ = ["Payload"]
