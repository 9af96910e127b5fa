"""A generic transactions file (an order history): customer, timestamp, amount, and optionally
product, quantity and a transaction id, one row per order.

Column names are taken as given (`customer`, `timestamp`, `amount`, `product`, `quantity`,
`id`) unless `columns` renames them (`{"customer": "customer_id", "amount": "dollars"}`).
Without an id column, a transaction's id is the hash of its customer, time, amount and product
plus its rank among identical rows of the file, so re-importing the same file finds the same
transactions. Other columns become custom properties of the orders (deals).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from integrations.imports.formats.base import FileMap, Getter, Parsed, read_file, read_rows, time_of
from integrations.imports.records import TransactionRecord

SYSTEM = "transactions"
FIELDS = ("customer", "timestamp", "amount", "product", "quantity", "id")
REQUIRED = ("customer", "timestamp", "amount")
ID_PARTS = ("customer", "timestamp", "amount", "product")


def read(paths: list[Path], columns: Mapping[str, str] | None = None) -> Parsed:
    """Every row of every file as a TransactionRecord (object `transaction`) of the customer
    it names (object `customer`)."""
    unknown = set(columns or {}) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown transaction fields {sorted(unknown)}: the fields are {', '.join(FIELDS)}")
    cols = {f: f for f in FIELDS} | dict(columns or {})
    out = Parsed()
    for path in paths:
        header, rows = read_rows(path)
        present = {f: c for f, c in cols.items() if c in header or f in REQUIRED}
        fields: dict[str, str | Getter] = {
            "customer_ref": present["customer"],
            "at": time_of(present["timestamp"]),
            "amount": present["amount"],
        }
        for optional in ("product", "quantity"):
            if optional in present:
                fields[optional] = present[optional]
        if "id" in present:
            fields["external_id"] = present["id"]
        else:
            seen: Counter[str] = Counter()
            for _, row in rows:
                key = "\x1f".join(str(row.get(present[f]) or "") for f in ID_PARTS if f in present)
                seen[key] += 1
                row["\x00id"] = hashlib.sha256(f"{key}\x1f{seen[key]}".encode()).hexdigest()[:32]
            fields["external_id"] = lambda row: row.get("\x00id")
        fmap = FileMap(TransactionRecord, "transaction", fields, custom_entity="deals")
        out.extend(read_file(path, fmap, table=(header, rows)))
    return out
