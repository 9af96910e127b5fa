"""Webhooks out (per-tenant subscriptions and their deliveries) and in (received, verified requests); campaign deliveries."""

from __future__ import annotations

from crm.schema.base import metadata

__all__ = ["metadata"]
