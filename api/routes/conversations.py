"""Sales conversation analysis: signals, and the deal updates they propose."""

from __future__ import annotations

from fastapi import APIRouter

from api.schemas.common import ERRORS

router = APIRouter(prefix="/conversations", tags=["conversations"], responses=ERRORS)
