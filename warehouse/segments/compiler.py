"""Segment criteria: validation of the JSON rule tree and its compilation to a parameterized
SQL WHERE clause over `analytics.dim_customers`.

Tree: `{"all": [node, ...]}`, `{"any": [node, ...]}`, `{"not": node}`, or a leaf
`{"field": <whitelisted column>, "op": <operator>, "value": ...}`. Operators: eq, ne, gt, gte,
lt, lte, in, between, contains, is_null, within_last_days (aliases: neq -> ne,
within_days -> within_last_days, as the simulator writes them).

User input never becomes SQL text: field names are looked up in `FIELDS` and emitted as quoted
identifiers from that table, operators map to fixed SQL fragments, and every value is a bind
parameter (`:p0`, `:p1`, ... for SQLAlchemy `text()`; casts use CAST(), never `::`).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from warehouse.segments.fields import FIELDS, REMOVED, Field, Kind

MAX_DEPTH = 12
MAX_NODES = 300
MAX_IN_VALUES = 1000
MAX_TEXT = 500
MAX_DAYS = 36_500
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

OP_ALIASES = {"neq": "ne", "within_days": "within_last_days"}
COMPARISONS = {"eq": "=", "ne": "IS DISTINCT FROM", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
OPERATORS = (*COMPARISONS, "in", "between", "contains", "is_null", "within_last_days")
ORDERED = {Kind.NUMBER, Kind.TIMESTAMP}
SQL_TYPE = {Kind.TEXT: "text", Kind.ENUM: "text", Kind.NUMBER: "numeric", Kind.TIMESTAMP: "timestamptz"}


class SegmentCriteriaError(ValueError):
    """Criteria the compiler refuses: `path` says where in the tree (e.g. `all[1].value`)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path or "criteria"
        self.message = message
        super().__init__(f"{self.path}: {message}")


def _sub(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _fail(path: str, message: str) -> SegmentCriteriaError:
    return SegmentCriteriaError(path, message)


class _Compiler:
    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.params: dict[str, Any] = {}
        self.nodes = 0

    def bind(self, value: Any) -> str:
        name = f"{self.prefix}p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def node(self, node: Any, path: str, depth: int) -> str:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _fail(path, f"too many conditions (at most {MAX_NODES})")
        if depth > MAX_DEPTH:
            raise _fail(path, f"nested too deeply (at most {MAX_DEPTH} levels)")
        if not isinstance(node, dict):
            raise _fail(path, "a condition must be an object")
        groups = [k for k in ("all", "any", "not") if k in node]
        if groups:
            if len(node) != 1:
                raise _fail(path, f"a group holds only its '{groups[0]}' key, found {sorted(node)}")
            key = groups[0]
            prefix = f"{path}.{key}" if path else key
            if key == "not":
                return f"NOT ({self.node(node['not'], prefix, depth + 1)})"
            children = node[key]
            if not isinstance(children, list) or not children:
                raise _fail(prefix, f"'{key}' needs a non-empty list of conditions")
            parts = [self.node(c, f"{prefix}[{i}]", depth + 1) for i, c in enumerate(children)]
            joiner = " AND " if key == "all" else " OR "
            return "(" + joiner.join(f"({p})" for p in parts) + ")"
        return self.leaf(node, path)

    def leaf(self, node: dict, path: str) -> str:
        unknown = set(node) - {"field", "op", "value"}
        if unknown:
            raise _fail(path, f"unknown keys {sorted(unknown)}: a condition has field, op and value")
        name = node.get("field")
        if isinstance(name, str) and name in REMOVED:
            raise _fail(_sub(path, "field"), f"field {name!r} is no longer offered: {REMOVED[name]}")
        if not isinstance(name, str) or name not in FIELDS:
            raise _fail(_sub(path, "field"), f"unknown field {name!r}; allowed: {', '.join(sorted(FIELDS))}")
        field = FIELDS[name]
        op = node.get("op")
        op = OP_ALIASES.get(op, op) if isinstance(op, str) else op
        if op not in OPERATORS:
            raise _fail(
                _sub(path, "op"), f"unknown operator {node.get('op')!r}; allowed: {', '.join(OPERATORS)}"
            )
        vpath = _sub(path, "value")
        col = f'"{field.name}"'  # from the whitelist, never from the input
        value = node.get("value")

        if op == "is_null":
            if value is None:
                value = True
            if not isinstance(value, bool):
                raise _fail(vpath, "is_null takes true or false")
            return f"{col} IS NULL" if value else f"{col} IS NOT NULL"
        if "value" not in node:
            raise _fail(vpath, f"operator {op} needs a value")
        if op in COMPARISONS:
            if op not in ("eq", "ne") and field.kind not in ORDERED:
                raise _fail(
                    _sub(path, "op"), f"{op} needs a number or date field, {field.name} is {field.kind}"
                )
            if field.kind == Kind.TEXT_ARRAY:
                raise _fail(_sub(path, "op"), f"{field.name} is a list: use contains")
            return f"{col} {COMPARISONS[op]} {self.typed(field, value, vpath)}"
        if op == "in":
            if field.kind == Kind.TEXT_ARRAY:
                raise _fail(_sub(path, "op"), f"{field.name} is a list: use contains")
            if not isinstance(value, list) or not value:
                raise _fail(vpath, "in needs a non-empty list")
            if len(value) > MAX_IN_VALUES:
                raise _fail(vpath, f"in takes at most {MAX_IN_VALUES} values")
            items = [self.check(field, v, f"{vpath}[{i}]") for i, v in enumerate(value)]
            return f"{col} = ANY(CAST({self.bind(items)} AS {SQL_TYPE[field.kind]}[]))"
        if op == "between":
            if field.kind not in ORDERED:
                raise _fail(
                    _sub(path, "op"), f"between needs a number or date field, {field.name} is {field.kind}"
                )
            if not isinstance(value, list) or len(value) != 2:
                raise _fail(vpath, "between needs [low, high]")
            low = self.typed(field, value[0], f"{vpath}[0]")
            high = self.typed(field, value[1], f"{vpath}[1]")
            return f"{col} BETWEEN {low} AND {high}"
        if op == "contains":
            if field.kind == Kind.TEXT_ARRAY:
                text = self.check(Field(field.name, Kind.TEXT), value, vpath)
                return f"{self.bind(text)} = ANY({col})"
            if field.kind not in (Kind.TEXT, Kind.ENUM):
                raise _fail(_sub(path, "op"), f"contains needs a text field, {field.name} is {field.kind}")
            text = self.check(Field(field.name, Kind.TEXT), value, vpath)
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return f"{col} ILIKE {self.bind('%' + escaped + '%')} ESCAPE '\\'"
        # within_last_days
        if field.kind != Kind.TIMESTAMP:
            raise _fail(
                _sub(path, "op"), f"within_last_days needs a date field, {field.name} is {field.kind}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_DAYS:
            raise _fail(vpath, f"within_last_days takes a number of days, 0 < days <= {MAX_DAYS}")
        days = self.bind(float(value))
        now = f":{self.prefix}now"
        return f"({col} >= {now} - CAST({days} AS double precision) * INTERVAL '1 day' AND {col} <= {now})"

    def typed(self, field: Field, value: Any, path: str) -> str:
        return f"CAST({self.bind(self.check(field, value, path))} AS {SQL_TYPE[field.kind]})"

    @staticmethod
    def check(field: Field, value: Any, path: str) -> Any:
        """The value as Python of the field's kind, or a clear error."""
        if field.kind == Kind.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
                raise _fail(path, f"{field.name} takes a number, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise _fail(path, f"{field.name} takes a finite number")
            return Decimal(str(value))
        if field.kind == Kind.TIMESTAMP:
            if not isinstance(value, str):
                raise _fail(path, f"{field.name} takes an ISO date or timestamp string, got {value!r}")
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise _fail(path, f"{field.name} takes an ISO date or timestamp, got {value!r}") from None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if not isinstance(value, str):
            raise _fail(path, f"{field.name} takes text, got {value!r}")
        if len(value) > MAX_TEXT:
            raise _fail(path, f"text longer than {MAX_TEXT} characters")
        if "\x00" in value:
            raise _fail(path, "text may not contain NUL characters")
        if field.kind == Kind.ENUM and value not in field.choices:
            raise _fail(path, f"{field.name} is one of {', '.join(field.choices)}, not {value!r}")
        return value


def validate_criteria(criteria: dict) -> None:
    """Raise SegmentCriteriaError when the tree is not a valid segment definition."""
    _Compiler().node(criteria, "", 0)


def compile_criteria(
    criteria: dict, tenant_id: str, *, now: datetime | date | None = None, prefix: str = ""
) -> tuple[str, dict[str, Any]]:
    """`(sql_where, params)` for `SELECT ... FROM analytics.dim_customers WHERE <sql_where>`,
    with SQLAlchemy `text()` named parameters. The clause is always scoped to `tenant_id`.
    `now` (default: the database's now()) anchors within_last_days. `prefix` starts every
    parameter name (`:<prefix>p0`, `:<prefix>tenant_id`), so that several segments' clauses can
    share one statement (the recalculation evaluates all of a tenant's segments in one scan);
    it must be a plain identifier chosen by the caller, never user input."""
    if prefix and not _PREFIX.fullmatch(prefix):
        raise ValueError(f"parameter prefix must be letters, digits and underscores: {prefix!r}")
    compiler = _Compiler(prefix)
    body = compiler.node(criteria, "", 0)
    params = compiler.params
    tenant = f"{prefix}tenant_id"
    params[tenant] = str(tenant_id)
    now_name = f"{prefix}now"
    if f":{now_name}" in body:
        if now is None:
            body = body.replace(f":{now_name}", "now()")
        else:
            if isinstance(now, date) and not isinstance(now, datetime):
                now = datetime(now.year, now.month, now.day, tzinfo=UTC)
            params[now_name] = now
            body = body.replace(f":{now_name}", f"CAST(:{now_name} AS timestamptz)")
    return f'"tenant_id" = CAST(:{tenant} AS uuid) AND ({body})', params
