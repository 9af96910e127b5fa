"""Typed custom properties: columns of an export that no mapping names are kept on the record
(`custom_fields`), each with the type its values share across the whole file, so that a number
stays a number for the models and a date sorts as a date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

TYPES = ("integer", "number", "boolean", "date", "datetime", "text")
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})
_INT = re.compile(r"^[+-]?\d{1,18}$")
_KEY = re.compile(r"[^a-z0-9]+")


def key_of(label: str) -> str:
    """A column's name as a property key: lower case, words joined by `_` ("Annual Revenue" ->
    "annual_revenue")."""
    return _KEY.sub("_", label.strip().lower()).strip("_")[:100] or "column"


def _number(v: str) -> float | None:
    try:
        f = float(v.replace(",", "")) if v.count(",") and "." in v else float(v)
    except ValueError:
        return None
    return f if f == f and abs(f) != float("inf") else None


def _datetime(v: str) -> datetime | None:
    try:
        d = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _date(v: str) -> date | None:
    if len(v) != 10:
        return None
    try:
        return date.fromisoformat(v)
    except ValueError:
        return None


def infer(values: Iterable[str | None]) -> str:
    """The narrowest type every non-empty value fits: integer, number, boolean, date,
    datetime, else text. A column with no value at all is text."""
    kinds = {"integer", "number", "boolean", "date", "datetime"}
    seen = False
    for raw in values:
        if raw is None or not raw.strip():
            continue
        seen = True
        v = raw.strip()
        if "integer" in kinds and not _INT.match(v):
            kinds.discard("integer")
        if "number" in kinds and _number(v) is None:
            kinds.discard("number")
        if "boolean" in kinds and v.lower() not in _TRUE | _FALSE:
            kinds.discard("boolean")
        if "date" in kinds and _date(v) is None:
            kinds.discard("date")
        if "datetime" in kinds and _datetime(v) is None:
            kinds.discard("datetime")
        if not kinds:
            return "text"
    if not seen:
        return "text"
    for t in TYPES:  # narrowest first; "0"/"1" columns are integers, not booleans
        if t in kinds:
            return t
    return "text"


def typed(raw: str | None, kind: str) -> Any:
    """One value as its column's type, JSON-ready (dates and times as ISO text, UTC)."""
    if raw is None or not raw.strip():
        return None
    v = raw.strip()
    if kind == "integer":
        return int(v)
    if kind == "number":
        return _number(v)
    if kind == "boolean":
        return v.lower() in _TRUE
    if kind == "date":
        return v
    if kind == "datetime":
        d = _datetime(v)
        return d.astimezone(UTC).isoformat().replace("+00:00", "Z") if d else v
    return v
