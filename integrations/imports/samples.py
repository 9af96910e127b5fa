"""Real public data sets that ship inside installed wheels, as the export files a user would
import (nothing is downloaded): CDNOW's order history, from the `lifetimes` wheel.

CDNOW master: 23,570 customers of an online music store who first bought in Jan-Mar 1997,
69,659 orders to June 1998 (customer id, day, CDs, dollars). Its file in the wheel is
whitespace-separated; `cdnow_csv` writes it as the CSV a shop's export would be.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

CDNOW_TENANT = "cdnow-music"
CDNOW_NAME = "CDNOW music store (real data, 1997-98)"
CDNOW_COLUMNS = {
    "customer": "customer_id",
    "timestamp": "date",
    "amount": "dollar_value",
    "quantity": "number_of_cds",
}
"""The transactions fields of the CSV's columns (`crm import transactions --column ...`)."""


def cdnow_source() -> Path:
    """CDNOW_master.txt inside the installed lifetimes wheel (found without importing
    lifetimes.datasets, which needs pkg_resources)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the lifetimes package is not installed (make install)")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "CDNOW_master.txt"


def cdnow_csv(folder: Path) -> Path:
    """CDNOW as a CSV in `folder`: customer_id, date (YYYYMMDD), number_of_cds, dollar_value."""
    lines = cdnow_source().read_text().splitlines()
    out = folder / "cdnow_transactions.csv"
    out.write_text("\n".join(",".join(line.split()) for line in lines if line.strip()) + "\n")
    return out
