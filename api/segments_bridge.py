"""The one place the API calls the shared segment compiler (`warehouse.segments`): its
`validate_criteria` decides, and its `SegmentCriteriaError(path, message)` becomes a 422."""

from __future__ import annotations

from typing import Any

from crm.errors import CRMError, CRMErrorCode
from warehouse.segments import SegmentCriteriaError, validate_criteria


def check_criteria(criteria: dict[str, Any]) -> None:
    try:
        validate_criteria(criteria)
    except SegmentCriteriaError as exc:
        path = getattr(exc, "path", "criteria")
        raise CRMError(
            CRMErrorCode.SEGMENT_CRITERIA_INVALID,
            str(exc),
            {"field": path if str(path).startswith("criteria") else f"criteria.{path}"},
        ) from None
    except (TypeError, ValueError) as exc:
        raise CRMError(CRMErrorCode.SEGMENT_CRITERIA_INVALID, str(exc), {"field": "criteria"}) from None
