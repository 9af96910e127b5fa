"""Dynamic customer segments: criteria validation and compilation (the API validates with it)
and recalculation (the scheduled job runs it for every segment, the event-driven refresh for the
customers new events touched, the stale-segment sensor for the segments asked for or failed). See compiler.py for the rule tree."""

from warehouse.segments.compiler import (
    OPERATORS,
    SegmentCriteriaError,
    compile_criteria,
    validate_criteria,
)
from warehouse.segments.fields import FIELDS, SOURCE_TABLE
from warehouse.segments.recalc import (
    RETRY_AFTER,
    RecalcResult,
    due_segments,
    recalculate_all,
    recalculate_customers,
    recalculate_segment,
)

__all__ = [
    "FIELDS",
    "OPERATORS",
    "RETRY_AFTER",
    "SOURCE_TABLE",
    "RecalcResult",
    "SegmentCriteriaError",
    "compile_criteria",
    "due_segments",
    "recalculate_all",
    "recalculate_customers",
    "recalculate_segment",
    "validate_criteria",
]
