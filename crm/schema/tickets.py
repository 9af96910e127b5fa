"""Tickets of the ticketing system as the CRM knows them: leads created from tickets."""

from __future__ import annotations

from crm.schema.base import metadata

__all__ = ["metadata"]
