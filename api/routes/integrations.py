"""External CRM sync: connections, runs, the retry queue."""

from __future__ import annotations

from fastapi import APIRouter

from api.schemas.common import ERRORS

router = APIRouter(prefix="/integrations", tags=["integrations"], responses=ERRORS)
