"""What every format shares: reading CSV or Parquet rows with their line numbers, typing the
columns no mapping names as custom properties, and building records with the reason a row is
bad.

A format describes each file as a `FileMap`: the record class, the column each record field
comes from (or a function of the row), and constants. `read_file` does the rest.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crm.schema.pipelines import StageDefinition
from integrations.imports import custom
from integrations.imports.records import BadRow, Record

Row = Mapping[str, str | None]
Getter = Callable[[Row], Any]


@dataclass(frozen=True)
class Located:
    """A record and where it was read."""

    record: Record
    file: str
    line: int


@dataclass(frozen=True)
class PropertyDef:
    """A custom property: the crm table, its key, its type and the column it came from."""

    entity: str
    key: str
    type: str
    label: str


@dataclass
class Parsed:
    """Everything a format read from its files."""

    records: list[Located] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    properties: list[PropertyDef] = field(default_factory=list)
    pipelines: dict[str, list[StageDefinition]] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: Parsed) -> None:
        self.records += other.records
        self.bad += other.bad
        self.properties += other.properties
        self.pipelines |= other.pipelines
        self.files += other.files


@dataclass(frozen=True)
class FileMap:
    """How the rows of one file become records.

    `fields`: record field -> a column name (its text, blank as None) or a getter of the row.
    `constants`: record fields every record of the file gets. `custom_entity`: the crm table
    whose custom properties the unnamed columns become (None: they are dropped). `skip`: a
    getter that returns True for a row to pass over silently (a HubSpot association row...).
    """

    record: type[Record]
    object: str
    fields: Mapping[str, str | Getter]
    constants: Mapping[str, Any] = field(default_factory=dict)
    custom_entity: str | None = None
    ignore: frozenset[str] = frozenset()
    skip: Getter | None = None


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str | None]]]]:
    """(header, [(line, row)]) of a CSV (UTF-8, a BOM allowed; `,` `;` or tab, sniffed) or
    Parquet file; every value as text, blank as None. A CSV's line is the physical line the row
    starts on (a quoted value may span lines); a Parquet row's line is its index + 2."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import polars as pl

        df = pl.read_parquet(path)
        header = df.columns
        text = df.select(pl.all().cast(pl.Utf8))
        prows = [
            (i + 2, {k: (v if v is None or v.strip() else None) for k, v in r.items()})
            for i, r in enumerate(text.iter_rows(named=True))
        ]
        return header, prows
    raw = path.read_bytes().decode("utf-8-sig")
    sample = raw[:65_536]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(raw, newline=""), dialect)
    header = [h.strip() for h in next(reader, [])]
    rows: list[tuple[int, dict[str, str | None]]] = []
    start = reader.line_num + 1
    for values in reader:
        if not any(v.strip() for v in values):
            start = reader.line_num + 1
            continue
        if len(values) != len(header):
            rows.append((start, {"__error__": f"{len(values)} values for {len(header)} columns"}))
        else:
            rows.append((start, {h: (v if v.strip() else None) for h, v in zip(header, values, strict=True)}))
        start = reader.line_num + 1
    return header, rows


def reason(exc: ValidationError) -> str:
    """A pydantic error as one line: `field: message; field: message`."""
    parts = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "row"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def parse_time(value: str | None) -> datetime | None:
    """The time formats exports use: ISO 8601, `YYYY-MM-DD HH:MM[:SS]`, `YYYYMMDD`, US
    `MM/DD/YYYY [HH:MM[ AM]]`, or milliseconds since the epoch (HubSpot's API values). Naive
    times are UTC. ValueError names the value when none fits."""
    if value is None or not value.strip():
        return None
    v = value.strip()
    if v.isdigit() and len(v) >= 12:
        return datetime.fromtimestamp(int(v) / 1000, tz=UTC)
    d: datetime | None
    try:
        d = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        d = None
        for fmt in ("%Y%m%d", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y"):
            try:
                d = datetime.strptime(v, fmt)
                break
            except ValueError:
                continue
        if d is None:
            raise ValueError(f"not a date or time: {v!r}") from None
    assert d is not None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def column(name: str) -> Getter:
    return lambda row: row.get(name)


@dataclass(frozen=True)
class TimeColumn:
    """A getter parsing column `column` with `parse_time` (the column counts as mapped)."""

    column: str

    def __call__(self, row: Row) -> datetime | None:
        return parse_time(row.get(self.column))


def time_of(name: str) -> TimeColumn:
    return TimeColumn(name)


Table = tuple[list[str], list[tuple[int, dict[str, str | None]]]]


def read_file(path: Path, fmap: FileMap, property_prefix: str = "", table: Table | None = None) -> Parsed:
    """Every row of `path` (or of `table`, its rows already read) as a record of `fmap.record`,
    or a bad row with its reason."""
    out = Parsed()
    header, rows = table or read_rows(path)
    out.files.append({"path": str(path), "sha256": sha256(path), "rows": len(rows), "object": fmap.object})
    named = {c if isinstance(c, str) else getattr(c, "column", None) for c in fmap.fields.values()}
    named |= set(fmap.ignore)
    extra = [h for h in header if h not in named] if fmap.custom_entity else []
    kinds = {h: custom.infer(r.get(h) for _, r in rows) for h in extra}
    keys = {h: property_prefix + custom.key_of(h) for h in extra}
    if fmap.custom_entity:
        out.properties += [PropertyDef(fmap.custom_entity, keys[h], kinds[h], h) for h in extra]
    missing = sorted(c for c in named if c is not None and c not in header and c not in fmap.ignore)
    if missing:
        out.bad.append(BadRow(file=str(path), line=1, reason=f"missing columns: {', '.join(missing)}"))
        return out
    for line, row in rows:
        if "__error__" in row:
            out.bad.append(BadRow(file=str(path), line=line, reason=str(row["__error__"])))
            continue
        if fmap.skip is not None and fmap.skip(row):
            continue
        try:
            values: dict[str, Any] = {"object": fmap.object, **fmap.constants}
            for name, src in fmap.fields.items():
                v = row.get(src) if isinstance(src, str) else src(row)
                if v is not None:
                    values[name] = v
            if extra:
                values["custom"] = {
                    keys[h]: custom.typed(row.get(h), kinds[h]) for h in extra if row.get(h) is not None
                }
            out.records.append(Located(fmap.record(**values), str(path), line))
        except ValidationError as exc:
            out.bad.append(BadRow(file=str(path), line=line, reason=reason(exc)))
        except (ValueError, TypeError, ArithmeticError) as exc:
            out.bad.append(BadRow(file=str(path), line=line, reason=str(exc)))
    return out


def rows_of(path: Path) -> Iterator[tuple[int, dict[str, str | None]]]:
    """The rows of a file, for a format that needs to look before it maps (stage history)."""
    return iter(read_rows(path)[1])
