"""Signals extracted from sales conversations and the deal updates they propose."""

from __future__ import annotations

from crm.schema.base import metadata

__all__ = ["metadata"]
