"""The one place the API calls the shared segment compiler (issue 4 owns warehouse.segments).

Until `warehouse.segments` is in the checkout, criteria get a structural check here; with it,
`warehouse.segments.validate_criteria` decides (same `SegmentCriteriaError(path, message)`)."""

from __future__ import annotations

from typing import Any

from crm.errors import CRMError, CRMErrorCode

try:  # pragma: no cover - depends on the branches merged
    from warehouse.segments import SegmentCriteriaError, validate_criteria

    HAVE_COMPILER = True
except ImportError:  # pragma: no cover
    HAVE_COMPILER = False

    class SegmentCriteriaError(ValueError):  # type: ignore[no-redef]
        def __init__(self, path: str, message: str) -> None:
            super().__init__(f"{path}: {message}")
            self.path = path
            self.message = message

    def validate_criteria(criteria: dict[str, Any]) -> None:  # type: ignore[misc]
        """Fallback: a non-empty object whose rule list (if any) is a list of objects."""
        if not isinstance(criteria, dict) or not criteria:
            raise SegmentCriteriaError("criteria", "must be a non-empty object")
        for key in ("all", "any", "rules", "conditions"):
            if key in criteria and not (
                isinstance(criteria[key], list) and all(isinstance(r, dict) for r in criteria[key])
            ):
                raise SegmentCriteriaError(f"criteria.{key}", "must be a list of objects")


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
