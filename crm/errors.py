"""The seed's `CRMErrorCode` and `CRMError`, shared by the API, the CLI and the jobs.

The seed's seven codes come first; the rest are the ones an HTTP API, the model registry and
the jobs need on top of them (not found per entity, validation, conflicts, auth). Each code has one HTTP status, so a
client can rely on `{code, message, context}` plus the status alone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class CRMErrorCode(StrEnum):
    # the seed design's codes
    LEAD_NOT_FOUND = "LEAD_NOT_FOUND"
    DEAL_STAGE_INVALID = "DEAL_STAGE_INVALID"
    PIPELINE_NOT_FOUND = "PIPELINE_NOT_FOUND"
    SEGMENT_CALCULATION_FAILED = "SEGMENT_CALCULATION_FAILED"
    SCORING_SERVICE_UNAVAILABLE = "SCORING_SERVICE_UNAVAILABLE"
    INTEGRATION_SYNC_FAILED = "INTEGRATION_SYNC_FAILED"
    REVENUE_CALCULATION_ERROR = "REVENUE_CALCULATION_ERROR"
    # not found
    DEAL_NOT_FOUND = "DEAL_NOT_FOUND"
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    PRODUCT_NOT_FOUND = "PRODUCT_NOT_FOUND"
    SEGMENT_NOT_FOUND = "SEGMENT_NOT_FOUND"
    CAMPAIGN_NOT_FOUND = "CAMPAIGN_NOT_FOUND"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    API_KEY_NOT_FOUND = "API_KEY_NOT_FOUND"
    TICKET_NOT_FOUND = "TICKET_NOT_FOUND"
    NOT_FOUND = "NOT_FOUND"
    # bad input and state
    VALIDATION_ERROR = "VALIDATION_ERROR"
    REFERENCE_NOT_FOUND = "REFERENCE_NOT_FOUND"
    SEGMENT_CRITERIA_INVALID = "SEGMENT_CRITERIA_INVALID"
    PIPELINE_STAGES_INVALID = "PIPELINE_STAGES_INVALID"
    DUPLICATE = "DUPLICATE"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    INVALID_STATUS_TRANSITION = "INVALID_STATUS_TRANSITION"
    LEAD_ALREADY_CONVERTED = "LEAD_ALREADY_CONVERTED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    # auth and limits
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    RATE_LIMITED = "RATE_LIMITED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    # the model registry
    MODEL_NOT_FOUND = "MODEL_NOT_FOUND"
    PROMOTION_REFUSED = "PROMOTION_REFUSED"
    # data produced by other components that is not there (yet)
    ANALYTICS_UNAVAILABLE = "ANALYTICS_UNAVAILABLE"
    # the database cannot be reached (restarting, failing over): retry after a moment
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


HTTP_STATUS: dict[CRMErrorCode, int] = {
    CRMErrorCode.LEAD_NOT_FOUND: 404,
    CRMErrorCode.DEAL_STAGE_INVALID: 422,
    CRMErrorCode.PIPELINE_NOT_FOUND: 404,
    CRMErrorCode.SEGMENT_CALCULATION_FAILED: 500,
    CRMErrorCode.SCORING_SERVICE_UNAVAILABLE: 503,
    CRMErrorCode.INTEGRATION_SYNC_FAILED: 502,
    CRMErrorCode.REVENUE_CALCULATION_ERROR: 503,
    CRMErrorCode.DEAL_NOT_FOUND: 404,
    CRMErrorCode.CUSTOMER_NOT_FOUND: 404,
    CRMErrorCode.TICKET_NOT_FOUND: 404,
    CRMErrorCode.PRODUCT_NOT_FOUND: 404,
    CRMErrorCode.SEGMENT_NOT_FOUND: 404,
    CRMErrorCode.CAMPAIGN_NOT_FOUND: 404,
    CRMErrorCode.USER_NOT_FOUND: 404,
    CRMErrorCode.API_KEY_NOT_FOUND: 404,
    CRMErrorCode.NOT_FOUND: 404,
    CRMErrorCode.VALIDATION_ERROR: 422,
    CRMErrorCode.REFERENCE_NOT_FOUND: 422,
    CRMErrorCode.SEGMENT_CRITERIA_INVALID: 422,
    CRMErrorCode.PIPELINE_STAGES_INVALID: 422,
    CRMErrorCode.DUPLICATE: 409,
    CRMErrorCode.VERSION_CONFLICT: 409,
    CRMErrorCode.INVALID_STATUS_TRANSITION: 409,
    CRMErrorCode.LEAD_ALREADY_CONVERTED: 409,
    CRMErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    CRMErrorCode.UNAUTHENTICATED: 401,
    CRMErrorCode.FORBIDDEN: 403,
    CRMErrorCode.RATE_LIMITED: 429,
    CRMErrorCode.PAYLOAD_TOO_LARGE: 413,
    CRMErrorCode.MODEL_NOT_FOUND: 404,
    CRMErrorCode.PROMOTION_REFUSED: 409,
    CRMErrorCode.ANALYTICS_UNAVAILABLE: 503,
    CRMErrorCode.DATABASE_UNAVAILABLE: 503,
    CRMErrorCode.INTERNAL_ERROR: 500,
}


class CRMError(Exception):
    """`CRMError(code, message, context)`: the seed's error class; `status` is its HTTP status."""

    def __init__(self, code: CRMErrorCode, message: str, context: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.context = context or {}

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.code]

    def to_dict(self) -> dict[str, Any]:
        return {"code": str(self.code), "message": self.message, "context": self.context}

    def __repr__(self) -> str:
        return f"CRMError({self.code!s}, {self.message!r}, {self.context!r})"
