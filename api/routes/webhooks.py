"""Webhook subscriptions (out), deliveries and replay; verified receivers (in)."""

from __future__ import annotations

from fastapi import APIRouter

from api.schemas.common import ERRORS

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=ERRORS)
