"""Tickets enriched with CRM data; leads created from tickets."""

from __future__ import annotations

from fastapi import APIRouter

from api.schemas.common import ERRORS

router = APIRouter(prefix="/tickets", tags=["tickets"], responses=ERRORS)
