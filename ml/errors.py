"""The seed design's CRM error codes that ML raises (CRMError with a code and context)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class CRMErrorCode(StrEnum):
    LEAD_NOT_FOUND = "LEAD_NOT_FOUND"
    SCORING_SERVICE_UNAVAILABLE = "SCORING_SERVICE_UNAVAILABLE"
    REVENUE_CALCULATION_ERROR = "REVENUE_CALCULATION_ERROR"
    MODEL_NOT_FOUND = "MODEL_NOT_FOUND"
    PROMOTION_REFUSED = "PROMOTION_REFUSED"


class CRMError(Exception):
    """An error with a machine-readable code (the seed's `CRMError`)."""

    def __init__(self, code: CRMErrorCode, message: str, context: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.context = context or {}
