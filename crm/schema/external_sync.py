"""External CRM sync: connections with encrypted credentials, cursors, runs and the retry queue."""

from __future__ import annotations

from crm.schema.base import metadata

__all__ = ["metadata"]
