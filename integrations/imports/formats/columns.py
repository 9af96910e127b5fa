"""Column tables for the CRM export formats (HubSpot, Salesforce): one place says which column
of another system's export becomes which record field, so an import and a later sync share it.

A `Field` names the columns it reads (each `Col` under every name the export may give it: the
label an export shows and the internal property or API name) and how their texts become the
value. `file_map` resolves the table against one file's header into a `FileMap`: a column may
come under any of its names (case-insensitive); a required field whose column is absent makes
the whole file a bad row; columns no field reads stay custom properties.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from crm.enums import DealActivityType, LeadActivityType
from crm.schema.pipelines import StageDefinition
from integrations.imports.formats.base import FileMap, Getter, Located, Parsed, Row, parse_time, sha256
from integrations.imports.records import BadRow, Record


@dataclass(frozen=True)
class Col:
    """One column of an export, by every name it goes by (the first is the one to report)."""

    names: tuple[str, ...]


def col(*names: str) -> Col:
    return Col(names)


@dataclass(frozen=True)
class Field:
    """A record field from columns: `get` turns their texts (None when blank or absent) into the
    value; without it the field is the first column's text. `keep`: the columns also stay custom
    properties (a mapping that loses detail, such as a vendor status folded into the CRM's)."""

    cols: tuple[Col, ...]
    get: Callable[..., Any] | None = None
    required: bool = False
    keep: bool = False


def field(
    *cols: Col | str, get: Callable[..., Any] | None = None, required: bool = False, keep: bool = False
) -> Field:
    return Field(tuple(c if isinstance(c, Col) else Col((c,)) for c in cols), get, required, keep)


Fields = Mapping[str, Field]


def header_of(path: Path) -> list[str]:
    """A file's column names without reading its rows (as `read_rows` reads them)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import polars as pl

        return pl.scan_parquet(path).collect_schema().names()
    with path.open(encoding="utf-8-sig", newline="") as f:
        sample = f.read(65_536)
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [h.strip() for h in next(csv.reader(io.StringIO(sample), dialect), [])]


def present(header: Iterable[str], c: Col) -> str | None:
    """The header's name for column `c`, if the file has it."""
    by_lower = {h.lower(): h for h in header}
    for n in c.names:
        if n.lower() in by_lower:
            return by_lower[n.lower()]
    return None


def has_any(header: Iterable[str], *cols: Col) -> bool:
    h = list(header)
    return any(present(h, c) for c in cols)


def _getter(get: Callable[..., Any] | None, names: list[str | None]) -> Getter:
    shown = ", ".join(n for n in names if n)

    def value(row: Row) -> Any:
        texts = [row.get(n) if n else None for n in names]
        try:
            return get(*texts) if get else texts[0]
        except ValueError as exc:
            raise ValueError(f"{shown}: {exc}") from None

    return value


def file_map(
    header: list[str],
    record: type[Record],
    object: str,
    fields: Fields,
    *,
    constants: Mapping[str, Any] | None = None,
    custom_entity: str | None = None,
    ignore: Iterable[str] = (),
    skip: Getter | None = None,
) -> FileMap:
    """`fields` resolved against `header`: what `read_file` needs for this one file."""
    out: dict[str, str | Getter] = {}
    mapped: set[str] = {h for h in header if h.lower() in {i.lower() for i in ignore}}
    kept: set[str] = set()
    for name, f in fields.items():
        actual = [present(header, c) for c in f.cols]
        # every name a mapped column goes by is mapped (an export with both label and name)
        for c in f.cols:
            mapped |= {h for h in header if h.lower() in {n.lower() for n in c.names}}
        if not any(actual):
            if f.required:
                out[name] = f.cols[0].names[0]
            continue
        if f.get is None and len(actual) == 1 and not f.keep:
            out[name] = str(actual[0])
            continue
        out[name] = _getter(f.get, actual)
        if f.keep:
            kept |= {a for a in actual if a}
    named = {v for v in out.values() if isinstance(v, str)}
    return FileMap(
        record=record,
        object=object,
        fields=out,
        constants=dict(constants or {}),
        custom_entity=custom_entity,
        ignore=frozenset(mapped - kept - named),
        skip=skip,
    )


# --- converters: a column's text (None when blank) -> a field's value ---------------------------


def time(v: str | None) -> datetime | None:
    return parse_time(v)


def first_time(*values: str | None) -> datetime | None:
    """The first of several time columns that has a value (activity date, else creation)."""
    return next((parse_time(v) for v in values if v), None)


def integer(v: str | None) -> int | None:
    """A count: `50`, `50.0` or `1,200`."""
    if v is None:
        return None
    n = number(v)
    if n is None or n != n.to_integral_value():
        raise ValueError(f"not a whole number: {v!r}")
    return int(n)


def number(v: str | None) -> Decimal | None:
    if v is None:
        return None
    t = v.strip().replace(",", "")
    try:
        n = Decimal(t)
    except InvalidOperation:
        raise ValueError(f"not a number: {v!r}") from None
    if not n.is_finite():
        raise ValueError(f"not a number: {v!r}")
    return n


def money(v: str | None) -> Decimal:
    """An amount to the cent; blank is 0 (an opportunity or deal without an amount yet)."""
    n = number(v)
    return Decimal(0) if n is None else n.quantize(Decimal("0.01"))


def amount(v: str | None) -> Decimal | None:
    """An amount to the cent, None when blank (a campaign's budget)."""
    return None if v is None else money(v)


def percent(v: str | None) -> int | None:
    """A probability given as 0-100 (`20`, `20.0`, `20%`)."""
    n = number(v.strip().rstrip("%")) if v else None
    return None if n is None else round(n)


def share(v: str | None) -> int | None:
    """A probability given as a fraction 0-1 (HubSpot's `0.2`), or as `20%`, as 0-100."""
    if v is None:
        return None
    if v.strip().endswith("%"):
        return percent(v)
    n = number(v)
    assert n is not None
    return round(n * 100) if n <= 1 else round(n)


def boolean(v: str | None) -> bool:
    return v is not None and v.strip().lower() in ("true", "1", "yes", "y")


_SEP = re.compile(r"[;,]")


def first_id(*values: str | None) -> str | None:
    """The first id of the first column that has one (association columns list `1;2;3`)."""
    for v in values:
        if v:
            ids = [i.strip() for i in _SEP.split(v) if i.strip()]
            if ids:
                return ids[0]
    return None


def text(*values: str | None) -> str | None:
    """The non-blank texts joined (`subject: body`), None when all are blank."""
    parts = [v.strip() for v in values if v and v.strip()]
    return ": ".join(parts) or None


def lookup(table: Mapping[str, Any]) -> Callable[[str | None], Any]:
    """A vendor value -> the CRM's, matched case-insensitively ignoring spaces, `_` and `-`;
    an unknown value gives None (the record's default)."""
    norm = {_key(k): v for k, v in table.items()}
    return lambda v: norm.get(_key(v)) if v else None


def _key(v: str) -> str:
    return re.sub(r"[\s_\-]+", "", v.strip().lower())


def name_tokens(path: Path) -> list[str]:
    """The words of a file's name: `hubspot-crm-exports-all-deals-2024.csv` -> [..., 'deals', ...]."""
    return [t for t in re.split(r"[^a-z0-9]+", path.stem.lower()) if t]


# --- activities -------------------------------------------------------------------------------

ACTIVITY_TYPES: dict[str, tuple[LeadActivityType, DealActivityType]] = {
    "call": (LeadActivityType.CALL_MADE, DealActivityType.CALL_MADE),
    "email": (LeadActivityType.EMAIL_SENT, DealActivityType.EMAIL_SENT),
    "meeting": (LeadActivityType.MEETING_SCHEDULED, DealActivityType.MEETING_SCHEDULED),
    "note": (LeadActivityType.NOTE_ADDED, DealActivityType.NOTE_ADDED),
}
"""A kind of activity -> its (lead, deal) activity type; any other kind (a to-do) is a note."""


def activity_type(kind: str, on_deal: bool) -> LeadActivityType | DealActivityType:
    lead, deal = ACTIVITY_TYPES.get(kind, ACTIVITY_TYPES["note"])
    return deal if on_deal else lead


# --- pipelines ------------------------------------------------------------------------------


def stage(
    order: int, name: str, probability: int, *, won: bool = False, lost: bool = False
) -> StageDefinition:
    return {"name": name, "order": order, "probability": probability, "is_won": won, "is_lost": lost}


def with_stages(base: list[StageDefinition], seen: Iterable[StageDefinition]) -> list[StageDefinition]:
    """`base` and the stages `seen` in the data that it lacks, in order of first appearance:
    open ones before the first closed stage of `base`, closed ones at the end; orders renumbered."""
    known = {s["name"] for s in base}
    extra_open: list[StageDefinition] = []
    extra_closed: list[StageDefinition] = []
    for s in seen:
        if s["name"] in known:
            continue
        known.add(s["name"])
        (extra_closed if s["is_won"] or s["is_lost"] else extra_open).append(s)
    cut = next((i for i, s in enumerate(base) if s["is_won"] or s["is_lost"]), len(base))
    stages = base[:cut] + extra_open + base[cut:] + extra_closed
    return [{**s, "order": i + 1} for i, s in enumerate(stages)]


def merge(out: Parsed, part: Parsed) -> None:
    """`part` added to `out`; a pipeline both name keeps the stages of either."""
    pipelines = {name: with_stages(out.pipelines.get(name, []), st) for name, st in part.pipelines.items()}
    out.extend(part)
    out.pipelines |= pipelines


# --- files -------------------------------------------------------------------------------------


def located(record: Record, path: Path, line: int) -> Located:
    return Located(record, str(path), line)


def unknown_file(path: Path, system: str, objects: str) -> Parsed:
    """A file no name or column tells apart: one bad row, at its header."""
    out = Parsed()
    out.files.append({"path": str(path), "sha256": sha256(path), "rows": 0, "object": None})
    reason = (
        f"not a {system} export this import reads: neither the file name nor the columns "
        f"tell which of {objects} it holds"
    )
    out.bad.append(BadRow(file=str(path), line=1, reason=reason))
    return out
