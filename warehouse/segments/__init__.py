"""Dynamic customer segments: criteria validation and compilation (the API validates with it)
and recalculation (the scheduled job runs it). See compiler.py for the rule tree."""

from warehouse.segments.compiler import (
    OPERATORS,
    SegmentCriteriaError,
    compile_criteria,
    validate_criteria,
)
from warehouse.segments.fields import FIELDS, SOURCE_TABLE
from warehouse.segments.recalc import RecalcResult, recalculate_all, recalculate_segment

__all__ = [
    "FIELDS",
    "OPERATORS",
    "SOURCE_TABLE",
    "RecalcResult",
    "SegmentCriteriaError",
    "compile_criteria",
    "recalculate_all",
    "recalculate_segment",
    "validate_criteria",
]
